"""DuoClassifier: a large classifier and a sidekick, their logits weighted."""

import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.utils.validation import check_is_fitted

from skduo._estimators._base import _BaseLogitEnsemble
from skduo._fit._modes import FITS_BY_MODE, fit_learned_weights
from skduo._vocabulary import DUO_MODES
from skduo.utils._arrays import row_blocks
from skduo.utils._sklearn_compat import HasMethods, StrOptions, _fit_context

__all__ = ["DuoClassifier"]

#: Standard errors of the paired difference beyond which the sidekick is
#: "clearly" the better model (temperature-scaled NLL or accuracy).
_ROLES_Z = 2.5


def _row_scores(z, w, y):
    """Per-row NLL and correctness of ``softmax(w * z)`` (row blocks)."""
    n = len(y)
    losses, correct = np.empty(n), np.empty(n)
    for rows in row_blocks(tuple(z.shape)):
        block = np.asarray(z[rows], dtype=np.float64) * w
        idx = np.arange(rows.stop - rows.start)
        yb = y[rows]
        losses[rows] = logsumexp(block, axis=1) - block[idx, yb]
        correct[rows] = np.argmax(block, axis=1) == yb
    return losses, correct


def compare_roles(logits, y, sample_weight=None, prior="auto"):
    """Is the sidekick clearly better than the large member on these data?

    Each member is temperature-scaled alone (the duo's own fit, ``prior``
    included); the paired per-row differences (sidekick minus large) of the
    NLL and of correctness give a mean and a standard error (weighted rows:
    the effective number of rows). Returns ``(clearly_better, summary)``,
    ``clearly_better`` when either mean favours the sidekick by more than
    :data:`_ROLES_Z` standard errors.
    """
    y = np.asarray(y)
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight)
    scores = []
    for z in logits:
        with warnings.catch_warnings():  # auxiliary fits: the duo's fit warns
            warnings.simplefilter("ignore")
            w = float(fit_learned_weights([z], y, sw, prior=prior).weights[0])
        scores.append(_row_scores(z, w, y))
    total = sw.sum()
    n_eff = total**2 / np.square(sw).sum()

    def paired(a, b):
        d = b - a
        mean = float(sw @ d / total)
        var = float(sw @ (d - mean) ** 2 / total)
        return mean, np.sqrt(var / max(n_eff - 1.0, 1.0))

    (nll_l, acc_l), (nll_s, acc_s) = scores
    d_nll, se_nll = paired(nll_l, nll_s)
    d_acc, se_acc = paired(acc_l, acc_s)
    better = bool(d_nll < -_ROLES_Z * se_nll or d_acc > _ROLES_Z * se_acc)
    summary = {
        "nll": (float(sw @ nll_l / total), float(sw @ nll_s / total), se_nll),
        "accuracy": (float(sw @ acc_l / total), float(sw @ acc_s / total), se_acc),
    }
    return better, summary


