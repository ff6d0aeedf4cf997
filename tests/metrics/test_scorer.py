"""Tests for the skduo scorers: values, CV integration, routing, name lookup."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_val_score,
    cross_validate,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from skduo.metrics import (
    augrc,
    aurc,
    correctness_auroc,
    correctness_auroc_scorer,
    coverage_at_accuracy,
    eaurc,
    expected_calibration_error,
    get_scorer,
    get_scorer_names,
    make_coverage_at_accuracy_scorer,
    make_proba_scorer,
    multiclass_brier_score,
    neg_augrc_scorer,
    neg_aurc_scorer,
    neg_brier_scorer,
    neg_eaurc_scorer,
    neg_ece_scorer,
    neg_nll_scorer,
    nll_loss,
)

SCORERS = {
    "neg_aurc": (neg_aurc_scorer, aurc, -1),
    "neg_eaurc": (neg_eaurc_scorer, eaurc, -1),
    "neg_augrc": (neg_augrc_scorer, augrc, -1),
    "neg_ece": (neg_ece_scorer, expected_calibration_error, -1),
    "neg_nll": (neg_nll_scorer, nll_loss, -1),
    "neg_brier": (neg_brier_scorer, multiclass_brier_score, -1),
    "correctness_auroc": (correctness_auroc_scorer, correctness_auroc, 1),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y = (X[:, 0] + 0.7 * X[:, 1] + rng.normal(size=150) > 0).astype(int)
    y[X[:, 2] > 1.0] = 2
    return X, y


@pytest.mark.parametrize("name", list(SCORERS))
def test_scorer_equals_signed_metric(name, data):
    X, y = data
    scorer, metric, sign = SCORERS[name]
    clf = GaussianNB().fit(X, y)
    expected = sign * metric(y, clf.predict_proba(X), labels=clf.classes_)
    assert scorer(clf, X, y) == expected
    assert get_scorer(name)(clf, X, y) == expected
    w = np.arange(len(y)) % 3
    expected_w = sign * metric(
        y, clf.predict_proba(X), labels=clf.classes_, sample_weight=w
    )
    assert scorer(clf, X, y, sample_weight=w) == expected_w


def test_coverage_at_accuracy_factory_and_names(data):
    X, y = data
    clf = GaussianNB().fit(X, y)
    proba = clf.predict_proba(X)
    for acc in (0.9, 0.95):
        expected = coverage_at_accuracy(y, proba, accuracy=acc)
        assert make_coverage_at_accuracy_scorer(acc)(clf, X, y) == expected
        assert get_scorer(f"coverage_at_accuracy_{round(acc * 100)}")(
            clf, X, y
        ) == pytest.approx(expected)
    margin = make_coverage_at_accuracy_scorer(0.9, confidence="margin")
    assert margin(clf, X, y) == coverage_at_accuracy(
        y, proba, accuracy=0.9, confidence="margin"
    )


def test_fold_missing_a_class_gives_finite_scores():
    # Class 2 has two samples, both in the first test fold: fold 0 trains
    # without it, folds 1-2 test without it. sklearn's neg_log_loss is NaN on
    # all three folds (measured, STYLE.md pitfalls); ours are finite.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3))
    y = np.r_[2, 2, (rng.random(58) > 0.5).astype(int)]
    cv = KFold(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about the failed folds
        sk = cross_val_score(GaussianNB(), X, y, cv=cv, scoring="neg_log_loss")
    assert np.isnan(sk).all()
    for name, (scorer, _, _) in SCORERS.items():
        if name == "correctness_auroc":
            continue  # may legitimately be nan only when a fold is all right
        scores = cross_val_score(
            GaussianNB(), X, y, cv=cv, scoring=scorer, error_score="raise"
        )
        assert np.isfinite(scores).all(), name
    # In fold 0 the unseen class gets probability 0: NLL of those two samples
    # is -log(eps64); check against a hand computation.
    train, test = next(cv.split(X))
    clf = GaussianNB().fit(X[train], y[train])
    proba = np.c_[clf.predict_proba(X[test]), np.zeros(len(test))]
    expected = nll_loss(y[test], proba, labels=[0, 1, 2])
    assert neg_nll_scorer(clf, X[test], y[test]) == pytest.approx(-expected)
    assert expected > 2 * 36.04 / len(test)


@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(max_iter=500),
        DecisionTreeClassifier(max_depth=3, random_state=0),
        GaussianNB(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_cross_validate_with_dict_scoring(estimator, data):
    X, y = data
    scoring = {name: get_scorer(name) for name in SCORERS}
    scoring["sac98"] = make_coverage_at_accuracy_scorer(0.98)
    scoring["accuracy"] = "accuracy"
    res = cross_validate(
        estimator, X, y, cv=KFold(3), scoring=scoring, error_score="raise"
    )
    for name in SCORERS:
        assert res[f"test_{name}"].shape == (3,)
        assert np.isfinite(res[f"test_{name}"]).all()
    assert (res["test_neg_aurc"] <= 0).all() and (res["test_neg_nll"] <= 0).all()
    # same numbers as the scorer applied by hand on each fold
    for i, (train, test) in enumerate(KFold(3).split(X)):
        est = sklearn.clone(estimator).fit(X[train], y[train])
        assert res["test_neg_aurc"][i] == pytest.approx(
            neg_aurc_scorer(est, X[test], y[test])
        )


def test_grid_search_refits_on_skduo_scorer(data):
    X, y = data
    search = GridSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": [1, 3, 6]},
        scoring={"neg_aurc": get_scorer("neg_aurc"), "acc": "accuracy"},
        refit="neg_aurc",
        cv=3,
    ).fit(X, y)
    means = search.cv_results_["mean_test_neg_aurc"]
    assert search.best_index_ == int(np.argmax(means))
    assert search.best_score_ == means.max()
    # single-metric scoring by object too
    single = GridSearchCV(
        GaussianNB(), {"var_smoothing": [1e-9, 1e-3]}, scoring=neg_ece_scorer, cv=3
    ).fit(X, y)
    assert np.isfinite(single.best_score_)


def test_sample_weight_through_metadata_routing(data):
    X, y = data
    w = 1.0 + (np.arange(len(y)) % 4)
    cv = KFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        est = GaussianNB().set_fit_request(sample_weight=False)
        routed = cross_validate(
            est,
            X,
            y,
            cv=cv,
            scoring={"neg_aurc": get_scorer("neg_aurc")},
            params={"sample_weight": w},
        )["test_neg_aurc"]
    # opting out via set_score_request is reflected in the routing
    opted_out = get_scorer("neg_aurc").set_score_request(sample_weight=False)
    assert opted_out.get_metadata_routing().score.requests == {"sample_weight": False}
    assert get_scorer("neg_aurc").get_metadata_routing().score.requests == {
        "sample_weight": True
    }
    expected, unweighted = [], []
    for train, test in cv.split(X):
        clf = GaussianNB().fit(X[train], y[train])
        proba = clf.predict_proba(X[test])
        expected.append(-aurc(y[test], proba, sample_weight=w[test]))
        unweighted.append(-aurc(y[test], proba))
    np.testing.assert_allclose(routed, expected)
    assert not np.allclose(expected, unweighted)


class _ShiftedPredictor(ClassifierMixin, BaseEstimator):
    """predict() returns the second most probable class (not the arg-max)."""

    def fit(self, X, y):
        self.inner_ = GaussianNB().fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)

    def predict(self, X):
        return self.classes_[np.argsort(self.predict_proba(X), axis=1)[:, -2]]


def test_prediction_from_predict(data):
    X, y = data
    clf = _ShiftedPredictor().fit(X, y)
    proba = clf.predict_proba(X)
    scorer = make_proba_scorer(aurc, greater_is_better=False, prediction="predict")
    assert scorer(clf, X, y) == -aurc(y, proba, y_pred=clf.predict(X))
    assert scorer(clf, X, y) != neg_aurc_scorer(clf, X, y)


def test_get_scorer_resolution():
    assert get_scorer("accuracy") is not None  # sklearn fallback
    assert get_scorer(None) is None
    assert get_scorer(neg_aurc_scorer) is neg_aurc_scorer
    assert get_scorer("neg_aurc") is not neg_aurc_scorer  # a fresh copy
    assert "neg_aurc" in get_scorer_names() and "neg_ece" in get_scorer_names()
    with pytest.raises(ValueError, match="not a valid scoring value.*skduo"):
        get_scorer("neg_aurcc")
    with pytest.raises(ValueError, match="between 0 and 100"):
        get_scorer("coverage_at_accuracy_101")
    assert repr(neg_aurc_scorer) == "make_proba_scorer(aurc, greater_is_better=False)"


def test_scorers_pickle(data):
    X, y = data
    clf = GaussianNB().fit(X, y)
    for scorer, _, _ in SCORERS.values():
        assert pickle.loads(pickle.dumps(scorer))(clf, X, y) == scorer(clf, X, y)


def test_scorer_errors(data):
    X, y = data
    svc = LinearSVC().fit(X, y)
    with pytest.raises(AttributeError, match="no predict_proba"):
        neg_aurc_scorer(svc, X, y)
    clf = GaussianNB().fit(X, y)
    with pytest.raises(TypeError, match="unexpected parameters"):
        neg_aurc_scorer(clf, X, y, foo=1)
    with pytest.raises(ValueError, match="'prediction' parameter"):
        make_proba_scorer(aurc, prediction="vote")
