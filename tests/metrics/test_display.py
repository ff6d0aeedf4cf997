"""RiskCoverageDisplay and ReliabilityDisplay (Agg backend)."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from skduo import DuoClassifier
from skduo.metrics import (
    ReliabilityDisplay,
    RiskCoverageDisplay,
    aurc,
    expected_calibration_error,
    reliability_curve,
    risk_coverage_curve,
)

DISPLAYS = [RiskCoverageDisplay, ReliabilityDisplay]

# The docstring toy of skduo.metrics: 4 samples, 2 classes.
Y4 = np.array([0, 1, 1, 0])
P4 = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]])


@pytest.fixture
def pyplot():
    """matplotlib.pyplot on the Agg backend; closes every figure afterwards."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


@pytest.fixture(scope="module")
def fitted(digits_splits):
    """(large, small, duo) fitted on digits, and the test split."""
    X_train, y_train, X_val, y_val, X_test, y_test = digits_splits
    large = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    small = GaussianNB().fit(X_train, y_train)
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    return large, small, duo, X_test, y_test


def _xy(line):
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


@pytest.mark.parametrize("Display", DISPLAYS)
def test_display_common(pyplot, fitted, Display):
    """Shared behaviour of both displays (sklearn's common curve-display test)."""
    import matplotlib as mpl

    rc_before = dict(mpl.rcParams)
    large, small, duo, X, y = fitted

    disp = Display.from_estimator(duo, X, y)
    # attributes of the sklearn Display idiom
    assert disp.figure_ is disp.ax_.figure
    assert disp.line_ in disp.ax_.get_lines()
    assert disp.name == "DuoClassifier"
    assert disp.line_.get_label().startswith("DuoClassifier (")

    # from_estimator is from_predictions on predict_proba with classes_ as labels
    pred = Display.from_predictions(y, duo.predict_proba(X), labels=duo.classes_)
    assert_allclose(_xy(pred.line_)[0], _xy(disp.line_)[0])
    assert_allclose(_xy(pred.line_)[1], _xy(disp.line_)[1])
    assert pred.name is None and pred.ax_ is not disp.ax_

    # several estimators on one axis, each with its own legend entry
    fig, ax = pyplot.subplots()
    d1 = Display.from_estimator(large, X, y, ax=ax, name="large")
    d2 = Display.from_estimator(duo, X, y, ax=ax, name="duo", color="C3", lw=3)
    assert d1.ax_ is d2.ax_ is ax and d1.figure_ is d2.figure_ is fig
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("large (") for t in labels)
    assert any(t.startswith("duo (") for t in labels)
    assert d2.line_.get_color() == "C3" and d2.line_.get_linewidth() == 3

    # plot() redraws stored values; name= overrides the stored name only there
    again = d1.plot(name="renamed")
    assert again is d1 and d1.ax_ is not ax and d1.name == "large"
    assert d1.line_.get_label().startswith("renamed (")
    assert_allclose(_xy(d1.line_)[1], _xy(ax.get_lines()[-2])[1])

    # nothing global was changed
    assert dict(mpl.rcParams) == rc_before


@pytest.mark.parametrize("Display", DISPLAYS)
def test_display_without_name_has_no_legend(pyplot, Display):
    disp = Display.from_predictions(Y4, P4)
    assert disp.line_.get_label().startswith("_")
    legend = disp.ax_.get_legend()
    texts = [] if legend is None else [t.get_text() for t in legend.get_texts()]
    assert all("ECE" not in t and "AURC" not in t for t in texts)


@pytest.mark.parametrize("Display", DISPLAYS)
@pytest.mark.parametrize("method", ["from_estimator", "from_predictions", "plot"])
def test_display_without_matplotlib(monkeypatch, fitted, Display, method):
    large, _, _, X, y = fitted
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'skduo\[plot\]'"):
        if method == "from_estimator":
            Display.from_estimator(large, X, y)
        elif method == "from_predictions":
            Display.from_predictions(Y4, P4)
        else:
            Display.__new__(Display).plot()


@pytest.mark.parametrize("Display", DISPLAYS)
def test_display_needs_predict_proba(pyplot, digits_splits, Display):
    from sklearn.svm import LinearSVC

    X_train, y_train, *_ = digits_splits
    svc = LinearSVC().fit(X_train[:200], y_train[:200])
    with pytest.raises(AttributeError, match="has no predict_proba"):
        Display.from_estimator(svc, X_train[:20], y_train[:20])


