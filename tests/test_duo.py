"""DuoClassifier behaviour: member handling, modes, labels, weights, errors."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.naive_bayes import GaussianNB
from sklearn.utils._param_validation import InvalidParameterError

from skduo import DuoClassifier
from skduo._fit._weight_fit import SeparationWarning, fit_logit_weights, nll
from skduo._outputs._logit_ops import log_softmax, softmax

# --------------------------------------------------------------------------------
# fixtures and helper members
# --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities in [0, 1]: LogisticRegression converges fast
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=0.4, random_state=0, stratify=y
    )
    return X_train, y_train, X_val, y_val


@pytest.fixture(scope="module")
def members(digits):
    X_train, y_train, _, _ = digits
    large = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    small = GaussianNB().fit(X_train, y_train)
    return large, small


class TableClassifier(ClassifierMixin, BaseEstimator):
    """A fitted member whose output for row ``X[i]`` is ``table[int(X[i, 0])]``.

    ``method`` names the only output method it has.
    """

    def __init__(self, table, classes, method="decision_function"):
        self.table = table
        self.classes = classes
        self.method = method

    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        return np.asarray(self.classes)

    def fit(self, X, y):
        return self

    def _out(self, X):
        return np.asarray(self.table)[np.asarray(X)[:, 0].astype(int)]

    def __getattr__(self, name):
        if name in ("decision_function", "predict_proba", "predict_log_proba"):
            if name == self.__dict__.get("method"):
                return self._out
        raise AttributeError(name)

    def predict(self, X):
        return self.classes_[np.argmax(self._out(X), axis=1)]


def _rows(n):
    return np.arange(n, dtype=float).reshape(-1, 1)


def _logit_tables(rng, n=400, k=4):
    base = 2 * rng.normal(size=(n, k))
    z_l = base + rng.normal(size=(n, k))
    z_s = base + 1.5 * rng.normal(size=(n, k))
    p = softmax(1.1 * z_l + 0.4 * z_s)
    y = np.minimum((p.cumsum(1) < rng.random(n)[:, None]).sum(1), k - 1)
    return z_l, z_s, y


# --------------------------------------------------------------------------------
# the weights are the exact optimum of the NLL on the members' logits
# --------------------------------------------------------------------------------


def test_weights_equal_the_numerical_core_on_member_logits(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    # independent extraction: LR logits, GaussianNB log-probabilities
    z_l = large.decision_function(X_val)
    z_s = small.predict_log_proba(X_val)
    # the default fit: the weak prior centred at (1, 0) (issue 26)
    expected = fit_logit_weights([z_l, z_s], y_val, prior="auto", prior_centres=[1, 0])
    np.testing.assert_allclose(duo.weights_, expected, rtol=1e-10)
    assert duo.weights_.dtype == np.float64 and duo.weights_.shape == (2,)
    assert (duo.weights_ >= 0).all()
    np.testing.assert_allclose(
        duo.decision_function(X_val), expected[0] * z_l + expected[1] * z_s
    )
    np.testing.assert_allclose(
        duo.predict_proba(X_val), softmax(expected[0] * z_l + expected[1] * z_s)
    )
    np.testing.assert_allclose(
        duo.predict_log_proba(X_val), log_softmax(expected[0] * z_l + expected[1] * z_s)
    )
    assert duo.validation_nll_ == pytest.approx(
        nll([z_l, z_s], y_val, expected), rel=1e-12
    )


def test_validation_nll_not_above_either_member_temperature_scaled(rng):
    z_l, z_s, y = _logit_tables(rng)
    classes = np.arange(4)
    duo = DuoClassifier(TableClassifier(z_l, classes), TableClassifier(z_s, classes))
    duo.fit(_rows(len(y)), y)
    for z in (z_l, z_s):
        res = fit_logit_weights([z], y, return_result=True)
        assert duo.validation_nll_ <= res.nll + 1e-9


def test_member_swap_swaps_weights(rng):
    z_l, z_s, y = _logit_tables(rng)
    a, b = TableClassifier(z_l, range(4)), TableClassifier(z_s, range(4))
    # the exact MLE is symmetric in the roles (the default prior is not)
    w_ab = DuoClassifier(a, b, prior=None).fit(_rows(len(y)), y).weights_
    w_ba = DuoClassifier(b, a, prior=None).fit(_rows(len(y)), y).weights_
    np.testing.assert_allclose(w_ba, w_ab[::-1], rtol=1e-6)


# --------------------------------------------------------------------------------
# fitted members: never refit or mutated; clone keeps them
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("frozen", [False, True])
def test_fitted_members_are_not_mutated(members, digits, frozen):
    large, small = members
    _, _, X_val, y_val = digits
    before = joblib.hash(large), joblib.hash(small)
    lg, sm = (FrozenEstimator(large), FrozenEstimator(small)) if frozen else members
    duo = DuoClassifier(lg, sm).fit(X_val, y_val)
    duo.predict_proba(X_val)
    cross_val_score(DuoClassifier(lg, sm), X_val, y_val, cv=3)
    assert (joblib.hash(large), joblib.hash(small)) == before
    assert duo.large_ is lg and duo.small_ is sm


def test_clone_keeps_fitted_members_and_clones_unfitted(members):
    large, small = members
    duo = DuoClassifier(large, small, mode="unweighted")
    cloned = clone(duo)
    assert cloned.large is large and cloned.small is small
    assert cloned.mode == "unweighted"
    unfitted = DuoClassifier(LogisticRegression(), GaussianNB())
    cloned = clone(unfitted)
    assert cloned.large is not unfitted.large
    assert cloned.large.get_params() == unfitted.large.get_params()


def test_cross_validation_fits_only_weights(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    scores = cross_val_score(
        DuoClassifier(large, small), X_val, y_val, cv=5, scoring="neg_log_loss"
    )
    assert np.isfinite(scores).all()
    # the members' held-out NLL reference: the duo on each fold is at least as
    # good on average as the temperature-scaled large member in the same folds
    ref = cross_val_score(
        DuoClassifier(large, small, mode="uq_only"),
        X_val,
        y_val,
        cv=5,
        scoring="accuracy",
    )
    np.testing.assert_allclose(
        ref, [large.score(X_val[t], y_val[t]) for t in _folds(X_val, y_val)]
    )
    grid = GridSearchCV(
        DuoClassifier(large, small),
        {"mode": ["asymmetric", "unweighted"]},
        cv=3,
        scoring="neg_log_loss",
    ).fit(X_val, y_val)
    assert grid.best_estimator_.large_ is large


def _folds(X, y):
    from sklearn.model_selection import StratifiedKFold

    return [test for _, test in StratifiedKFold(5).split(X, y)]


def test_unfitted_members_are_cross_fitted(digits):
    X_train, y_train, X_val, y_val = digits
    lr, nb = LogisticRegression(max_iter=2000), GaussianNB()
    duo = DuoClassifier(lr, nb, cv=3).fit(X_train, y_train)
    assert not hasattr(lr, "coef_")  # the given objects stay unfitted
    np.testing.assert_allclose(
        duo.large_.coef_, clone(lr).fit(X_train, y_train).coef_, rtol=1e-6
    )
    # weights were fitted on out-of-fold logits
    from sklearn.model_selection import cross_val_predict

    z_l = cross_val_predict(lr, X_train, y_train, cv=3, method="decision_function")
    z_s = cross_val_predict(nb, X_train, y_train, cv=3, method="predict_log_proba")
    np.testing.assert_allclose(
        duo.weights_,
        fit_logit_weights([z_l, z_s], y_train, prior="auto", prior_centres=[1, 0]),
        rtol=1e-6,
    )
    assert duo.score(X_val, y_val) > 0.9


# --------------------------------------------------------------------------------
# modes
# --------------------------------------------------------------------------------


def test_unweighted_mode_averages_temperature_scaled_members(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    duo = DuoClassifier(large, small, mode="unweighted").fit(X_val, y_val)
    w_l = fit_logit_weights([large.decision_function(X_val)], y_val, prior="auto")
    w_s = fit_logit_weights([small.predict_log_proba(X_val)], y_val, prior="auto")
    np.testing.assert_allclose(duo.weights_, np.r_[w_l, w_s] / 2, rtol=1e-10)


def test_uq_only_predicts_like_large_with_duo_probabilities(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    asym = DuoClassifier(large, small).fit(X_val, y_val)
    uq = DuoClassifier(large, small, mode="uq_only").fit(X_val, y_val)
    np.testing.assert_array_equal(uq.predict(X_val), large.predict(X_val))
    np.testing.assert_array_equal(uq.predict_proba(X_val), asym.predict_proba(X_val))
    np.testing.assert_array_equal(uq.weights_, asym.weights_)


def test_zero_weight_member_is_not_evaluated(rng):
    z_l, _, y = _logit_tables(rng)
    calls = []

    class Counting(TableClassifier):
        def _out(self, X):
            calls.append(len(X))
            return super()._out(X)

    # a misleading sidekick: the optimum gives it weight exactly 0
    bad = -2.0 * np.eye(4)[y] + rng.normal(size=z_l.shape)
    duo = DuoClassifier(TableClassifier(z_l, range(4)), Counting(bad, range(4)))
    duo.fit(_rows(len(y)), y)
    assert duo.weights_[1] == 0.0
    calls.clear()
    duo.predict_proba(_rows(len(y)))
    assert calls == []


# --------------------------------------------------------------------------------
# member outputs -> logits
# --------------------------------------------------------------------------------


def test_binary_decision_function_reproduces_large_member_exactly(digits):
    X_train, y_train, X_val, y_val = digits
    yb_train, yb_val = (y_train > 4).astype(int), (y_val > 4).astype(int)
    large = LogisticRegression(max_iter=2000).fit(X_train, yb_train)
    small = GaussianNB().fit(X_train, yb_train)
    duo = DuoClassifier(large, small).fit(X_val, yb_val)
    assert duo.decision_function(X_val).shape == (len(X_val),)
    duo.weights_ = np.array([1.0, 0.0])
    np.testing.assert_allclose(
        duo.predict_proba(X_val), large.predict_proba(X_val), rtol=0, atol=1e-15
    )
    np.testing.assert_allclose(
        duo.decision_function(X_val), large.decision_function(X_val), rtol=1e-15
    )


def test_probability_members_give_the_same_duo_as_logits(rng):
    z_l, z_s, y = _logit_tables(rng)
    c = np.arange(4)
    from_logits = DuoClassifier(TableClassifier(z_l, c), TableClassifier(z_s, c))
    from_proba = DuoClassifier(
        TableClassifier(softmax(z_l), c, "predict_proba"),
        TableClassifier(log_softmax(z_s), c, "predict_log_proba"),
    )
    X = _rows(len(y))
    np.testing.assert_allclose(
        from_proba.fit(X, y).weights_, from_logits.fit(X, y).weights_, rtol=1e-6
    )
    np.testing.assert_allclose(
        from_proba.predict_proba(X), from_logits.predict_proba(X), atol=1e-8
    )


def test_members_with_different_class_order_are_realigned(rng):
    z_l, z_s, y = _logit_tables(rng)
    classes = np.array(["a", "b", "c", "d"])
    perm = np.array([2, 0, 3, 1])
    plain = DuoClassifier(TableClassifier(z_l, classes), TableClassifier(z_s, classes))
    shuffled = DuoClassifier(
        TableClassifier(z_l, classes), TableClassifier(z_s[:, perm], classes[perm])
    )
    X, labels = _rows(len(y)), classes[y]
    np.testing.assert_allclose(
        shuffled.fit(X, labels).weights_, plain.fit(X, labels).weights_, rtol=1e-12
    )
    np.testing.assert_array_equal(shuffled.classes_, classes)
    np.testing.assert_array_equal(shuffled.predict(X), plain.predict(X))


@pytest.mark.parametrize(
    "labels", [np.array(["zero", "one", "two"]), np.array([3, 7, 11])]
)
def test_string_and_noncontiguous_labels(digits, labels):
    X_train, y_train, X_val, y_val = digits
    keep_tr, keep_val = y_train < 3, y_val < 3
    Xt, yt = X_train[keep_tr], labels[y_train[keep_tr]]
    Xv, yv = X_val[keep_val], labels[y_val[keep_val]]
    large = LogisticRegression(max_iter=2000).fit(Xt, yt)
    small = GaussianNB().fit(Xt, yt)
    duo = DuoClassifier(large, small).fit(Xv, yv)
    np.testing.assert_array_equal(duo.classes_, np.unique(labels))
    assert set(duo.predict(Xv)) <= set(labels.tolist())
    # same numbers as with the integer-coded problem
    int_duo = DuoClassifier(
        LogisticRegression(max_iter=2000).fit(Xt, np.searchsorted(duo.classes_, yt)),
        GaussianNB().fit(Xt, np.searchsorted(duo.classes_, yt)),
    ).fit(Xv, np.searchsorted(duo.classes_, yv))
    np.testing.assert_allclose(duo.predict_proba(Xv), int_duo.predict_proba(Xv))


# --------------------------------------------------------------------------------
# sample_weight, routing, pickling, pandas
# --------------------------------------------------------------------------------


def test_integer_sample_weight_equals_repeated_rows(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    counts = np.random.default_rng(3).integers(0, 3, len(y_val))
    weighted = DuoClassifier(large, small).fit(X_val, y_val, sample_weight=counts)
    rep = np.repeat(np.arange(len(y_val)), counts)
    repeated = DuoClassifier(large, small).fit(X_val[rep], y_val[rep])
    # compared in normalised units (weight x spread of the member's logits):
    # GaussianNB's log-probabilities reach -1e9, so its weight is ~1e-8
    scale = np.array([large.decision_function(X_val).std(), 1.0])
    scale[1] = small.predict_log_proba(X_val).std()
    np.testing.assert_allclose(
        weighted.weights_ * scale, repeated.weights_ * scale, rtol=1e-5
    )
    np.testing.assert_allclose(
        weighted.predict_proba(X_val), repeated.predict_proba(X_val), atol=1e-7
    )


def test_sample_weight_through_metadata_routing(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    sw = np.random.default_rng(0).random(len(y_val))
    with config_context(enable_metadata_routing=True):
        duo = (
            DuoClassifier(large, small)
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=False)
        )
        res = cross_validate(
            duo,
            X_val,
            y_val,
            cv=3,
            params={"sample_weight": sw},
            return_estimator=True,
        )
    from sklearn.model_selection import StratifiedKFold

    train, _ = next(StratifiedKFold(3).split(X_val, y_val))
    expected = DuoClassifier(large, small).fit(
        X_val[train], y_val[train], sample_weight=sw[train]
    )
    np.testing.assert_allclose(res["estimator"][0].weights_, expected.weights_)


def test_pickle_round_trip_and_numpy_only_state(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    again = pickle.loads(pickle.dumps(duo))
    np.testing.assert_array_equal(again.predict_proba(X_val), duo.predict_proba(X_val))
    np.testing.assert_array_equal(again.predict(X_val), duo.predict(X_val))
    own_state = {
        k: v
        for k, v in vars(duo).items()
        if k.endswith("_") and k not in ("large_", "small_")
    }
    for key, value in own_state.items():
        assert isinstance(value, (np.ndarray, float, int, np.integer)), key


def test_pandas_inputs(members, digits):
    pd = pytest.importorskip("pandas")
    X_train, y_train, X_val, y_val = digits
    cols = [f"px{i}" for i in range(X_train.shape[1])]
    df_train, df_val = (
        pd.DataFrame(X_train, columns=cols),
        pd.DataFrame(X_val, columns=cols),
    )
    large = LogisticRegression(max_iter=2000).fit(df_train, pd.Series(y_train))
    small = GaussianNB().fit(df_train, y_train)
    duo = DuoClassifier(large, small).fit(df_val, pd.Series(y_val))
    assert list(duo.feature_names_in_) == cols
    assert duo.n_features_in_ == 64
    np.testing.assert_allclose(
        duo.predict_proba(df_val),
        DuoClassifier(large, small).fit(df_val, y_val).predict_proba(df_val),
    )


# --------------------------------------------------------------------------------
# bad input -> clear errors
# --------------------------------------------------------------------------------


def test_nan_in_member_outputs(rng):
    z_l, z_s, y = _logit_tables(rng)
    z_s[3, 1] = np.nan
    duo = DuoClassifier(TableClassifier(z_l, range(4)), TableClassifier(z_s, range(4)))
    with pytest.raises(ValueError, match="small member's decision_function.*NaN"):
        duo.fit(_rows(len(y)), y)


def test_inf_in_member_outputs(rng):
    z_l, z_s, y = _logit_tables(rng)
    z_l[0, 0] = np.inf
    duo = DuoClassifier(TableClassifier(z_l, range(4)), TableClassifier(z_s, range(4)))
    with pytest.raises(ValueError, match="large member's .* infinite"):
        duo.fit(_rows(len(y)), y)


def test_members_with_different_class_sets(rng):
    z_l, z_s, y = _logit_tables(rng)
    duo = DuoClassifier(
        TableClassifier(z_l, [0, 1, 2, 3]), TableClassifier(z_s, [0, 1, 2, 5])
    )
    with pytest.raises(ValueError, match=r"different class sets.*\[3\].*\[5\]"):
        duo.fit(_rows(len(y)), y)


def test_label_unknown_to_members(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    y_bad = y_val.copy()
    y_bad[0] = 42
    with pytest.raises(ValueError, match=r"label\(s\) \[42\] that the members do not"):
        DuoClassifier(large, small).fit(X_val, y_bad)


def test_single_class_y(members, digits):
    large, small = members
    _, _, X_val, _ = digits
    with pytest.raises(ValueError, match="only one class"):
        DuoClassifier(large, small).fit(X_val[:10], np.full(10, 3))


def test_empty_X(members):
    large, small = members
    with pytest.raises(ValueError, match="0 sample"):
        DuoClassifier(large, small).fit(np.empty((0, 64)), np.empty(0, dtype=int))


def test_wrong_number_of_features(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    with pytest.raises(ValueError, match="X has 10 features, but the large member"):
        DuoClassifier(large, small).fit(X_val[:, :10], y_val)
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    with pytest.raises(ValueError, match="X has 10 features"):
        duo.predict(X_val[:, :10])


def test_logits_declared_as_probabilities(rng):
    z_l, z_s, y = _logit_tables(rng)
    # like a skorch net with NLLLoss: predict_proba returns raw logits
    fake = TableClassifier(z_s, range(4), "predict_proba")
    duo = DuoClassifier(TableClassifier(z_l, range(4)), fake)
    with pytest.raises(
        ValueError, match="small member's predict_proba .* not a probab"
    ):
        duo.fit(_rows(len(y)), y)


def test_float16_outputs_warn_and_huge_logits_work(rng):
    z_l, z_s, y = _logit_tables(rng)
    X = _rows(len(y))
    c = range(4)
    ref = DuoClassifier(TableClassifier(z_l, c), TableClassifier(z_s, c)).fit(X, y)
    duo16 = DuoClassifier(
        TableClassifier(z_l.astype(np.float16), c), TableClassifier(z_s, c)
    )
    with pytest.warns(UserWarning, match="large member's decision_function .* float16"):
        duo16.fit(X, y)
    np.testing.assert_allclose(duo16.weights_, ref.weights_, rtol=5e-3)
    # logits of magnitude 1e4 (scaled by 1e3 and shifted): exact same MLE duo
    # (the default prior is centred on the members as given, so not scale-free)
    ref = DuoClassifier(
        TableClassifier(z_l, c), TableClassifier(z_s, c), prior=None
    ).fit(X, y)
    huge = DuoClassifier(
        TableClassifier(z_l * 1e3 + 1e4, c), TableClassifier(z_s, c), prior=None
    )
    huge.fit(X, y)
    np.testing.assert_allclose(huge.weights_ * [1e3, 1], ref.weights_, rtol=1e-6)
    # weights agree to ~1e-7 relative (KKT tolerance); the huge logits amplify
    # that to ~1e-6 in the duo's logits
    np.testing.assert_allclose(huge.predict_proba(X), ref.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize(
    "sample_weight, match",
    [(-1.0, "Negative values .* `sample_weight`"), (0.0, "at least one non-zero")],
)
def test_bad_sample_weight(members, digits, sample_weight, match):
    large, small = members
    _, _, X_val, y_val = digits
    with pytest.raises(ValueError, match=match):
        DuoClassifier(large, small).fit(
            X_val, y_val, sample_weight=np.full(len(y_val), sample_weight)
        )


def test_separable_validation_set_warns(digits):
    X_train, y_train, _, _ = digits
    large = LogisticRegression(max_iter=5000, C=1e4).fit(X_train, y_train)
    small = GaussianNB().fit(X_train, y_train)
    # evaluating on the training data, which the large member separates
    with pytest.warns(SeparationWarning, match="separate the validation data"):
        duo = DuoClassifier(large, small, prior=None).fit(X_train, y_train)
    assert np.isfinite(duo.weights_).all()
    # the default prior keeps the fit finite without a warning (issue 26)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        default = DuoClassifier(large, small).fit(X_train, y_train)
    assert default.weights_[0] < duo.weights_[0]


def test_invalid_parameters(members, digits):
    large, small = members
    _, _, X_val, y_val = digits
    with pytest.raises(InvalidParameterError, match="mode"):
        DuoClassifier(large, small, mode="soft").fit(X_val, y_val)
    with pytest.raises(ValueError, match="response_method must be one of"):
        DuoClassifier(large, small, response_method=("auto", "bogus")).fit(X_val, y_val)
    with pytest.raises(ValueError, match="has no method 'decision_function'"):
        DuoClassifier(large, small, response_method="decision_function").fit(
            X_val, y_val
        )


def test_unfitted_members_after_clone_work(members, digits):
    # cloning a duo built from *unfitted* members and fitting it trains clones
    _, _, X_val, y_val = digits
    duo = clone(DuoClassifier(LogisticRegression(max_iter=2000), GaussianNB(), cv=3))
    duo.fit(X_val, y_val)
    assert hasattr(duo.large_, "coef_") and (duo.weights_ >= 0).all()


def test_saturated_probabilities_warn_at_fit_only(rng):
    import warnings

    z_l, z_s, y = _logit_tables(rng)
    p = softmax(z_s).astype(np.float32)
    p[: len(y) // 2] = np.eye(4, dtype=np.float32)[y[: len(y) // 2]]  # saturated
    duo = DuoClassifier(
        TableClassifier(z_l, range(4)), TableClassifier(p, range(4), "predict_proba")
    )
    X = _rows(len(y))
    with pytest.warns(UserWarning, match=r"50\.0% of the rows .* saturated"):
        duo.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = duo.predict_proba(X)
    assert np.isfinite(proba).all()


@pytest.mark.parametrize("mode", ["asymmetric", "unweighted", "uq_only"])
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function"]
)
def test_prediction_before_fit_raises_not_fitted(digits, members, mode, method):
    # uq_only's predict reads the large member directly: it used to raise an
    # AttributeError ('large_') instead of NotFittedError (found by the slow
    # estimator checks)
    from sklearn.exceptions import NotFittedError

    large, small = members
    X_val = digits[2]
    duo = DuoClassifier(FrozenEstimator(large), FrozenEstimator(small), mode=mode)
    with pytest.raises(NotFittedError):
        getattr(duo, method)(X_val[:3])
