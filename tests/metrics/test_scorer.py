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

from skduo import DuoClassifier
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
    # The scorers score predict(), the estimator's own predictions (changed on
    # purpose, issue 12: this test asserted that neg_aurc_scorer scored the
    # arg-max); prediction='argmax' is the other choice.
    X, y = data
    clf = _ShiftedPredictor().fit(X, y)
    proba = clf.predict_proba(X)
    scorer = make_proba_scorer(aurc, greater_is_better=False, prediction="predict")
    assert scorer(clf, X, y) == -aurc(y, proba, y_pred=clf.predict(X))
    assert neg_aurc_scorer(clf, X, y) == scorer(clf, X, y)
    argmax = make_proba_scorer(aurc, greater_is_better=False, prediction="argmax")
    assert argmax(clf, X, y) == -aurc(y, proba)
    assert argmax(clf, X, y) != scorer(clf, X, y)
    assert repr(argmax) == (
        "make_proba_scorer(aurc, greater_is_better=False, prediction='argmax')"
    )


class _CountingNB(GaussianNB):
    """GaussianNB that counts its predict and predict_proba calls."""

    def predict(self, X):
        self.n_predict_ = getattr(self, "n_predict_", 0) + 1
        return super().predict(X)

    def predict_proba(self, X):
        self.n_proba_ = getattr(self, "n_proba_", 0) + 1
        return super().predict_proba(X)


@pytest.mark.parametrize("name", list(SCORERS))
def test_predict_is_called_only_by_metrics_taking_y_pred(name, data):
    X, y = data
    clf = _CountingNB().fit(X, y)
    SCORERS[name][0](clf, X, y)
    selective = name in ("neg_aurc", "neg_eaurc", "neg_augrc", "correctness_auroc")
    assert clf.n_proba_ == 1
    assert getattr(clf, "n_predict_", 0) == (1 if selective else 0)
    clf = _CountingNB().fit(X, y)
    make_coverage_at_accuracy_scorer(0.9)(clf, X, y)
    assert (clf.n_proba_, clf.n_predict_) == (1, 1)


@pytest.fixture(scope="module")
def duo_members(digits_splits):
    # Two logistic regressions on disjoint parts of the training split (the
    # "small" one heavily regularised): their duo disagrees with the large
    # member on 19 of the 450 test digits, so uq_only differs from asymmetric.
    X_train, y_train, X_val, y_val, X_test, y_test = digits_splits
    large = LogisticRegression(max_iter=2000).fit(X_train[:300], y_train[:300])
    small = LogisticRegression(C=1e-4, max_iter=2000)
    small.fit(X_train[300:], y_train[300:])
    return large, small, X_val, y_val, X_test, y_test


def _aurc_by_hand(correct, conf):
    """(1/N) sum_k E_k / k over the samples sorted by decreasing confidence."""
    assert np.unique(conf).shape[0] == conf.shape[0]  # no ties to resolve
    errors = ~correct[np.argsort(-conf)]
    return float(np.mean(np.cumsum(errors) / np.arange(1, errors.shape[0] + 1)))


SELECTIVE = {
    "neg_aurc": (aurc, -1),
    "neg_eaurc": (eaurc, -1),
    "neg_augrc": (augrc, -1),
    "correctness_auroc": (correctness_auroc, 1),
    "coverage_at_accuracy_98": (coverage_at_accuracy, 1),
}


@pytest.mark.parametrize("mode", ["asymmetric", "unweighted", "uq_only"])
def test_selective_scorers_score_each_duo_modes_own_predictions(mode, duo_members):
    large, small, X_val, y_val, X_test, y_test = duo_members
    duo = DuoClassifier(large, small, mode=mode).fit(X_val, y_val)
    proba, y_pred = duo.predict_proba(X_test), duo.predict(X_test)
    for name, (metric, sign) in SELECTIVE.items():
        expected = sign * metric(y_test, proba, labels=duo.classes_, y_pred=y_pred)
        assert get_scorer(name)(duo, X_test, y_test) == expected, name
    # AURC by hand: correctness of the duo's predictions, ranked by the duo's
    # probability of each prediction.
    pred_col = np.searchsorted(duo.classes_, y_pred)
    conf = proba[np.arange(len(y_test)), pred_col]
    hand = _aurc_by_hand(y_pred == y_test, conf)
    assert neg_aurc_scorer(duo, X_test, y_test) == pytest.approx(-hand, rel=1e-12)
    argmax = make_proba_scorer(aurc, greater_is_better=False, prediction="argmax")
    if mode == "uq_only":
        # predict() is the large member's prediction, not the duo's arg-max
        np.testing.assert_array_equal(y_pred, large.predict(X_test))
        assert (y_pred != duo.classes_[proba.argmax(axis=1)]).any()
        assert argmax(duo, X_test, y_test) != neg_aurc_scorer(duo, X_test, y_test)
    else:
        assert argmax(duo, X_test, y_test) == neg_aurc_scorer(duo, X_test, y_test)


