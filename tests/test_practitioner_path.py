"""The practitioner's path (issue 25): Datasets through model selection, score
without y, members to a logits folder and the CLI, the comparison with
verdicts, weights-only saving, and the warnings of silent slow paths.

Tiny random-weight torch modules on 8 features and tens of rows.
"""

import json
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from torch import nn  # noqa: E402
from torch.utils.data import Dataset, TensorDataset  # noqa: E402

from skduo import DuoClassifier  # noqa: E402
from skduo.evaluation import load_logits_dir, save_member_logits  # noqa: E402
from skduo.torch import IndexableDataset, as_member, logits_cache  # noqa: E402

N_FEATURES, CLASSES = 8, [0, 1, 2]


@pytest.fixture(autouse=True)
def empty_cache():
    logits_cache.clear()
    yield
    logits_cache.clear()


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, N_FEATURES, generator=g)
    y = torch.randint(0, 3, (60,), generator=g)
    return X, y


def _modules(seed=0):
    torch.manual_seed(seed)
    large = nn.Sequential(nn.Linear(N_FEATURES, 16), nn.ReLU(), nn.Linear(16, 3))
    small = nn.Linear(N_FEATURES, 3)
    return large, small


@pytest.fixture(scope="module")
def members():
    return tuple(as_member(m, classes=CLASSES, batch_size=16) for m in _modules())


class TransformDataset(Dataset):
    """Items ``(transform(x), label)``, labels in ``targets`` (torchvision style)."""

    def __init__(self, X, y, transform):
        self.X, self.targets, self.transform = X, [int(v) for v in y], transform

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.transform(self.X[i]), self.targets[i]


def double(x):
    return 2.0 * x


# -- 1. Datasets through scikit-learn's model selection -----------------------


def test_plain_dataset_in_cross_val_score_names_the_route(members, data):
    X, y = data
    with pytest.raises(TypeError, match=r"IndexableDataset\(dataset\)"):
        cross_val_score(
            DuoClassifier(*members),
            TensorDataset(X, y),
            y.numpy(),
            cv=3,
            error_score="raise",
        )


@pytest.mark.parametrize("kind", ["tensor", "transform"])
def test_indexable_dataset_cross_validates_with_the_cache(members, data, kind):
    X, y = data
    if kind == "tensor":
        ds, X_ref = TensorDataset(X, y), X.numpy()
    else:
        ds, X_ref = TransformDataset(X, y, double), 2.0 * X.numpy()
    wrapped = IndexableDataset(ds)
    duo = DuoClassifier(*members)
    scores = cross_val_score(duo, wrapped, y.numpy(), cv=3, scoring="neg_log_loss")
    expected = cross_val_score(duo, X_ref, y.numpy(), cv=3, scoring="neg_log_loss")
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    logits_cache.clear()
    search = GridSearchCV(duo, {"mode": ["asymmetric", "unweighted"]}, cv=3)
    search.fit(wrapped, y.numpy())
    # every row through every member once, over 3 folds x 2 candidates + refit
    assert logits_cache.info()["misses"] == 2 * len(X)
    assert logits_cache.info()["hits"] > 0
    # without y (so unstratified folds): fits and the default scoring (score)
    # read the dataset's labels
    np.testing.assert_allclose(
        cross_val_score(duo, wrapped, cv=3),
        cross_val_score(duo, X_ref, y.numpy(), cv=KFold(3)),
    )
    # labels from the dataset, and the fit on all rows equal to the array fit
    ref = DuoClassifier(*members).fit(X_ref, y.numpy())
    np.testing.assert_allclose(
        DuoClassifier(*members).fit(wrapped).weights_, ref.weights_, rtol=1e-6
    )


def test_indexable_dataset_indexing(data):
    X, y = data
    ds = IndexableDataset(TensorDataset(X, y))
    sub = ds[np.array([5, 1, 7])]
    assert isinstance(sub, IndexableDataset) and sub.shape == (3,)
    assert sub[np.array([2, 0])].indices.tolist() == [7, 5]
    assert sub[ds.indices[:3] < 1].indices.tolist() == [5]
    assert sub[(np.array([1]), Ellipsis)].indices.tolist() == [1]
    torch.testing.assert_close(sub[0][0], X[5])
    np.testing.assert_array_equal(sub.targets, y.numpy()[[5, 1, 7]])
    assert IndexableDataset(sub).indices.tolist() == [5, 1, 7]
    with pytest.raises(TypeError, match="map-style"):
        IndexableDataset(X.numpy())