@pytest.mark.parametrize("Display", DISPLAYS)
def test_display_label_unseen_by_estimator(pyplot, Display):
    # A test fold holding a class the estimator never saw: its column is 0.
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    clf = LogisticRegression().fit(X, [0, 0, 0, 1, 1, 1])
    y = np.array([0, 0, 2, 1, 1, 1])
    disp = Display.from_estimator(clf, X, y)
    padded = np.column_stack([clf.predict_proba(X), np.zeros(6)])
    ref = Display.from_predictions(y, padded, labels=[0, 1, 2])
    assert_allclose(_xy(disp.line_)[1], _xy(ref.line_)[1])


# --------------------------------------------------------------------------
# RiskCoverageDisplay: plotted data is risk_coverage_curve's
# --------------------------------------------------------------------------
def test_risk_coverage_plots_the_curve(pyplot):
    disp = RiskCoverageDisplay.from_predictions(Y4, P4, name="toy")
    x, y = _xy(disp.line_)
    # by hand: confidences .9 > .7 > .6 > .55, the third is wrong
    assert_allclose(x, [0.25, 0.5, 0.75, 1.0])
    assert_allclose(y, [0.0, 0.0, 1 / 3, 0.25])
    # risks 0, 0, 1/3, 1/4 averaged over k = 1..4
    assert disp.aurc == pytest.approx((1 / 3 + 1 / 4) / 4)
    assert disp.line_.get_label() == "toy (AURC = 0.1458)"
    assert disp.ax_.get_xlabel().startswith("Coverage")


@pytest.mark.parametrize("confidence", ["msp", "margin", "neg_entropy"])
def test_risk_coverage_matches_curve_function(pyplot, fitted, confidence):
    _, _, duo, X, y = fitted
    proba = duo.predict_proba(X)
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=y.shape[0])
    disp = RiskCoverageDisplay.from_predictions(
        y, proba, sample_weight=w, confidence=confidence
    )
    coverage, risk, _ = risk_coverage_curve(
        y, proba, sample_weight=w, confidence=confidence
    )
    assert_array_equal(disp.coverage, coverage)
    assert_array_equal(disp.risk, risk)
    assert_allclose(_xy(disp.line_)[0], coverage)
    assert_allclose(_xy(disp.line_)[1], risk)
    assert disp.aurc == aurc(y, proba, sample_weight=w, confidence=confidence)


def test_risk_coverage_prediction_predict_uq_only(pyplot, fitted):
    # In UQ-only mode predict() is the large member's class, not the arg-max of
    # the duo's probabilities; prediction='predict' scores those predictions.
    large, small, _, X, y = fitted
    # the exact MLE: on these 150 rows the default prior (issue 26) gives the
    # sidekick weight 0, and the duo's arg-max would then be the large member's
    duo = DuoClassifier(large, small, mode="uq_only", prior=None)
    duo.fit(X[:150], y[:150])
    X_eval, y_eval = X[150:], y[150:]
    proba, y_pred = duo.predict_proba(X_eval), duo.predict(X_eval)
    assert (y_pred != duo.classes_[proba.argmax(1)]).any()

    disp = RiskCoverageDisplay.from_estimator(duo, X_eval, y_eval, prediction="predict")
    coverage, risk, _ = risk_coverage_curve(y_eval, proba, y_pred=y_pred)
    assert_allclose(_xy(disp.line_)[0], coverage)
    assert_allclose(_xy(disp.line_)[1], risk)
    # the full-coverage risk is the large member's error rate
    assert risk[-1] == pytest.approx(np.mean(large.predict(X_eval) != y_eval))

    # the default scores predict(), as the skduo scorers do; 'argmax' differs
    default = RiskCoverageDisplay.from_estimator(duo, X_eval, y_eval)
    assert default.aurc == disp.aurc
    argmax = RiskCoverageDisplay.from_estimator(
        duo, X_eval, y_eval, prediction="argmax"
    )
    assert argmax.aurc != disp.aurc
    with pytest.raises(ValueError, match="prediction must be"):
        RiskCoverageDisplay.from_estimator(duo, X_eval, y_eval, prediction="max")


