"""Members' logits computed once, then model selection on them.

In the spirit of scikit-learn's ``metric="precomputed"``:
:func:`precompute_logits` runs every member once over the validation inputs
(a Dataset, images, anything the members accept) and returns the logits side by
side as one array ``X`` with one stand-in member per real member
(:class:`PrecomputedMember`, which reads its own columns of that ``X``). Duos,
baselines, ``cross_validate`` and ``GridSearchCV`` then work on ``X`` with the
same estimator API, in milliseconds per fit. :func:`restore_members` turns a
fitted estimator over stand-ins back into the same fitted estimator over the
real members, for predictions on new inputs.
"""

import copy

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted, validate_data

from skduo._outputs._cache import cached_member_logits
from skduo._outputs._inputs import dataset_labels, is_dataset
from skduo._outputs._logit_ops import log_softmax, softmax
from skduo._outputs._member import member_classes
from skduo.utils._arrays import float_dtype

__all__ = ["PrecomputedMember", "precompute_logits", "restore_members"]


class PrecomputedMember(ClassifierMixin, BaseEstimator):
    """A member whose logits are columns of a precomputed array.

    Made by :func:`precompute_logits`; it stands in for ``member`` wherever a
    duo or baseline takes a member, with the precomputed array as ``X``.

    Parameters
    ----------
    member : estimator
        The real (fitted) member; kept for :func:`restore_members`.
    start, stop : int
        Its logits are ``X[:, start:stop]``.
    classes : array-like of shape (stop - start,)
        The label of each of those columns.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        ``classes``.
    n_features_in_ : int
        Number of columns of the precomputed array.

    See Also
    --------
    precompute_logits : Build the array and the stand-ins.

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.torch import PrecomputedMember
    >>> X = np.array([[2.0, 0.0, 0.5, 1.0]])
    >>> m = PrecomputedMember(None, start=2, stop=4, classes=[0, 1]).fit(X)
    >>> m.decision_function(X).tolist(), m.predict(X).tolist()
    ([[0.5, 1.0]], [1])
    """

    def __init__(self, member, *, start, stop, classes):
        self.member = member
        self.start = start
        self.stop = stop
        self.classes = classes

    def fit(self, X, y=None):
        """Record the width of the precomputed array; returns self.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns)
            The precomputed array.
        y : ignored
            Present for API consistency.

        Returns
        -------
        self : PrecomputedMember
        """
        classes = np.asarray(self.classes)
        if classes.ndim != 1 or len(classes) != self.stop - self.start:
            raise ValueError(
                f"classes has {classes.size} labels for columns {self.start}:"
                f"{self.stop}."
            )
        X = validate_data(self, X, reset=True, dtype=None)
        if self.stop > X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} columns; this member reads {self.start}:"
                f"{self.stop}. Pass the array made by precompute_logits."
            )
        self.classes_ = classes
        return self

    def __sklearn_clone__(self):
        # fitted stand-ins are kept by clone (as FrozenEstimator), so that grid
        # searches over members need no wrapping
        if hasattr(self, "classes_"):
            return self
        return super().__sklearn_clone__()

    def decision_function(self, X):
        """The member's logits: ``X[:, start:stop]``, a view of ``X``.

        float32 and float64 columns are returned as they are, read-only (no
        copy: a duo reads them in place); float16 as float32, other dtypes as
        float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns)
            The precomputed array (or rows of it).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=None)
        z = np.asarray(X[:, self.start : self.stop], dtype=float_dtype(X.dtype))
        if not z.flags.owndata:
            z = z.view()
            z.flags.writeable = False  # a view of the caller's X
        return z

    def predict_proba(self, X):
        """Softmax of the member's logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns)
            The precomputed array.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return softmax(self.decision_function(X))

    def predict_log_proba(self, X):
        """Log-softmax of the member's logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns)
            The precomputed array.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return log_softmax(self.decision_function(X))

    def predict(self, X):
        """The member's predicted labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_columns)
            The precomputed array.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _names(members):
    if isinstance(members, dict):
        return list(members.items())
    if isinstance(members, (list, tuple)):
        return [(f"member {i}", m) for i, m in enumerate(members)]
    raise TypeError(
        "members must be a dict {name: member} or a list of members; got "
        f"{type(members).__name__}."
    )


