"""One spelling per concept: the vocabulary and its deprecated aliases."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skduo import (
    DuoClassifier,
    LogitEnsemble,
    TemperatureScalingClassifier,
    WeightedEnsembleClassifier,
    fit_weighted_ensemble,
)
from skduo._fit._modes import FITS_BY_MODE
from skduo._vocabulary import (
    CONFIDENCES,
    DUO_MODES,
    ENSEMBLE_MODES,
    FIT_MODES,
    check_confidence,
)
from skduo.metrics._selective import CONFIDENCE_NAMES


def test_every_mode_has_exactly_one_fit():
    assert set(FITS_BY_MODE) == set(FIT_MODES)
    assert set(FIT_MODES) == {"temperature", *DUO_MODES, *ENSEMBLE_MODES}
    with pytest.raises(KeyError):  # no silent default
        FITS_BY_MODE["weighted"]


def test_estimators_validate_modes_from_the_vocabulary():
    duo = DuoClassifier._parameter_constraints["mode"][0]
    ens = WeightedEnsembleClassifier._parameter_constraints["mode"][0]
    assert duo.options == set(DUO_MODES) and ens.options == set(ENSEMBLE_MODES)
    # the shared constraints are extended, not copied
    for cls in (
        DuoClassifier,
        TemperatureScalingClassifier,
        WeightedEnsembleClassifier,
    ):
        assert {"response_method", "cv", "verbose"} <= set(cls._parameter_constraints)


def test_metrics_use_the_same_confidence_names():
    assert CONFIDENCE_NAMES == CONFIDENCES


def test_entropy_is_a_deprecated_alias():
    with pytest.warns(FutureWarning, match="use confidence='neg_entropy'"):
        assert check_confidence("entropy") == "neg_entropy"
    assert check_confidence("margin") == "margin"
    with pytest.raises(ValueError, match="must be one of"):
        check_confidence("max_logit")


def _members(rng, n=300, k=4):
    y = rng.integers(0, k, n)
    return [rng.normal(size=(n, k)) + s * np.eye(k)[y] for s in (2.0, 1.0)], y


def test_logit_ensemble_mode_and_deprecated_spellings(rng):
    (large, small), y = _members(rng)
    ens = fit_weighted_ensemble([large, small], y)
    assert ens.mode == "learned"
    with pytest.warns(FutureWarning, match="LogitEnsemble.mode"):
        assert ens.method == "learned"
    with pytest.warns(FutureWarning, match="'weighted' is deprecated"):
        old = LogitEnsemble(ens.weights, "weighted", 4, ens.validation_nll)
    assert old.mode == "learned"
    with pytest.raises(ValueError, match="mode must be one of"):
        LogitEnsemble(ens.weights, "stacked", 4, 0.0)
    # the deprecated 'entropy' gives the 'neg_entropy' values
    with pytest.warns(FutureWarning):
        ent = ens.confidence(large, small, kind="entropy")
    assert_array_equal(ent, ens.confidence(large, small, kind="neg_entropy"))


def test_logit_ensemble_margin_confidence(rng):
    (large, small), y = _members(rng)
    ens = fit_weighted_ensemble([large, small], y)
    p = np.sort(ens.predict_proba(large, small), axis=1)
    # margin: top probability minus the runner-up (hand-computed from sorted p)
    assert_allclose(ens.confidence(large, small, kind="margin"), p[:, -1] - p[:, -2])


def test_weighted_ensemble_weighting_is_a_deprecated_alias_of_mode(rng):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB

    X, y = load_digits(return_X_y=True)
    members = [
        ("lr", LogisticRegression(max_iter=300).fit(X[:900], y[:900])),
        ("nb", GaussianNB().fit(X[:900], y[:900])),
    ]
    new = WeightedEnsembleClassifier(members, mode="pooled").fit(X[900:], y[900:])
    old = WeightedEnsembleClassifier(members, weighting="pooled")
    with pytest.warns(FutureWarning, match="use mode="):
        old.fit(X[900:], y[900:])
    assert_array_equal(old.weights_, new.weights_)
    assert new.weights_[0] == new.weights_[1]