# -- 2. score without y --------------------------------------------------------


def test_score_reads_labels_from_a_dataset(members, data):
    X, y = data
    ds = TensorDataset(X, y)
    duo = DuoClassifier(*members).fit(ds)
    assert duo.score(ds) == duo.score(X.numpy(), y.numpy())
    assert duo.score(IndexableDataset(ds)) == duo.score(ds)
    with pytest.raises(ValueError, match="requires y to be passed"):
        duo.score(X.numpy())


def test_displays_read_labels_from_a_dataset(members, data):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skduo.metrics import ReliabilityDisplay, RiskCoverageDisplay

    X, y = data
    ds = TensorDataset(X, y)
    duo = DuoClassifier(*members).fit(ds)
    for display in (RiskCoverageDisplay, ReliabilityDisplay):
        from_dataset = display.from_estimator(duo, ds)
        from_arrays = display.from_estimator(duo, X.numpy(), y.numpy())
        np.testing.assert_array_equal(
            from_dataset.line_.get_ydata(), from_arrays.line_.get_ydata()
        )
    plt.close("all")


# -- 3. members -> logits folder -> CLI ----------------------------------------


def test_save_member_logits_round_trips_and_the_cli_reads_it(
    members, data, tmp_path, capsys
):
    X, y = data
    Xn, yn = X.numpy(), y.numpy()
    large_module, _ = _modules()
    logreg = LogisticRegression(max_iter=200).fit(Xn[:20], yn[:20])
    splits = {
        "val": TransformDataset(X[:40], y[:40], double),
        "test": (2.0 * Xn[40:], yn[40:]),
    }
    zoo = save_member_logits(
        tmp_path / "logits",
        {"large": large_module, "small": members[1]},
        splits,
        classes=CLASSES,
    )
    back = load_logits_dir(tmp_path / "logits")
    costs = json.loads((tmp_path / "logits" / "costs.json").read_text())
    # multiply-adds per sample: 8*16 + 16*3 and 8*3
    assert costs == {"large": 176.0, "small": 24.0}
    np.testing.assert_array_equal(back.labels["val"], yn[:40])
    np.testing.assert_array_equal(back.labels["test"], yn[40:])
    np.testing.assert_array_equal(
        back.models["small"].logits["val"], zoo.models["small"].logits["val"]
    )
    np.testing.assert_allclose(
        back.models["small"].logits["test"],
        members[1].forward(torch.from_numpy(2.0 * Xn[40:])).numpy(),
        rtol=1e-6,
    )
    from skduo._cli import main

    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            str(tmp_path / "logits"),
            "--no-plots",
            "--resamples",
            "20",
            "--output",
            str(out),
        ]
    )
    assert code in (0, None)
    assert (out / "report.csv").exists()
    assert "large" in capsys.readouterr().out
    # scikit-learn members, string classes, no costs
    names = np.array(["a", "b", "c"])[yn]
    save_member_logits(
        tmp_path / "sk",
        {"lr": LogisticRegression(max_iter=200).fit(Xn, names)},
        {"val": (Xn[:30], names[:30]), "test": (Xn[30:], names[30:])},
        costs="flops",
    )
    assert not (tmp_path / "sk" / "costs.json").exists()
    np.testing.assert_array_equal(
        load_logits_dir(tmp_path / "sk").labels["val"], yn[:30]
    )
    with pytest.raises(ValueError, match="'val' and 'test'"):
        save_member_logits(tmp_path / "x", {"lr": logreg}, {"val": (Xn, yn)})
    with pytest.raises(ValueError, match="not among the classes"):
        save_member_logits(
            tmp_path / "y",
            {"lr": logreg},
            {"val": (Xn, yn + 5), "test": (Xn, yn)},
        )


# -- 4. the comparison with verdicts ---------------------------------------------