# --------------------------------------------------------------------------
# ReliabilityDisplay: plotted data is reliability_curve's non-empty bins
# --------------------------------------------------------------------------
def test_reliability_plots_the_curve(pyplot):
    disp = ReliabilityDisplay.from_predictions(Y4, P4, n_bins=4, name="toy")
    x, y = _xy(disp.line_)
    # by hand: bin (0.5, 0.75] holds .7, .6, .55 (2 of 3 right), (0.75, 1] holds .9
    assert_allclose(x, [(0.7 + 0.6 + 0.55) / 3, 0.9])
    assert_allclose(y, [2 / 3, 1.0])
    assert_allclose(disp.bin_weight, [0, 0, 3, 1])
    # ECE = (3 * |0.6167 - 0.6667| + 1 * |0.9 - 1|) / 4
    assert disp.ece == pytest.approx(0.0625)
    assert disp.line_.get_label() == "toy (ECE = 0.0625)"
    # the row count above each drawn bin (by hand, as above: 3 and 1 rows)
    assert [t.get_text() for t in disp.count_texts_] == ["3", "1"]
    assert_allclose([t.xy for t in disp.count_texts_], np.column_stack([x, y]))
    bare = ReliabilityDisplay.from_predictions(Y4, P4, n_bins=4)
    pyplot.close("all")
    assert bare.plot(show_counts=False).count_texts_ == []


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_matches_curve_function(pyplot, fitted, strategy):
    _, small, _, X, y = fitted
    proba = small.predict_proba(X)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=y.shape[0])
    disp = ReliabilityDisplay.from_predictions(
        y, proba, sample_weight=w, n_bins=10, strategy=strategy
    )
    conf, acc, weight, edges = reliability_curve(
        y, proba, sample_weight=w, n_bins=10, strategy=strategy
    )
    assert_array_equal(disp.bin_edges, edges)
    assert_array_equal(disp.bin_weight, weight)
    nonempty = weight > 0
    assert_allclose(_xy(disp.line_)[0], conf[nonempty])
    assert_allclose(_xy(disp.line_)[1], acc[nonempty])
    assert disp.ece == expected_calibration_error(
        y, proba, sample_weight=w, n_bins=10, strategy=strategy
    )
    # the display's ECE is the weighted mean gap of the plotted bins
    gap = np.abs(conf[nonempty] - acc[nonempty])
    assert disp.ece == pytest.approx((weight[nonempty] * gap).sum() / weight.sum())


def test_reliability_reference_line_once(pyplot, fitted):
    large, small, _, X, y = fitted
    fig, ax = pyplot.subplots()
    ReliabilityDisplay.from_estimator(large, X, y, ax=ax)
    ReliabilityDisplay.from_estimator(small, X, y, ax=ax)
    labels = ax.get_legend_handles_labels()[1]
    assert labels.count("Perfectly calibrated") == 1
    assert len(ax.get_lines()) == 3

    _, ax2 = pyplot.subplots()
    ReliabilityDisplay.from_estimator(large, X, y, ax=ax2, ref_line=False)
    assert len(ax2.get_lines()) == 1


def test_risk_coverage_certified_point(pyplot, fitted):
    from skduo.metrics import certified_threshold

    _, _, duo, X, y = fitted
    disp = RiskCoverageDisplay.from_estimator(
        duo, X, y, target_risk=0.05, delta=0.1, name="duo"
    )
    expected = certified_threshold(
        y, duo.predict_proba(X), labels=duo.classes_, y_pred=duo.predict(X),
        target_risk=0.05, delta=0.1,
    )  # fmt: skip
    assert disp.certificate == expected and expected.certified
    x, r = _xy(disp.certified_point_)
    assert_allclose([x[0], r[0]], [expected.coverage, expected.risk])
    assert_allclose(_xy(disp.target_line_)[1], [0.05, 0.05])
    # the bar from the risk up to the bound, in the curve's colour
    (bar,) = disp.ax_.collections
    assert_allclose(bar.get_segments()[0][:, 1], [expected.risk, expected.risk_bound])
    labels = disp.ax_.get_legend_handles_labels()[1]
    assert "target risk 0.05" in labels
    assert any(lab.startswith("duo: certified coverage") for lab in labels)


def test_risk_coverage_uncertified_draws_only_the_target(pyplot):
    from skduo.metrics import CertificationWarning

    with pytest.warns(CertificationWarning):
        disp = RiskCoverageDisplay.from_predictions(Y4, P4, target_risk=0.02)
    assert disp.certified_point_ is None and disp.target_line_ is not None
    plain = RiskCoverageDisplay.from_predictions(Y4, P4)
    assert plain.certificate is None
    assert plain.certified_point_ is None and plain.target_line_ is None