def test_uq_only_aurc_by_hand_from_the_large_members_predictions(duo_members):
    large, small, X_val, y_val, X_test, y_test = duo_members
    uq = DuoClassifier(large, small, mode="uq_only").fit(X_val, y_val)
    asym = DuoClassifier(large, small, mode="asymmetric").fit(X_val, y_val)
    proba = uq.predict_proba(X_test)
    np.testing.assert_array_equal(proba, asym.predict_proba(X_test))
    # the large member's predictions, scored with the duo's probability of them
    large_pred = large.predict(X_test)
    conf = proba[np.arange(len(y_test)), np.searchsorted(uq.classes_, large_pred)]
    hand = _aurc_by_hand(large_pred == y_test, conf)
    assert neg_aurc_scorer(uq, X_test, y_test) == pytest.approx(-hand, rel=1e-12)
    # ... which differs from the asymmetric duo's (its own arg-max, its max)
    asym_pred = asym.predict(X_test)
    hand_asym = _aurc_by_hand(asym_pred == y_test, proba.max(axis=1))
    assert neg_aurc_scorer(asym, X_test, y_test) == pytest.approx(-hand_asym, rel=1e-12)
    assert hand != pytest.approx(hand_asym, rel=1e-3)
    # Probability-only scorers agree: the paper's UQ-only NLL/ECE/Brier rows
    # equal the asymmetric duo's.
    for scorer in (neg_nll_scorer, neg_ece_scorer, neg_brier_scorer):
        assert scorer(uq, X_test, y_test) == scorer(asym, X_test, y_test)


def test_grid_search_over_mode_tells_uq_only_apart(duo_members):
    # With the old arg-max scoring, uq_only and asymmetric got identical CV
    # scores and a grid search over mode could not tell them apart.
    large, small, X_val, y_val, _, _ = duo_members
    search = GridSearchCV(
        DuoClassifier(large, small),
        {"mode": ["asymmetric", "unweighted", "uq_only"]},
        scoring={"aurc": neg_aurc_scorer, "auroc": correctness_auroc_scorer},
        refit="aurc",
        cv=KFold(3),
    ).fit(X_val, y_val)
    res = search.cv_results_
    modes = list(res["param_mode"])
    for key in ("aurc", "auroc"):
        scores = res[f"split0_test_{key}"]
        asym, uq = scores[modes.index("asymmetric")], scores[modes.index("uq_only")]
        assert asym != uq, key
    # fold 0 of uq_only, by hand
    train, test = next(KFold(3).split(X_val))
    uq = DuoClassifier(large, small, mode="uq_only").fit(X_val[train], y_val[train])
    proba = uq.predict_proba(X_val[test])
    large_pred = large.predict(X_val[test])
    conf = proba[np.arange(len(test)), np.searchsorted(uq.classes_, large_pred)]
    hand = _aurc_by_hand(large_pred == y_val[test], conf)
    assert res["split0_test_aurc"][modes.index("uq_only")] == pytest.approx(
        -hand, rel=1e-12
    )


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


def test_each_scorer_object_has_its_own_docstring():
    # Sphinx documents module-level instances with their __doc__, which for a
    # plain instance is the class docstring: all seven rows read the same.
    summaries = {}
    for name, (scorer, metric, _) in SCORERS.items():
        doc = scorer.__doc__
        assert doc is not type(scorer).__doc__
        summary = doc.splitlines()[0]
        assert summary.startswith("Scorer: ") and len(summary) <= 76, summary
        assert f"make_proba_scorer({metric.__name__}" in doc
        assert f'``"{name}"``' in doc
        summaries[name] = summary
    assert len(set(summaries.values())) == len(SCORERS)
    # the selective ones say that they score predict()
    for name in ("neg_aurc", "neg_eaurc", "neg_augrc", "correctness_auroc"):
        assert "y_pred=estimator.predict(X)" in SCORERS[name][0].__doc__
    assert "predict`` is not called" in neg_ece_scorer.__doc__
    # what Sphinx's autodoc reads for a data object, when Sphinx is there
    sphinx_inspect = pytest.importorskip("sphinx.util.inspect")
    assert sphinx_inspect.getdoc(neg_aurc_scorer) == neg_aurc_scorer.__doc__
    # copies made by get_scorer keep it
    assert get_scorer("neg_aurc").__doc__ == neg_aurc_scorer.__doc__


class _CountingLogisticRegression(LogisticRegression):
    """Counts its prediction calls (class-level, shared by clones)."""

    calls = {"predict_proba": 0, "predict": 0}

    def predict_proba(self, X):
        type(self).calls["predict_proba"] += 1
        return super().predict_proba(X)

    def predict(self, X):
        type(self).calls["predict"] += 1
        return super().predict(X)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "multiclass"])
def test_multimetric_scoring_shares_one_prediction_per_fold(binary, data):
    X, y = data
    if binary:
        y = (y > 0).astype(int)
    scoring = {name: get_scorer(name) for name in SCORERS}
    scoring["sac98"] = make_coverage_at_accuracy_scorer(0.98)
    scoring["neg_log_loss"] = "neg_log_loss"
    calls = _CountingLogisticRegression.calls
    calls.update(predict_proba=0, predict=0)
    res = cross_validate(
        _CountingLogisticRegression(max_iter=500),
        X,
        y,
        cv=KFold(3),
        scoring=scoring,
        return_train_score=True,
        error_score="raise",
    )
    # 3 folds x (train, test): one predict_proba and one predict each for all
    # eight skduo scorers; scikit-learn's neg_log_loss reads the shared
    # multiclass array, and makes its own (positive-column) call when binary
    assert calls["predict_proba"] == 6 * (2 if binary else 1)
    assert calls["predict"] == 6
    # the shared predictions give exactly what each scorer computes alone
    for i, (train, test) in enumerate(KFold(3).split(X)):
        est = LogisticRegression(max_iter=500).fit(X[train], y[train])
        for name, scorer in scoring.items():
            if name == "neg_log_loss":
                continue
            assert res[f"test_{name}"][i] == scorer(est, X[test], y[test]), name
            assert res[f"train_{name}"][i] == scorer(est, X[train], y[train]), name