def test_compare_duo_with_baselines(members, data):
    from skduo import TemperatureScalingClassifier
    from skduo.evaluation import compare
    from skduo.metrics import paired_bootstrap

    X, y = data
    val, test = TensorDataset(X[:30], y[:30]), TensorDataset(X[30:], y[30:])
    duo = DuoClassifier(*members).fit(val)
    result = compare(duo, test, X_val=val, n_resamples=50, metrics=("nll", "accuracy"))
    assert result.models == ["duo", "temperature", "large", "small"]
    ts = TemperatureScalingClassifier(members[0]).fit(val)
    y_test = y[30:].numpy()
    expected = paired_bootstrap(
        y_test,
        duo.predict_proba(test),
        ts.predict_proba(test),
        "nll",
        logits_a=duo.predict_log_proba(test),
        logits_b=ts.predict_log_proba(test),
        n_resamples=50,
        random_state=0,
    )
    row = result.differences[0]
    assert (row["baseline"], row["metric"]) == ("temperature", "nll")
    np.testing.assert_allclose(row["difference"], expected.statistic, rtol=1e-10)
    # the report's procedure: the interval is d -/+ z * s, s the bootstrap
    # standard error of the same resamples, at the level Holm gives one of
    # the family's 6 comparisons (3 baselines x 2 metrics): alpha / k
    from scipy.special import ndtri

    se = np.std(expected.bootstrap_distribution, ddof=1)
    half = (row["high"] - row["low"]) / 2
    assert row["low"] + half == pytest.approx(row["difference"], rel=1e-9, abs=1e-12)
    z = [ndtri(1 - 0.05 / (2 * k)) for k in range(1, 7)]
    assert any(half == pytest.approx(zk * se, rel=1e-9) for zk in z)
    for d in result.differences:  # p < alpha exactly when not 'same'
        assert (d["pvalue"] < 0.05) == (d["verdict"] != "same")
    assert result.values["large"]["accuracy"] == np.mean(
        members[0].predict(X[30:].numpy()) == y_test
    )
    assert set(result.verdicts["small"].values()) <= {"better", "worse", "same"}
    assert "duo - temperature" in result.table and "NLL" in str(result)
    frame = result.to_frame()
    assert frame.shape == (8, 8) and frame["verdict"].iloc[:2].isna().all()
    # a tie band larger than every difference makes every verdict 'same'
    loose = compare(duo, test, baselines=["large"], tie=1e9, n_resamples=20)
    assert set(loose.verdicts["large"].values()) == {"same"}
    with pytest.raises(ValueError, match="pass X_val and y_val"):
        compare(duo, test)
    with pytest.raises(ValueError, match="Unknown baseline 'huge'"):
        compare(duo, test, baselines=["huge"])


# -- 5. saving without pickle ----------------------------------------------------


def _checkpoint(module):
    import io

    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    buffer.seek(0)
    return buffer


def test_weights_only_rebuild_from_checkpoints_is_identical(members, data, tmp_path):
    from skduo import load_weights, save_weights

    X, y = data
    duo = DuoClassifier(*members, mode="uq_only").fit(X[:40].numpy(), y[:40].numpy())
    save_weights(duo, tmp_path / "duo.json")
    record = json.loads((tmp_path / "duo.json").read_text())
    assert record["weights"] == duo.weights_.tolist()
    assert record["params"]["mode"] == "uq_only"
    # rebuild the members from their checkpoints, in fresh modules
    rebuilt = []
    for member in members:
        fresh = _modules(seed=1)[0 if member is members[0] else 1]
        fresh.load_state_dict(torch.load(_checkpoint(member.module_)))
        rebuilt.append(as_member(fresh, classes=CLASSES, batch_size=64))
    again = load_weights(tmp_path / "duo.json", large=rebuilt[0], small=rebuilt[1])
    assert again.mode == "uq_only" and again.classes_.dtype == duo.classes_.dtype
    Xt = X[40:].numpy()
    np.testing.assert_array_equal(again.predict_proba(Xt), duo.predict_proba(Xt))
    np.testing.assert_array_equal(again.predict(Xt), duo.predict(Xt))
    # a different checkpoint is refused; verify=False takes it
    other = as_member(_modules(seed=2)[1], classes=CLASSES)
    with pytest.raises(ValueError, match="not the one the weights were fitted"):
        load_weights(tmp_path / "duo.json", large=rebuilt[0], small=other)
    load_weights(tmp_path / "duo.json", large=rebuilt[0], small=other, verify=False)
    with pytest.raises(ValueError, match=r"need the members \['large', 'small'\]"):
        load_weights(tmp_path / "duo.json", large=rebuilt[0])


