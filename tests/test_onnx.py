"""skduo.onnx: skl2onnx converters for the three estimators, run in onnxruntime."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from skl2onnx import to_onnx  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import skduo.onnx  # noqa: E402, F401  (registers the converters)
from skduo import (  # noqa: E402
    DuoClassifier,
    TemperatureScalingClassifier,
    WeightedEnsembleClassifier,
)


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return X[:900], y[:900], X[900:1400], y[900:1400], X[1400:], y[1400:]


@pytest.fixture(scope="module")
def members(data):
    X_train, y_train, *_ = data
    # trained on different halves: both members get a positive weight
    large = LogisticRegression(max_iter=300).fit(X_train[:450], y_train[:450])
    small = LogisticRegression(max_iter=300).fit(X_train[450:], y_train[450:])
    forest = RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0)
    return large, small, forest.fit(X_train, y_train)


def run(estimator, X):
    """(labels, probabilities) of the converted model on X (float32)."""
    onx = to_onnx(estimator, X[:1], options={id(estimator): {"zipmap": False}})
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def assert_same_predictions(estimator, X):
    labels, proba = run(estimator, X)
    expected = estimator.predict_proba(X)
    # float32 graph vs float64 estimator
    np.testing.assert_allclose(proba, expected, rtol=0, atol=2e-5)
    # labels agree except where the top two probabilities tie in float32
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-5
    np.testing.assert_array_equal(labels[clear], estimator.predict(X)[clear])


def test_duo_of_linear_members(members, data):
    large, small, _ = members
    _, _, X_val, y_val, X_test, _ = data
    duo = DuoClassifier(large, FrozenEstimator(small)).fit(X_val, y_val)
    assert (duo.weights_ > 0).all()
    assert_same_predictions(duo, X_test)


@pytest.mark.filterwarnings("ignore:.*saturated:UserWarning")
def test_probability_member_with_exact_zeros(members, data):
    large, _, forest = members
    _, _, X_val, y_val, X_test, _ = data
    duo = DuoClassifier(large, forest).fit(X_val, y_val)
    assert (forest.predict_proba(X_test) == 0).any()  # log(0) -> log(2.23e-308)
    assert duo.weights_[1] > 0
    assert_same_predictions(duo, X_test)


def test_pipeline_member_string_labels_and_uq_only(data):
    X_train, y_train, X_val, y_val, X_test, _ = data
    names = np.array([f"digit {d}" for d in range(10)])
    large = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=300))
    large.fit(X_train, names[y_train])
    small = LogisticRegression(C=0.02, max_iter=300).fit(X_train, names[y_train])
    for mode in ("asymmetric", "uq_only"):
        duo = DuoClassifier(large, small, mode=mode).fit(X_val, names[y_val])
        labels, proba = run(duo, X_test)
        np.testing.assert_allclose(proba, duo.predict_proba(X_test), atol=2e-5)
        assert (labels == duo.predict(X_test)).mean() > 0.99


def test_binary_members(data):
    X_train, y_train, X_val, y_val, X_test, _ = data
    yb_train, yb_val = y_train > 4, y_val > 4
    large = LogisticRegression(max_iter=300).fit(X_train, yb_train)
    small = LogisticRegression(C=0.01, max_iter=300).fit(X_train, yb_train)
    duo = DuoClassifier(large, small).fit(X_val, yb_val.astype(int))
    assert_same_predictions(duo, X_test)


@pytest.mark.filterwarnings("ignore:.*saturated:UserWarning")
def test_baselines(members, data):
    large, small, forest = members
    _, _, X_val, y_val, X_test, _ = data
    ts = TemperatureScalingClassifier(large).fit(X_val, y_val)
    assert_same_predictions(ts, X_test)
    pooled = WeightedEnsembleClassifier(
        [("a", large), ("b", small), ("c", forest)], mode="pooled"
    ).fit(X_val, y_val)
    assert_same_predictions(pooled, X_test)


def test_zipmap_output(members, data):
    large, small, _ = members
    _, _, X_val, y_val, X_test, _ = data
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    onx = to_onnx(duo, X_test[:1])
    session = ort.InferenceSession(onx.SerializeToString())
    _, maps = session.run(None, {session.get_inputs()[0].name: X_test[:3]})
    assert maps[0][3] == pytest.approx(duo.predict_proba(X_test[:1])[0, 3], abs=2e-5)


@pytest.mark.filterwarnings("ignore:.*saturated:UserWarning")
def test_log_probability_members_are_refused(members, data):
    large, *_ = members
    X_train, y_train, X_val, y_val, X_test, _ = data
    nb = GaussianNB().fit(X_train, y_train)
    # the exact MLE gives nb a positive weight (the default prior gives it 0,
    # and a member of weight 0 is not converted)
    duo = DuoClassifier(large, nb, prior=None).fit(X_val, y_val)
    with pytest.raises(NotImplementedError, match="small member .*predict_log_proba"):
        to_onnx(duo, X_test[:1])
    # read through its probabilities, it converts
    duo = DuoClassifier(large, nb, response_method=("auto", "predict_proba"))
    duo.fit(X_val, y_val)
    labels, proba = run(duo, X_test)
    # GaussianNB's saturated probabilities underflow differently in float32:
    # 0.0096 apart at most here, and the same labels
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba, duo.predict_proba(X_test), atol=0.02)
    assert (labels == duo.predict(X_test)).mean() > 0.99


def test_import_skduo_does_not_import_skl2onnx():
    code = "import sys, skduo; print('skl2onnx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
