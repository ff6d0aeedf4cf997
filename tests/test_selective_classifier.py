"""SelectiveClassifier: predict or abstain at a certified selective risk."""

import math
import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skduo import DuoClassifier, SelectiveClassifier
from skduo.metrics import CertificationWarning, certified_threshold


@pytest.fixture(scope="module")
def digits():
    """A logistic regression fitted on half of load_digits; the rest to calibrate."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, test_size=0.5, random_state=0, stratify=y
    )
    X_cal, X_test, y_cal, y_test = train_test_split(
        X_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest
    )
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    clf.fit(X_train, y_train)
    return clf, X_cal, y_cal, X_test, y_test


def test_fit_certifies_and_predict_abstains_below_the_threshold(digits):
    clf, X_cal, y_cal, X_test, y_test = digits
    sel = SelectiveClassifier(clf, target_risk=0.05, delta=0.1).fit(X_cal, y_cal)
    assert sel.certificate_.certified
    assert sel.risk_bound_ <= 0.05
    assert 0.5 < sel.coverage_ <= 1.0
    np.testing.assert_array_equal(sel.classes_, clf.classes_)
    assert sel.estimator_ is clf
    # the threshold is read the same way at fit and at predict time
    _, accepted = sel.predict_selective(X_cal)
    assert accepted.mean() == pytest.approx(sel.coverage_)
    labels, accepted = sel.predict_selective(X_test)
    proba = clf.predict_proba(X_test)
    np.testing.assert_array_equal(labels, clf.predict(X_test))
    np.testing.assert_array_equal(accepted, proba.max(axis=1) >= sel.threshold_)
    pred = sel.predict(X_test)
    np.testing.assert_array_equal(pred[accepted], labels[accepted])
    assert (pred[~accepted] == -1).all() and (~accepted).any()
    np.testing.assert_array_equal(sel.predict_proba(X_test), proba)


def test_one_implementation_with_the_array_function(digits):
    clf, X_cal, y_cal, _, _ = digits
    sel = SelectiveClassifier(clf, target_risk=0.02, confidence="margin").fit(
        X_cal, y_cal
    )
    expected = certified_threshold(
        y_cal, clf.predict_proba(X_cal), target_risk=0.02, confidence="margin"
    )
    assert sel.certificate_ == expected
    assert (sel.threshold_, sel.coverage_) == (expected.threshold, expected.coverage)


def test_score_counts_abstentions_as_wrong(digits):
    clf, X_cal, y_cal, X_test, y_test = digits
    sel = SelectiveClassifier(clf, target_risk=0.05).fit(X_cal, y_cal)
    labels, accepted = sel.predict_selective(X_test)
    expected = np.mean(accepted & (labels == y_test))
    assert sel.score(X_test, y_test) == pytest.approx(expected)


def test_string_labels_abstain_with_a_string(digits):
    clf, X_cal, y_cal, X_test, _ = digits
    names = np.array(list("abcdefghij"))
    lr = LogisticRegression(max_iter=2000, C=0.01).fit(X_cal, names[y_cal])
    sel = SelectiveClassifier(lr, target_risk=0.05).fit(X_cal, names[y_cal])
    pred = sel.predict(X_test)
    assert sel.abstain_label_ == "abstain"
    assert pred.dtype.kind == "U" and set(pred) <= {*names, "abstain"}
    _, accepted = sel.predict_selective(X_test)
    assert (pred[~accepted] == "abstain").all() and (~accepted).any()
    custom = SelectiveClassifier(lr, target_risk=0.05, abstain_label=None)
    custom.set_params(abstain_label="?").fit(X_cal, names[y_cal])
    assert set(custom.predict(X_test)) <= {*names, "?"}
    numeric = SelectiveClassifier(lr, target_risk=0.05, abstain_label=-1)
    pred = numeric.fit(X_cal, names[y_cal]).predict(X_test)
    assert pred.dtype == object and set(pred) <= {*names, -1} and -1 in set(pred)


def test_abstain_label_must_not_be_a_class(digits):
    clf, X_cal, y_cal, _, _ = digits
    with pytest.raises(ValueError, match="abstain_label=3 is one of the estimator"):
        SelectiveClassifier(clf, abstain_label=3).fit(X_cal, y_cal)
    shifted = LogisticRegression(max_iter=500).fit(X_cal, y_cal - 1)  # -1 .. 8
    with pytest.raises(ValueError, match="abstain_label=-1"):
        SelectiveClassifier(shifted).fit(X_cal, y_cal - 1)
    sel = SelectiveClassifier(shifted, abstain_label=99, target_risk=0.1)
    assert sel.fit(X_cal, y_cal - 1).abstain_label_ == 99


def test_nothing_certified_abstains_everywhere(digits):
    clf, X_cal, y_cal, X_test, y_test = digits
    with pytest.warns(CertificationWarning, match=r"at least 2995 rows"):
        sel = SelectiveClassifier(clf, target_risk=0.001).fit(X_cal, y_cal)
    assert sel.threshold_ == math.inf and sel.coverage_ == 0.0
    assert math.isnan(sel.risk_bound_)
    assert (sel.predict(X_test) == -1).all()
    assert not sel.predict_selective(X_test)[1].any()
    assert sel.score(X_test, y_test) == 0.0


def test_unfitted_estimator_is_refused_not_fitted(digits):
    _, X_cal, y_cal, _, _ = digits
    with pytest.raises(NotFittedError, match="needs an already fitted estimator"):
        SelectiveClassifier(LogisticRegression()).fit(X_cal, y_cal)


def test_predict_before_fit_raises(digits):
    clf, _, _, X_test, _ = digits
    with pytest.raises(NotFittedError):
        SelectiveClassifier(clf).predict(X_test)


def test_parameter_validation(digits):
    clf, X_cal, y_cal, _, _ = digits
    for bad in ({"target_risk": 0.0}, {"delta": 1.0}, {"confidence": "entropy?"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SelectiveClassifier(clf, **bad).fit(X_cal, y_cal)
    with pytest.raises(ValueError, match="estimator"):
        SelectiveClassifier(object()).fit(X_cal, y_cal)


def test_integer_weights_equal_repeats_and_others_are_refused(digits):
    clf, X_cal, y_cal, _, _ = digits
    w = np.random.default_rng(0).integers(0, 3, size=len(y_cal))
    rows = np.repeat(np.arange(len(y_cal)), w)
    weighted = SelectiveClassifier(clf, target_risk=0.05).fit(X_cal, y_cal, w)
    repeated = SelectiveClassifier(clf, target_risk=0.05).fit(X_cal[rows], y_cal[rows])
    assert weighted.certificate_ == repeated.certificate_
    with pytest.raises(ValueError, match="integer sample_weight"):
        SelectiveClassifier(clf).fit(X_cal, y_cal, np.full(len(y_cal), 0.7))


def test_clone_keeps_the_fitted_estimator_and_pickles(digits):
    clf, X_cal, y_cal, X_test, _ = digits
    sel = SelectiveClassifier(clf, target_risk=0.05, confidence="neg_entropy")
    copy = clone(sel)
    assert copy.estimator is clf
    assert copy.get_params(deep=False)["confidence"] == "neg_entropy"
    assert clone(SelectiveClassifier(LogisticRegression())).estimator is not None
    sel.fit(X_cal, y_cal)
    restored = pickle.loads(pickle.dumps(sel))
    np.testing.assert_array_equal(restored.predict(X_test), sel.predict(X_test))


def test_cross_validate_recalibrates_only(digits):
    clf, X_cal, y_cal, _, _ = digits
    coef = clf[-1].coef_.copy()

    def coverage(est, X, y):
        return float(est.predict_selective(X)[1].mean())

    res = cross_validate(
        SelectiveClassifier(clf, target_risk=0.05),
        X_cal,
        y_cal,
        cv=KFold(3, shuffle=True, random_state=0),
        scoring={"answered_correctly": "accuracy", "coverage": coverage},
        return_estimator=True,
    )
    assert all(est.estimator_ is clf for est in res["estimator"])
    np.testing.assert_array_equal(clf[-1].coef_, coef)
    assert np.all(res["test_coverage"] > 0.3)
    assert np.all(res["test_answered_correctly"] <= res["test_coverage"])


def test_grid_search_over_the_confidence_score(digits):
    clf, X_cal, y_cal, _, _ = digits
    search = GridSearchCV(
        SelectiveClassifier(clf, target_risk=0.05),
        {"confidence": ["msp", "margin", "neg_entropy"]},
        cv=3,
    ).fit(X_cal, y_cal)
    assert search.best_params_["confidence"] in ("msp", "margin", "neg_entropy")
    assert search.best_estimator_.estimator_ is clf


def test_inside_a_pipeline_with_a_frozen_estimator(digits):
    clf, X_cal, y_cal, X_test, _ = digits
    pipe = make_pipeline(
        FunctionTransformer(),
        SelectiveClassifier(FrozenEstimator(clf), target_risk=0.05),
    )
    pipe.fit(X_cal, y_cal)
    direct = SelectiveClassifier(clf, target_risk=0.05).fit(X_cal, y_cal)
    np.testing.assert_array_equal(pipe.predict(X_test), direct.predict(X_test))


@pytest.mark.filterwarnings("ignore:The members separate the validation data")
def test_uq_only_duo_uses_its_own_predictions(digits):
    clf, X_cal, y_cal, X_test, _ = digits
    from sklearn.naive_bayes import GaussianNB

    X_half, y_half = X_cal[:200], y_cal[:200]
    small = GaussianNB().fit(X_half, y_half)
    duo = DuoClassifier(clf, small, mode="uq_only").fit(X_half, y_half)
    sel = SelectiveClassifier(duo, target_risk=0.1).fit(X_cal[200:], y_cal[200:])
    labels, _ = sel.predict_selective(X_test)
    np.testing.assert_array_equal(labels, duo.predict(X_test))
    argmax = SelectiveClassifier(duo, target_risk=0.1, prediction="argmax")
    labels, _ = argmax.fit(X_cal[200:], y_cal[200:]).predict_selective(X_test)
    np.testing.assert_array_equal(labels, duo.predict_proba(X_test).argmax(axis=1))


def test_metadata_routing_of_sample_weight(digits):
    clf, X_cal, y_cal, _, _ = digits
    w = np.ones(len(y_cal), dtype=int)
    w[:50] = 3
    with sklearn.config_context(enable_metadata_routing=True):
        sel = SelectiveClassifier(clf, target_risk=0.05).set_fit_request(
            sample_weight=True
        )
        scoring = get_scorer("accuracy").set_score_request(sample_weight=True)
        res = cross_validate(
            sel, X_cal, y_cal, cv=3, params={"sample_weight": w}, scoring=scoring
        )
    assert np.isfinite(res["test_score"]).all()


def test_callable_confidence(digits):
    clf, X_cal, y_cal, X_test, _ = digits

    def top2_ratio(proba):
        top = np.sort(proba, axis=1)[:, -2:]
        return top[:, 1] / (top[:, 0] + 1e-12)

    sel = SelectiveClassifier(clf, target_risk=0.05, confidence=top2_ratio)
    sel.fit(X_cal, y_cal)
    conf = top2_ratio(clf.predict_proba(X_test))
    np.testing.assert_array_equal(
        sel.predict_selective(X_test)[1], conf >= sel.threshold_
    )


# --------------------------------------------------------------------------
# validity on real data: a duo on load_digits
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_duo_population():
    """Confidence and correctness of a duo on the digits it never saw.

    The 897 digits held out from training the members (gradient-boosted trees
    and a logistic regression, 600 rows) and fitting the duo's weights (300
    rows).
    """
    from sklearn.datasets import load_digits
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_rest, y_train, y_rest = train_test_split(
        X / 16, y, train_size=600, random_state=0, stratify=y
    )
    X_val, X_pool, y_val, y_pool = train_test_split(
        X_rest, y_rest, train_size=300, random_state=0, stratify=y_rest
    )
    large = HistGradientBoostingClassifier(random_state=0).fit(X_train, y_train)
    small = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    proba = duo.predict_proba(X_pool)
    return proba.max(axis=1), proba.argmax(axis=1) == y_pool


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.01, 0.02, 0.05])
@pytest.mark.parametrize("delta", [0.05, 0.1])
def test_validity_duo_on_digits_1000_draws(digits_duo_population, alpha, delta):
    # Each draw calibrates on 448 rows drawn from the held-out digits (with
    # replacement: independent draws from that population), and the certified
    # threshold's risk is the population's own error rate among the rows it
    # accepts -- exactly what the guarantee bounds.
    conf, correct = digits_duo_population
    rng = np.random.default_rng(0)
    n = len(conf)
    violations = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CertificationWarning)
        for _ in range(1000):
            rows = rng.integers(0, n, n // 2)
            res = certified_threshold(
                np.zeros(n // 2, int), None, y_pred=np.where(correct[rows], 0, 1),
                confidence=conf[rows], target_risk=alpha, delta=delta,
            )  # fmt: skip
            accepted = conf >= res.threshold
            violations += accepted.any() and (~correct[accepted]).mean() > alpha
    assert violations / 1000 <= delta + 3 * math.sqrt(delta * (1 - delta) / 1000)