def test_weights_only_and_skops_for_sklearn_members(data, tmp_path):
    from sklearn.naive_bayes import GaussianNB

    from skduo import WeightedEnsembleClassifier, load_weights, save_weights

    X, y = data
    Xn, names = X.numpy(), np.array(["cat", "dog", "eel"])[y.numpy()]
    lr = LogisticRegression(max_iter=200).fit(Xn[:30], names[:30])
    nb = GaussianNB().fit(Xn[:30], names[:30])
    for est, kwargs in (
        (DuoClassifier(lr, nb), {"large": lr, "small": nb}),
        (WeightedEnsembleClassifier([("nb", nb), ("lr", lr)]), {"lr": lr, "nb": nb}),
    ):
        est.fit(Xn[30:], names[30:])
        save_weights(est, tmp_path / "w.json")
        again = load_weights(tmp_path / "w.json", **kwargs)
        np.testing.assert_array_equal(again.predict_proba(Xn), est.predict_proba(Xn))
        assert list(again.classes_) == ["cat", "dog", "eel"]
    sio = pytest.importorskip("skops.io")
    duo = DuoClassifier(lr, nb).fit(Xn[30:], names[30:])
    sio.dump(duo, tmp_path / "duo.skops")
    trusted = sio.get_untrusted_types(file=tmp_path / "duo.skops")
    assert trusted == ["skduo._estimators._duo.DuoClassifier"]
    loaded = sio.load(tmp_path / "duo.skops", trusted=trusted)
    np.testing.assert_array_equal(loaded.predict_proba(Xn), duo.predict_proba(Xn))


# -- 6. silent slow paths say so, once -------------------------------------------


def test_reduced_precision_on_cpu_warns_once(data):
    X, _ = data
    member = as_member(_modules()[1], classes=CLASSES, precision="bfloat16")
    with pytest.warns(UserWarning, match="precision='bfloat16' on a CPU") as record:
        member.predict_proba(X.numpy())
        member.predict_proba(X.numpy())
    assert sum("on a CPU" in str(w.message) for w in record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        as_member(_modules()[1], classes=CLASSES).predict_proba(X.numpy())


class Recorder:
    """A forward hook that keeps what it saw: part of the member's state."""

    def __init__(self):
        self.n_calls = 0

    def __call__(self, module, inputs, output):
        self.n_calls += 1


def test_forward_hook_that_records_warns_that_the_cache_is_off(data):
    X, y = data
    large, small = _modules()
    handle = large[1].register_forward_hook(Recorder())
    members = [as_member(m, classes=CLASSES) for m in (large, small)]
    with pytest.warns(UserWarning, match="cache is off for the large member") as rec:
        cross_val_score(DuoClassifier(*members), X.numpy(), y.numpy(), cv=3)
    assert sum("cache is off" in str(w.message) for w in rec) == 1
    # no dead entries: only the small member's rows are kept
    assert logits_cache.info()["n_entries"] == 1
    handle.remove()
    logits_cache.clear()
    # a hook that keeps nothing changes nothing: cached, no warning about it
    # (40 random rows do not determine the untrained nets' weights: that warns)
    large[1].register_forward_hook(lambda module, inputs, output: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cross_val_score(DuoClassifier(*members), X.numpy(), y.numpy(), cv=3)
    assert not [w for w in caught if "cache" in str(w.message)]
    assert logits_cache.info()["misses"] == 2 * len(X)


def test_hook_that_cannot_be_fingerprinted_warns_and_a_lock_elsewhere_does_not(data):
    import threading

    X, _ = data
    _, small = _modules()

    class Locked:
        def __init__(self):
            self.lock = threading.Lock()

        def __call__(self, module, args):
            pass

    small.register_forward_pre_hook(Locked())
    member = as_member(small, classes=CLASSES)
    from skduo._outputs._cache import cached_member_logits

    with pytest.warns(UserWarning, match=r"small member: .*\(Linear: .*Locked\)"):
        cached_member_logits(member, X.numpy(), CLASSES, name="small")
    _, other = _modules()
    other.lock = threading.Lock()  # not a hook: not blamed
    other.register_forward_pre_hook(lambda module, args: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached_member_logits(as_member(other, classes=CLASSES), X.numpy(), CLASSES)
