"""What the displays share: style keywords, axes, ``from_estimator``, legend.

The displays (:class:`~skduo.metrics.RiskCoverageDisplay` in
``_display_risk_coverage.py``, :class:`~skduo.metrics.ReliabilityDisplay` in
``_display_reliability.py``) draw risk-coverage curves and multi-class
reliability diagrams. Both follow the scikit-learn ``*Display`` idiom (like
:class:`sklearn.metrics.RocCurveDisplay`): the constructor stores arrays
computed by :func:`~skduo.metrics.risk_coverage_curve` or
:func:`~skduo.metrics.reliability_curve`, :meth:`plot` draws them and returns
the display with ``ax_``, ``figure_`` and ``line_`` set, and the classmethods
``from_estimator`` / ``from_predictions`` compute and plot in one call.
matplotlib is imported only when something is drawn, and no global style
(``rcParams``) is ever changed.
"""

from skduo._outputs._inputs import validate_X_y
from skduo.metrics._scorer import _labels_and_proba
from skduo.utils._optional import check_matplotlib_support

__all__ = []  # private module

# matplotlib aliases: a user keyword given under either name replaces the
# default given under the other one (matplotlib refuses both at once).
_ALIASES = {
    "c": "color",
    "ls": "linestyle",
    "lw": "linewidth",
    "ms": "markersize",
    "mec": "markeredgecolor",
    "mfc": "markerfacecolor",
    "mew": "markeredgewidth",
    "ds": "drawstyle",
}


def _style_kwargs(defaults, user):
    """Defaults overridden by the user's keywords, aliases included."""
    canonical = {_ALIASES.get(k, k) for k in user}
    kept = {k: v for k, v in defaults.items() if _ALIASES.get(k, k) not in canonical}
    return {**kept, **user}


def _get_axes(ax, caller):
    """``(ax, figure)``: the given axes, or a new figure with one axes."""
    check_matplotlib_support(caller)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax, ax.figure


class _FromEstimatorMixin:
    """The ``from_estimator`` half shared by the displays."""

    @classmethod
    def _from_estimator(cls, estimator, X, y, *, prediction, name, **kwargs):
        """Probabilities (and predictions) of ``estimator``, then ``from_predictions``.

        Columns follow ``estimator.classes_``; labels of ``y`` the estimator
        never saw get a column of zeros, as in the skduo scorers.
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        if prediction not in ("argmax", "predict"):
            raise ValueError(
                f"prediction must be 'argmax' or 'predict'; got {prediction!r}."
            )
        if not hasattr(estimator, "predict_proba"):
            raise AttributeError(
                f"{type(estimator).__name__} has no predict_proba; the displays need "
                "probabilities (e.g. wrap the model in CalibratedClassifierCV)."
            )
        X, y = validate_X_y(X, y)  # y=None: the labels of a torch Dataset
        labels, proba = _labels_and_proba(estimator, y, estimator.predict_proba(X))
        if prediction == "predict":
            kwargs["y_pred"] = estimator.predict(X)
        return cls.from_predictions(
            y,
            proba,
            labels=labels,
            name=type(estimator).__name__ if name is None else name,
            **kwargs,
        )


def _add_legend(ax, loc):
    if any(not label.startswith("_") for label in ax.get_legend_handles_labels()[1]):
        ax.legend(loc=loc)