def precompute_logits(members, X, *, verbose=True, response_method="auto"):
    """Run each member once over ``X``; logits side by side plus stand-ins.

    The explicit route for inputs the automatic logits cache cannot key by
    content (a ``torch.utils.data.Dataset``, a list of files), or whenever the
    members are expensive: each member runs over each row of ``X`` exactly once
    (with a progress bar), then duos and baselines are fitted,
    cross-validated and grid-searched on the returned array with the usual
    estimator API, and :func:`restore_members` gives the fitted estimator over
    the real members.

    Parameters
    ----------
    members : dict of {str: estimator} or list of estimators
        Fitted members (e.g. from :func:`skduo.torch.as_member`).
    X : array-like, tensor, dict of arrays or Dataset
        Their (validation) input, as the duo would take it.
    verbose : bool, default=True
        Show a progress bar per torch member.
    response_method : str, default='auto'
        How each member's outputs become logits, as in
        :class:`~skduo.DuoClassifier`.

    Returns
    -------
    result : Bunch
        - ``X``: ndarray of shape (n_samples, sum of the members' class
          counts), the logits side by side (float32 when that loses nothing);
          pass it as ``X`` to the stand-ins' estimators.
        - ``members``: the stand-ins (:class:`PrecomputedMember`), in the
          structure of ``members`` (a dict or a list).
        - ``y``: the labels read from a Dataset ``X`` (None for other inputs).

    See Also
    --------
    restore_members : Back to the real members.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn.model_selection import cross_val_score, train_test_split
    >>> from skduo import DuoClassifier
    >>> from skduo.torch import precompute_logits, restore_members
    >>> X, y = load_digits(return_X_y=True)
    >>> X_tr, X_val, y_tr, y_val = train_test_split(X, y, random_state=0)
    >>> large = LogisticRegression(max_iter=2000).fit(X_tr, y_tr)
    >>> small = GaussianNB().fit(X_tr, y_tr)
    >>> pre = precompute_logits({"large": large, "small": small}, X_val)
    >>> pre.X.shape
    (450, 20)
    >>> duo = DuoClassifier(pre.members["large"], pre.members["small"])
    >>> scores = cross_val_score(duo, pre.X, y_val, scoring="neg_log_loss")
    >>> real = restore_members(duo.fit(pre.X, y_val))
    >>> real.large_ is large, real.predict_proba(X_val[:2]).shape
    (True, (2, 10))
    """
    named = _names(members)
    if not named:
        raise ValueError("members is empty.")
    blocks, stand_ins, start = [], [], 0
    for name, member in named:
        classes = member_classes(member, name)
        z = cached_member_logits(
            member,
            X,
            classes,
            method=response_method,
            name=name,
            verbose=verbose,
            warn_saturation=True,
        )
        blocks.append(z)
        stand_ins.append(
            (
                name,
                PrecomputedMember(
                    member, start=start, stop=start + z.shape[1], classes=classes
                ),
            )
        )
        start += z.shape[1]
    Z = np.hstack(blocks)
    Z32 = Z.astype(np.float32)
    if np.array_equal(Z32, Z):
        Z = Z32
    for _, stand_in in stand_ins:
        stand_in.fit(Z)
    if isinstance(members, dict):
        out = dict(stand_ins)
    else:
        out = type(members)(s for _, s in stand_ins)
    labels = dataset_labels(X) if is_dataset(X) else None
    return Bunch(X=Z, members=out, y=labels)


def _swap(value, found):
    if isinstance(value, PrecomputedMember):
        found.append(value)
        return value.member
    if isinstance(value, Bunch):
        return Bunch(**{k: _swap(v, found) for k, v in value.items()})
    if isinstance(value, dict):
        return type(value)((k, _swap(v, found)) for k, v in value.items())
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_swap(v, found) for v in value)
    return value


def restore_members(estimator):
    """A fitted estimator over stand-ins, now over the real members.

    Parameters
    ----------
    estimator : fitted DuoClassifier, TemperatureScalingClassifier or \
WeightedEnsembleClassifier
        Fitted on ``precompute_logits(...).X`` with
        :class:`PrecomputedMember` members (e.g. a grid search's
        ``best_estimator_``).

    Returns
    -------
    estimator
        A new fitted estimator of the same type, with the same weights,
        classes and fitted attributes, whose members (parameters and fitted
        attributes) are the real members; it takes the real inputs. The given
        estimator is not modified.

    Raises
    ------
    ValueError
        If the estimator holds no stand-in members.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo import TemperatureScalingClassifier
    >>> from skduo.torch import precompute_logits, restore_members
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=1000).fit(X[::2], y[::2])
    >>> pre = precompute_logits([model], X[1::2])
    >>> ts = TemperatureScalingClassifier(pre.members[0]).fit(pre.X, y[1::2])
    >>> real = restore_members(ts)
    >>> real.estimator_ is model, real.temperature_ == ts.temperature_
    (True, True)
    """
    check_is_fitted(estimator)
    found = []
    new = copy.copy(estimator)
    new.__dict__ = {k: _swap(v, found) for k, v in vars(estimator).items()}
    if not found:
        raise ValueError(
            f"{type(estimator).__name__} has no PrecomputedMember members: it was "
            "not fitted on precompute_logits(...).X."
        )
    # the precomputed array's columns are no features of the real inputs
    for attr in ("n_features_in_", "feature_names_in_"):
        new.__dict__.pop(attr, None)
    first = next(iter(new._fitted_named_members()))[1]
    for attr in ("n_features_in_", "feature_names_in_"):
        value = getattr(first, attr, None)
        if value is not None:
            setattr(new, attr, value)
    return new
