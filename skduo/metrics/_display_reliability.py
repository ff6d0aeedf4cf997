"""ReliabilityDisplay: the top-label reliability diagram of a classifier."""

import numpy as np

from skduo.metrics._calibration import expected_calibration_error, reliability_curve
from skduo.metrics._display import (
    _add_legend,
    _FromEstimatorMixin,
    _get_axes,
    _style_kwargs,
)
from skduo.utils._optional import check_matplotlib_support

__all__ = ["ReliabilityDisplay"]


class ReliabilityDisplay(_FromEstimatorMixin):
    """Top-label reliability diagram of a multi-class classifier.

    Predictions are binned by their confidence (the largest predicted
    probability); each bin's accuracy is plotted against its mean confidence.
    A calibrated classifier lies on the diagonal, and the sample-weighted
    mean vertical gap is the expected calibration error (ECE). Unlike
    :class:`sklearn.calibration.CalibrationDisplay` this works for any number
    of classes. Create it with :meth:`from_estimator` or
    :meth:`from_predictions`; the constructor only stores precomputed values.

    Parameters
    ----------
    confidence : ndarray of shape (n_bins,)
        Mean confidence of each bin (NaN for empty bins), as returned by
        :func:`~skduo.metrics.reliability_curve`.

    accuracy : ndarray of shape (n_bins,)
        Accuracy of each bin (NaN for empty bins).

    bin_weight : ndarray of shape (n_bins,)
        Total sample weight of each bin; empty bins (weight 0) are not drawn.

    bin_edges : ndarray of shape (n_bins + 1,)
        Bin edges from 0 to 1.

    ece : float, default=None
        Expected calibration error, shown in the legend when given.

    name : str, default=None
        Name of the classifier, used in the legend.

    Attributes
    ----------
    line_ : matplotlib Line2D
        Accuracy against mean confidence of the non-empty bins.

    count_texts_ : list of matplotlib Annotation
        The weight (row count) written above each non-empty bin.

    ax_ : matplotlib Axes
        Axes the diagram is drawn on.

    figure_ : matplotlib Figure
        Figure containing the diagram.

    See Also
    --------
    skduo.metrics.reliability_curve : The binned values.
    skduo.metrics.expected_calibration_error : The weighted mean gap.
    sklearn.calibration.CalibrationDisplay : The binary analogue.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from skduo.metrics import ReliabilityDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = GaussianNB().fit(X_train, y_train)
    >>> disp = ReliabilityDisplay.from_estimator(clf, X_test, y_test, n_bins=10)
    >>> disp.bin_edges.shape
    (11,)
    >>> plt.show()  # doctest: +SKIP
    """

    def __init__(
        self, *, confidence, accuracy, bin_weight, bin_edges, ece=None, name=None
    ):
        self.confidence = confidence
        self.accuracy = accuracy
        self.bin_weight = bin_weight
        self.bin_edges = bin_edges
        self.ece = ece
        self.name = name

    def plot(self, ax=None, *, name=None, ref_line=True, show_counts=True, **kwargs):
        """Plot the reliability diagram.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None. Several
            displays drawn on the same axes share it (and one diagonal).

        name : str, default=None
            Legend name; defaults to the ``name`` given at construction. No
            legend entry when both are None.

        ref_line : bool, default=True
            Draw the diagonal of perfect calibration (once per axes).

        show_counts : bool, default=True
            Write each drawn bin's weight (its number of rows without sample
            weights) above its point: a bin of 2 rows sits at accuracy 0 or 1
            whatever the calibration, and the count says how little it shows.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot` (overriding the
            defaults, e.g. ``color`` or ``marker``).

        Returns
        -------
        display : ReliabilityDisplay
            The display itself, with ``ax_``, ``figure_``, ``line_`` and
            ``count_texts_`` (the count labels, empty without ``show_counts``)
            set.
        """
        self.ax_, self.figure_ = _get_axes(ax, f"{type(self).__name__}.plot")
        name = self.name if name is None else name

        ref_label = "Perfectly calibrated"
        if ref_line and ref_label not in self.ax_.get_legend_handles_labels()[1]:
            self.ax_.plot([0, 1], [0, 1], color="black", ls=":", label=ref_label)

        defaults = {"marker": "s", "linestyle": "-"}
        if name is not None:
            label = name
            if self.ece is not None:
                label = f"{name} (ECE = {self.ece:.4f})"
            defaults["label"] = label
        nonempty = np.asarray(self.bin_weight) > 0
        (self.line_,) = self.ax_.plot(
            np.asarray(self.confidence)[nonempty],
            np.asarray(self.accuracy)[nonempty],
            **_style_kwargs(defaults, kwargs),
        )
        self.count_texts_ = []
        if show_counts:
            weights = np.asarray(self.bin_weight, dtype=float)[nonempty]
            points = zip(
                np.asarray(self.confidence)[nonempty],
                np.asarray(self.accuracy)[nonempty],
                weights,
            )
            for x, y, w in points:
                self.count_texts_.append(
                    self.ax_.annotate(
                        f"{w:.3g}",
                        (x, y),
                        textcoords="offset points",
                        xytext=(0, 5),
                        ha="center",
                        fontsize="x-small",
                        color=self.line_.get_color(),
                    )
                )
        self.ax_.set(
            xlabel="Mean confidence (top-label probability)",
            ylabel="Accuracy",
            xlim=(-0.01, 1.01),
            ylim=(-0.01, 1.01),
        )
        _add_legend(self.ax_, loc="upper left")
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        sample_weight=None,
        n_bins=15,
        strategy="uniform",
        name=None,
        ref_line=True,
        ax=None,
        **kwargs,
    ):
        """Plot the reliability diagram of a fitted classifier.

        Parameters
        ----------
        estimator : estimator
            Fitted classifier with ``predict_proba`` and ``classes_``.

        X : array-like of shape (n_samples, n_features)
            Input samples.

        y : array-like of shape (n_samples,), default=None
            True labels; None reads them from a torch ``Dataset`` ``X`` (as
            the estimators' ``fit`` and ``score`` do).

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        n_bins : int, default=15
            Number of bins.

        strategy : {'uniform', 'quantile'}, default='uniform'
            Equal-width or equal-mass bins; see
            :func:`~skduo.metrics.reliability_curve`.

        name : str, default=None
            Legend name; defaults to the estimator's class name.

        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : ReliabilityDisplay
        """
        return cls._from_estimator(
            estimator,
            X,
            y,
            prediction="argmax",
            name=name,
            sample_weight=sample_weight,
            n_bins=n_bins,
            strategy=strategy,
            ref_line=ref_line,
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
        n_bins=15,
        strategy="uniform",
        name=None,
        ref_line=True,
        ax=None,
        **kwargs,
    ):
        """Plot the reliability diagram of given probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.

        y_proba : array-like of shape (n_samples, n_classes)
            Predicted probabilities, columns following ``labels`` (or the
            sorted unique labels of ``y_true``).

        labels : array-like of shape (n_classes,), default=None
            All class labels, in column order.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        n_bins : int, default=15
            Number of bins.

        strategy : {'uniform', 'quantile'}, default='uniform'
            Equal-width or equal-mass bins.

        name : str, default=None
            Legend name.

        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : ReliabilityDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        common = dict(
            labels=labels, sample_weight=sample_weight, n_bins=n_bins, strategy=strategy
        )
        confidence, accuracy, bin_weight, bin_edges = reliability_curve(
            y_true, y_proba, **common
        )
        ece = expected_calibration_error(y_true, y_proba, **common)
        display = cls(
            confidence=confidence,
            accuracy=accuracy,
            bin_weight=bin_weight,
            bin_edges=bin_edges,
            ece=ece,
            name=name,
        )
        return display.plot(ax=ax, ref_line=ref_line, **kwargs)