class DuoClassifier(_BaseLogitEnsemble):
    """Asymmetric Duo: a large classifier plus a small sidekick, logits weighted.

    The duo's logits are ``z = weights_[0] * z_large + weights_[1] * z_small``,
    where ``z_large`` and ``z_small`` are the members' logits and the two
    non-negative weights minimise the (sample-weighted) negative log-likelihood of
    ``softmax(z)`` on the data passed to :meth:`fit`, normally a held-out
    validation set (Zhou, Shelhamer & Pleiss, 2025). The objective is convex in
    the weights; it is solved to a KKT tolerance of 1e-8.

    Parameters
    ----------
    large : estimator
        The large, accurate classifier. Fitted members (plain or wrapped in
        :class:`~sklearn.frozen.FrozenEstimator`) are used as they are and never
        refit or modified; ``clone`` keeps them (same objects), so cross-validating
        a duo on validation data fits only the weights. Unfitted members are
        cloned and fitted by cross-fitting (see ``cv``).
    small : estimator
        The sidekick, usually much cheaper than ``large``. Same rules as ``large``.
    mode : {'asymmetric', 'unweighted', 'uq_only'}, default='asymmetric'
        - ``'asymmetric'``: the paper's method, both weights learned jointly.
        - ``'unweighted'``: each member is temperature-scaled on its own, then the
          scaled logits are averaged with equal weight (the paper's ablation):
          ``weights_ = (w_large_TS / 2, w_small_TS / 2)``.
        - ``'uq_only'``: :meth:`predict` returns the large member's own prediction
          (argmax of its logits), while :meth:`predict_proba` and
          :meth:`decision_function` are those of the asymmetric duo; the
          confidence of a prediction is then the duo's probability of the large
          member's predicted class.
    response_method : {'auto', 'decision_function', 'predict_log_proba', \
'predict_proba'} or tuple of two of those, default='auto'
        How each member's outputs become logits; a tuple gives (large, small).
        ``'auto'`` reads a skorch net's true logits (its module's output, never a
        float32 softmax), and otherwise takes the first method the member has in
        the order ``decision_function``, ``predict_log_proba``,
        ``predict_proba``. Probabilities are checked (finite, in [0, 1], rows
        summing to 1) and replaced by their logarithm, which gives the same duo as
        the logits would (softmax ignores per-row shifts); exact zeros are
        clipped to the smallest positive number of their dtype, with a warning
        when many rows saturate. A 1-D binary score ``s`` becomes the logits
        ``(0, s)``, so ``weights_ = (1, 0)`` reproduces ``sigmoid(s)`` exactly.
    prior : 'auto', float or None, default='auto'
        What keeps the duo sane on small or separable validation data (see
        :ref:`no_harm`). ``'auto'``: the exact maximum-likelihood weights where
        the data determine them (each positive weight's and their scale's Wald
        95 % interval excludes 0); else one member alone, temperature-scaled
        (the other's weight 0: first the one the data determine least), if the
        data determine that; else the large member as given (weights ``(1, 0)``,
        with a warning). A number ``c``: always the posterior mode under a Gamma
        prior on the large member's weight with its mode at 1 (the member as
        given) and an exponential prior on the sidekick's weight (in units of
        its logits' spread: no sidekick unless the data ask for one), worth
        ``c`` validation rows: their negative log-density divided by the number
        of rows is added to the validation NLL, so the penalty fades like
        ``c / n``. With either, exact-zero probabilities get a floor from the data
        (``zero_floors_``). ``None`` fits the exact maximum-likelihood weights
        on the outputs as given (unbounded on separable data, with a
        ``SeparationWarning``; exact zeros at the float's limit).
    cv : int, cross-validation generator or iterable, default=5
        Used only for unfitted members: their out-of-fold logits on the data
        passed to :meth:`fit` are used to fit the weights, then each is refit on
        all of it (like ``CalibratedClassifierCV(ensemble=False)``). An int means
        :class:`~sklearn.model_selection.StratifiedKFold`.
    verbose : bool, default=False
        Show progress bars while torch members compute their logits.

    Attributes
    ----------
    weights_ : ndarray of shape (2,)
        Non-negative weights applied to the large and the small member's logits.
        The official code writes the duo as ``(z_l / T_l + z_s / T_s) / 2``; its
        temperatures map to these weights by ``w = 1 / (2 T)``. A two-class
        member scored by a 1-D ``decision_function`` ``s`` has the logits
        ``(0, s)``, so its weight is twice the ``beta_`` that scikit-learn's
        ``CalibratedClassifierCV(method="temperature")`` fits on the same
        scores (it builds the logits ``(-s, s)``).
    classes_ : ndarray of shape (n_classes,)
        Class labels (the members' common class set, sorted; from ``y`` when the
        members are fitted here).
    large_ : estimator
        The large member used for predictions (the given object when it was
        fitted, else a clone fitted on all of ``X``).
    small_ : estimator
        Same for the small member.
    validation_nll_ : float
        Weighted mean negative log-likelihood of the duo on the fit data
        (without the prior's penalty).
    zero_floors_ : ndarray of shape (2,)
        The logit given to each member's exact-zero probabilities, at fit and
        prediction time: half the smallest positive probability the member
        gave on the fit data, as a log (NaN: the member gave no exact zero, or
        ``prior=None``).
    n_iter_ : int
        Newton iterations of the weight fit, all phases.
    n_features_in_ : int
        Number of features seen in :meth:`fit` (the large member's, when it has
        that attribute).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen in :meth:`fit`, when ``X`` has string column names
        (or the large member recorded some).

    See Also
    --------
    sklearn.calibration.CalibratedClassifierCV : One-model calibration.
    sklearn.ensemble.VotingClassifier : Fixed-weight averaging of probabilities.

    Notes
    -----
    With ``z_i = w_l z_l(x_i) + w_s z_s(x_i)`` and ``prior=None`` the fitted
    weights minimise

    .. math::

        L(w) = \\frac{1}{\\sum_i s_i} \\sum_i s_i
               \\left[\\log \\sum_k e^{z_{ik}} - z_{i y_i}\\right],
        \\qquad w \\ge 0,

    a log-sum-exp of an affine function of ``w`` minus a linear one, hence
    convex. Because ``(w, 0)`` and ``(0, w)`` are feasible, the duo's validation
    NLL is then never above that of either member temperature-scaled alone (up
    to rounding, about 1e-13 relative; exactly when the members separate the
    data). A sidekick that does not help gets a weight of exactly 0 at the
    optimum (and is then not evaluated at prediction time). The default
    (``prior='auto'``) is that fit wherever the data determine it (else a member
    alone, or the large member as given); a number ``prior=c`` minimises
    ``L(w) + (c / n) (w_l - 1 - log w_l + sigma_s w_s)`` (``sigma_s``: the
    spread of the sidekick's logits), also convex; the same holds for that
    objective, with the large member's weight always positive (see
    :ref:`no_harm`).

    Fitted members survive ``clone`` (and so ``cross_val_score`` and
    ``GridSearchCV`` over the duo's own parameters), but scikit-learn also
    clones the *values* of a parameter grid: to search over fitted members
    (``{"small": [net_a, net_b]}``), wrap each in
    :class:`~sklearn.frozen.FrozenEstimator`, otherwise the grid hands the duo
    unfitted copies, which it would cross-fit.

    References
    ----------
    .. [1] T. G. Zhou, E. Shelhamer and G. Pleiss, "Asymmetric Duos: Sidekicks
       Improve Uncertainty", NeurIPS 2025.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo import DuoClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    >>> large = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    >>> small = GaussianNB().fit(X_train, y_train)
    >>> duo = DuoClassifier(large, small).fit(X_val, y_val)
    >>> duo.weights_.shape, bool((duo.weights_ >= 0).all())
    ((2,), True)
    >>> duo.predict_proba(X_val[:2]).shape
    (2, 10)
    """

    _parameter_constraints: dict = {
        **_BaseLogitEnsemble._parameter_constraints,
        "large": [HasMethods(["fit"])],
        "small": [HasMethods(["fit"])],
        "mode": [StrOptions(set(DUO_MODES))],
    }

    _member_params = ("large", "small")

    def __init__(
        self,
        large,
        small,
        *,
        mode="asymmetric",
        prior="auto",
        response_method="auto",
        cv=5,
        verbose=False,
    ):
        self.large = large
        self.small = small
        self.mode = mode
        self.prior = prior
        self.response_method = response_method
        self.cv = cv
        self.verbose = verbose

    def _named_members(self):
        return [("large", self.large), ("small", self.small)]

    def _fitted_named_members(self):
        return [("large", self.large_), ("small", self.small_)]

    def _store_members(self, members):
        self.large_, self.small_ = members

    def _fit_weights(self, logits, y_enc, sample_weight, names):
        return FITS_BY_MODE[self.mode](
            logits, y_enc, sample_weight, names=names, prior=self.prior
        )

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None, *, groups=None, **fit_params):
        """Fit the weights (and any unfitted member) on validation data.

        Parameters
        ----------
        X : array-like, Dataset or any input the members accept
            Validation inputs, not seen by fitted members during their training:
            an array of shape (n_samples, n_features) for scikit-learn members,
            images or a torch ``Dataset`` for torch members.
        y : array-like of shape (n_samples,), default=None
            Validation labels; any labels the members know (strings, ints).
            None reads them from a torch ``Dataset`` ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the NLL terms (also passed to the fit of
            unfitted members whose ``fit`` accepts it; with metadata routing
            enabled, to those that request it).
        groups : array-like of shape (n_samples,), default=None
            Group labels for the cross-fitting splitter ``cv`` (e.g.
            :class:`~sklearn.model_selection.GroupKFold`); used only when a
            member is unfitted. With metadata routing enabled it reaches the
            splitter when the splitter requests it (GroupKFold does).
        **fit_params : dict
            Parameters for the ``fit`` of unfitted members. Only with metadata
            routing enabled (``sklearn.set_config(enable_metadata_routing=True)``):
            each member receives what it requests with ``set_fit_request``; see
            :meth:`get_metadata_routing`.

        Returns
        -------
        self : DuoClassifier
            The fitted duo.

        Warns
        -----
        UserWarning
            When the large member gets weight 0 while the small one does not:
            the duo is then the small model alone (temperature-scaled). And
            when the small member is clearly the better model on the
            validation data (each temperature-scaled alone, the paired
            difference of their NLL or accuracy beyond 2.5 standard errors):
            ``mode='uq_only'`` then predicts with the weaker model, and the
            compute accounting assumes ``small`` is the cheap one.
        """
        self._fit_members(X, y, sample_weight, groups, fit_params)
        w_large, w_small = self.weights_
        if w_large == 0.0 and w_small > 0.0:
            warnings.warn(
                "The large member's fitted weight is 0: on this validation data "
                "the duo is the small member alone (temperature-scaled) and the "
                "large member is not evaluated at prediction time. The 'small' "
                "member seems to be the better model: swap the roles "
                "(DuoClassifier(large=<it>, small=<the other>)), which matters "
                "for mode='uq_only' (predictions come from the large member) and "
                "for the compute accounting, or choose another sidekick.",
                UserWarning,
                stacklevel=3,  # the caller of scikit-learn's fit wrapper
            )
        return self

    def _check_fit(self, logits, y_enc, sample_weight):
        """Warn when the sidekick is clearly the better model (issue 26)."""
        if self.weights_[0] == 0.0 and self.weights_[1] > 0.0:
            return  # the zero-weight warning of fit says it already
        better, s = compare_roles(logits, y_enc, sample_weight, self.prior)
        if not better:
            return
        (nll_l, nll_s, se_nll), (acc_l, acc_s, se_acc) = s["nll"], s["accuracy"]
        if self.mode == "uq_only":
            effect = (
                "In mode='uq_only' the duo predicts with the large member alone, "
                "so its predictions come from the weaker model"
            )
        else:
            effect = (
                "In mode='uq_only' the predictions would come from the large "
                "member, the weaker model"
            )
        warnings.warn(
            "The 'small' member is clearly the better model on this validation "
            "data: temperature-scaled NLL "
            f"{nll_s:.4f} vs {nll_l:.4f} for the large member (paired standard "
            f"error {se_nll:.4f}), accuracy {acc_s:.4f} vs {acc_l:.4f} "
            f"(standard error {se_acc:.4f}). {effect}; and the compute "
            "accounting (the duo's cost as the large member plus a cheap "
            "sidekick) assumes 'small' is the cheap one. If the roles are "
            "swapped, use DuoClassifier(large=<the better model>, "
            "small=<the other>).",
            UserWarning,
            stacklevel=5,  # _fit_members, fit, scikit-learn's wrapper, the caller
        )

    def predict(self, X):
        """Predicted labels.

        ``classes_[argmax]`` of the duo's logits, or, in ``mode='uq_only'``, of the
        large member's logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        if self.mode != "uq_only":
            return super().predict(X)
        check_is_fitted(self)
        large_only = self._member_parts(X, [("large", self.large_)], [1.0])
        return self._predict_from(large_only)
