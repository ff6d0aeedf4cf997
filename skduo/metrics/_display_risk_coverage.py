"""RiskCoverageDisplay: the risk-coverage curve of a selective classifier."""

from skduo.metrics._certified import certified_threshold
from skduo.metrics._display import (
    _add_legend,
    _FromEstimatorMixin,
    _get_axes,
    _style_kwargs,
)
from skduo.metrics._selective import aurc, risk_coverage_curve
from skduo.utils._optional import check_matplotlib_support

__all__ = ["RiskCoverageDisplay"]


class RiskCoverageDisplay(_FromEstimatorMixin):
    """Plot of the risk-coverage curve of a selective classifier.

    Accepting only the predictions whose confidence passes a threshold trades
    coverage (the accepted fraction) for selective risk (the error rate of the
    accepted predictions); the curve shows that trade-off over all thresholds
    and its mean height is the AURC. Create it with
    :meth:`from_estimator` or :meth:`from_predictions`; the constructor only
    stores precomputed values.

    Parameters
    ----------
    coverage : ndarray of shape (n_thresholds,)
        Increasing coverages, as returned by
        :func:`~skduo.metrics.risk_coverage_curve`.

    risk : ndarray of shape (n_thresholds,)
        Selective risk at each coverage.

    aurc : float, default=None
        Area under the risk-coverage curve, shown in the legend when given.

    name : str, default=None
        Name of the classifier, used in the legend.

    certificate : CertifiedThreshold, default=None
        A certified operating point of the same predictions
        (:func:`~skduo.metrics.certified_threshold`), drawn with its bound
        and the target risk.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The curve.

    certified_point_ : matplotlib Line2D or None
        The certified operating point (coverage, empirical risk) with a bar up
        to its risk bound; None without a certificate or when nothing is
        certified.

    target_line_ : matplotlib Line2D or None
        The target risk, a horizontal line; None without a certificate.

    ax_ : matplotlib Axes
        Axes the curve is drawn on.

    figure_ : matplotlib Figure
        Figure containing the curve.

    See Also
    --------
    skduo.metrics.risk_coverage_curve : The points of the curve.
    skduo.metrics.aurc : The area summarising it.
    ReliabilityDisplay : Reliability diagram of the same predictions.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import train_test_split
    >>> from skduo.metrics import RiskCoverageDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    >>> disp = RiskCoverageDisplay.from_estimator(clf, X_test, y_test)
    >>> float(disp.line_.get_xdata()[-1])  # full coverage at the end
    1.0
    >>> # the operating point certified at 5 % risk on these rows
    >>> disp = RiskCoverageDisplay.from_estimator(clf, X_test, y_test,
    ...                                           target_risk=0.05)
    >>> disp.certificate.certified, disp.certified_point_ is not None
    (True, True)
    >>> plt.show()  # doctest: +SKIP
    """

    def __init__(self, *, coverage, risk, aurc=None, name=None, certificate=None):
        self.coverage = coverage
        self.risk = risk
        self.aurc = aurc
        self.name = name
        self.certificate = certificate

    def plot(self, ax=None, *, name=None, **kwargs):
        """Plot the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None. Several
            displays drawn on the same axes share it, with one legend entry
            each.

        name : str, default=None
            Legend name of the curve; defaults to the ``name`` given at
            construction. No legend entry when both are None.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` (overriding the
            defaults, e.g. ``color`` or ``linestyle``).

        Returns
        -------
        display : RiskCoverageDisplay
            The display itself, with ``ax_``, ``figure_`` and ``line_`` set.
        """
        self.ax_, self.figure_ = _get_axes(ax, f"{type(self).__name__}.plot")
        name = self.name if name is None else name
        defaults = {"linestyle": "-"}
        if name is not None:
            label = name
            if self.aurc is not None:
                label = f"{name} (AURC = {self.aurc:.4f})"
            defaults["label"] = label
        (self.line_,) = self.ax_.plot(
            self.coverage, self.risk, **_style_kwargs(defaults, kwargs)
        )
        self.ax_.set(
            xlabel="Coverage (fraction of predictions accepted)",
            ylabel="Selective risk (error rate of accepted)",
            xlim=(-0.01, 1.01),
        )
        self._plot_certificate(name)
        _add_legend(self.ax_, loc="upper left")
        return self

    def _plot_certificate(self, name):
        """The target risk, and the certified point with a bar up to its bound."""
        self.certified_point_ = self.target_line_ = None
        cert = self.certificate
        if cert is None:
            return
        self.target_line_ = self.ax_.axhline(
            cert.target_risk,
            color="0.5",
            linestyle=":",
            linewidth=1,
            label=f"target risk {cert.target_risk:.3g}",
        )
        if not cert.certified:
            return
        color = self.line_.get_color()
        self.ax_.vlines(
            cert.coverage, cert.risk, cert.risk_bound, colors=color, linewidth=1.5
        )
        who = "" if name is None else f"{name}: "
        (self.certified_point_,) = self.ax_.plot(
            [cert.coverage],
            [cert.risk],
            marker="o",
            linestyle="none",
            color=color,
            label=(
                f"{who}certified coverage {cert.coverage:.1%}, risk bound "
                f"{cert.risk_bound:.2%} (1 - delta = {1 - cert.delta:g})"
            ),
        )

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        sample_weight=None,
        confidence="msp",
        prediction="predict",
        target_risk=None,
        delta=0.05,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot the risk-coverage curve of a fitted classifier.

        Parameters
        ----------
        estimator : estimator
            Fitted classifier with ``predict_proba`` and ``classes_``, e.g. a
            fitted :class:`~skduo.DuoClassifier`.

        X : array-like of shape (n_samples, n_features)
            Input samples.

        y : array-like of shape (n_samples,), default=None
            True labels; None reads them from a torch ``Dataset`` ``X`` (as
            the estimators' ``fit`` and ``score`` do).

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        confidence : {'msp', 'margin', 'neg_entropy'} or callable, \
                default='msp'
            Confidence score of each prediction; see
            :func:`~skduo.metrics.risk_coverage_curve`.

        prediction : {'predict', 'argmax'}, default='predict'
            ``'predict'``: the estimator's own predictions,
            ``estimator.predict(X)``, with the confidence read from
            ``predict_proba`` at them (as the skduo scorers do); for a
            :class:`~skduo.DuoClassifier` with ``mode='uq_only'`` these are the
            large member's predictions, scored with the duo's confidence in
            them. ``'argmax'``: the arg-max of ``predict_proba`` (one pass).

        target_risk : float, default=None
            When given, also draw the operating point certified at this risk
            from ``(X, y)`` (:func:`~skduo.metrics.certified_threshold`), its
            risk bound and the target.

        delta : float, default=0.05
            Allowed probability that the certificate is wrong (with
            ``target_risk``).

        name : str, default=None
            Legend name; defaults to the estimator's class name.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : RiskCoverageDisplay
        """
        return cls._from_estimator(
            estimator,
            X,
            y,
            prediction=prediction,
            name=name,
            sample_weight=sample_weight,
            confidence=confidence,
            target_risk=target_risk,
            delta=delta,
            ax=ax,
            **kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_proba,
        *,
        labels=None,
        sample_weight=None,
        confidence="msp",
        y_pred=None,
        target_risk=None,
        delta=0.05,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot the risk-coverage curve of given predictions.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.

        y_proba : array-like of shape (n_samples, n_classes) or None
            Predicted probabilities, columns following ``labels`` (or the
            sorted unique labels of ``y_true``). May be None when ``y_pred``
            and an array ``confidence`` are given.

        labels : array-like of shape (n_classes,), default=None
            All class labels, in column order.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        confidence : {'msp', 'margin', 'neg_entropy'}, array-like or \
                callable, default='msp'
            Confidence score of each prediction; see
            :func:`~skduo.metrics.risk_coverage_curve`.

        y_pred : array-like of shape (n_samples,), default=None
            Predicted labels; default: the arg-max of ``y_proba``.

        target_risk : float, default=None
            When given, also draw the operating point certified at this risk
            from these predictions (:func:`~skduo.metrics.certified_threshold`;
            they are then the calibration data), its risk bound and the
            target.

        delta : float, default=0.05
            Allowed probability that the certificate is wrong (with
            ``target_risk``).

        name : str, default=None
            Legend name of the curve.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : RiskCoverageDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        common = dict(
            labels=labels,
            sample_weight=sample_weight,
            confidence=confidence,
            y_pred=y_pred,
        )
        coverage, risk, _ = risk_coverage_curve(y_true, y_proba, **common)
        area = aurc(y_true, y_proba, **common)
        certificate = None
        if target_risk is not None:
            certificate = certified_threshold(
                y_true, y_proba, target_risk=target_risk, delta=delta, **common
            )
        display = cls(
            coverage=coverage, risk=risk, aurc=area, name=name, certificate=certificate
        )
        return display.plot(ax=ax, **kwargs)
