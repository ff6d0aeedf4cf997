"""docs/guide_serving.rst: a fitted duo saves with skops, trusting only its class."""

import numpy as np
import pytest

from skduo import DuoClassifier, TemperatureScalingClassifier

sio = pytest.importorskip("skops.io")


@pytest.mark.parametrize("cls", [DuoClassifier, TemperatureScalingClassifier])
def test_skops_round_trip_trusts_only_the_skduo_class(cls, tmp_path):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    large = LogisticRegression(max_iter=2000).fit(X[:600], y[:600])
    small = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    small.fit(X[:600], y[:600])
    members = (large, small) if cls is DuoClassifier else (large,)
    est = cls(*members).fit(X[600:1000], y[600:1000])

    path = tmp_path / "est.skops"
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == [f"{cls.__module__}.{cls.__qualname__}"]
    loaded = sio.load(path, trusted=untrusted)
    assert np.array_equal(loaded.predict_proba(X[1000:]), est.predict_proba(X[1000:]))
