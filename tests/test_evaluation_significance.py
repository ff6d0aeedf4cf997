"""skduo.evaluation: paired comparisons, significant harm rates, the new columns,
outputs= on the zoo, and safe saving."""

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.special import log_softmax, softmax
from scipy.stats import norm
from sklearn.metrics import f1_score

from skduo.evaluation import (
    LogitZoo,
    ZooReport,
    compute_metrics,
    evaluate_zoo,
    load_logits_dir,
    save_logits_dir,
)
from skduo.metrics import (
    calibration_refinement_decomposition,
    paired_bootstrap,
    smooth_ece,
)

K = 4


def _zoo(seed=0, n=300):
    rng = np.random.default_rng(seed)
    y_val, y_test = rng.integers(0, K, n), rng.integers(0, K, n)
    zoo = LogitZoo(y_val, y_test)
    for name, cost, signal in [
        ("big", 100.0, 2.0),
        ("mid", 20.0, 1.5),
        ("tiny", 4.0, 1.0),
    ]:
        logits = {
            s: 2.0 * (rng.normal(size=(n, K)) + signal * np.eye(K)[y])
            for s, y in (("val", y_val), ("test", y_test))
        }
        zoo.add(name, logits["val"], logits["test"], cost=cost)
    return zoo


@pytest.fixture(scope="module")
def zoo():
    return _zoo()


@pytest.fixture(scope="module")
def report(zoo):
    return evaluate_zoo(zoo, n_resamples=300)


def test_duo_intervals_are_paired_bootstraps_of_the_rows(zoo, report):
    # the report's interval equals paired_bootstrap on the same two sets of
    # predictions with the same seed: the shared resamples are scipy's
    y = zoo.labels["test"]
    row = report.get("asymmetric", "big", "tiny")
    base = report.get("temperature", "big")
    z_duo = report.fitted[("asymmetric", ("big", "tiny"))].decision_logits(
        zoo.models["big"].logits["test"], zoo.models["tiny"].logits["test"]
    )
    z_big = report.fitted[("temperature", ("big",))].decision_logits(
        zoo.models["big"].logits["test"]
    )
    for key, metric in (("nll", "nll"), ("aurc", "aurc"), ("acc", "accuracy")):
        ref = paired_bootstrap(
            y,
            softmax(z_duo, axis=1),
            softmax(z_big, axis=1),
            metric,
            logits_a=z_duo,
            logits_b=z_big,
            n_resamples=300,
            random_state=0,
        )
        assert row[f"{key}_diff"] == pytest.approx(row[key] - base[key])
        assert row[f"{key}_diff"] == pytest.approx(ref.statistic, abs=1e-12)
        # the report's test: the bootstrap standard error of the same resamples
        assert row[f"{key}_se"] == pytest.approx(ref.standard_error, rel=1e-9)
        excess = abs(row[f"{key}_diff"]) - row[f"{key}_tie"]
        z = max(excess, 0) / row[f"{key}_se"]
        assert row[f"{key}_p"] == pytest.approx(
            1.0 if excess <= 0 else 2 * norm.sf(z), rel=1e-9
        )


def test_rows_carry_smece_and_the_decomposition(zoo, report):
    y = zoo.labels["test"]
    for method, members in (("temperature", ("big",)), ("asymmetric", ("big", "tiny"))):
        row = (
            report.get(method, *members)
            if method != "temperature"
            else report.get(method, "big")
        )
        z = report.fitted[(method, members)].decision_logits(
            *[zoo.models[m].logits["test"] for m in members]
        )
        assert row["smece"] == pytest.approx(smooth_ece(y, softmax(z, axis=1)))
        for score in ("nll", "brier"):
            d = calibration_refinement_decomposition(y, logits=z, score=score)
            assert row[f"{score}_refinement"] == pytest.approx(d.refinement, rel=1e-9)
            total = row[f"{score}_calibration"] + row[f"{score}_refinement"]
            assert total == pytest.approx(row[score], rel=1e-9)
    # temperature scaling on validation never changes the test refinement part
    raw = calibration_refinement_decomposition(
        y, logits=zoo.models["big"].logits["test"]
    )
    assert report.get("temperature", "big")["nll_refinement"] == pytest.approx(
        raw.refinement, rel=1e-6
    )
    # UQ-only rows share the asymmetric duo's probabilities, hence its parts
    uq, asym = (
        report.get("uq_only", "big", "tiny"),
        report.get("asymmetric", "big", "tiny"),
    )
    assert uq["nll_refinement"] == asym["nll_refinement"]
    assert report.get("unweighted", "big", "tiny")["nll_refinement"] is None


def test_compute_metrics_equals_the_metric_functions():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 200)
    z = rng.normal(size=(200, 5)) + np.eye(5)[y]
    pred = z.argmax(1)
    pred[pred == 4] = 0  # class 4 never predicted: sklearn's macro over present
    m = compute_metrics(y, z, pred)
    assert m["f1"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    assert m["nll"] == pytest.approx(-log_softmax(z, axis=1)[np.arange(200), y].mean())
    assert m["acc"] == pytest.approx(np.mean(pred == y))


def _row(method, large, small, balance, **values):
    row = dict.fromkeys(("acc", "f1", "brier", "ece", "auroc", "eaurc", "sac98"), 0.5)
    row.update(nll=1.0, aurc=0.1)
    row.update(values)
    return {
        "split": "test",
        "method": method,
        "name": f"{large}+{small}",
        "large": large,
        "small": small,
        "members": [large, small],
        "cost": None,
        "flops_balance": balance,
        "weights": [1.0, 0.0],
        "val_nll": 0.0,
        "n_classes": 10,
        **row,
    }


def test_significant_harm_rates_by_hand():
    # NLL verdicts of duo vs large: a worse, b same, c better, d same (a tie)
    rows = [_row("temperature", "L", None, 0.0)]
    for name, nll, verdict in (
        ("a", 1.2, "worse"),
        ("b", 1.05, "same"),
        ("c", 0.9, "better"),
        ("d", 1.0 + 1.5e-9, "same"),
    ):
        row = _row("asymmetric", "L", name, 0.01, nll=nll)
        row.update(nll_diff=nll - 1.0, nll_verdict=verdict)
        rows.append(row)
    acc_rows = rows[1:]
    acc_rows[0].update(acc=0.4, acc_diff=-0.1, acc_verdict="worse")
    entry = ZooReport(rows, n_resamples=100).harm_rates()[-1]
    assert entry["bracket"] == "all" and entry["n_duos"] == 4
    assert entry["nll"] == 0.5  # raw: a and b are worse
    assert entry["nll_n"] == 4
    assert (entry["nll_worse"], entry["nll_same"], entry["nll_better"]) == (
        0.25,
        0.5,
        0.25,
    )
    # accuracy is higher-better: an interval below 0 is harm
    assert entry["acc_n"] == 1 and entry["acc_worse"] == 1.0
    # without resamples there is no significance
    assert "nll_worse" not in ZooReport(rows).harm_rates()[-1]


def test_json_holds_the_significance(report, tmp_path):
    report.to_json(tmp_path / "r.json")
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["n_resamples"] == 300 and payload["confidence_level"] == 0.95
    entry = payload["harm_rates"]["test"]["asymmetric"][-1]
    assert {"nll_worse", "nll_same", "nll_better", "nll_n"} <= set(entry)
    total = entry["nll_worse"] + entry["nll_same"] + entry["nll_better"]
    assert total == pytest.approx(1.0)


def test_repr_and_str_are_short(report):
    assert len(repr(report)) < 300 and repr(report).startswith("ZooReport(")
    text = str(report)
    assert len(text) < 2000 and text.startswith("What to conclude")
    assert "Use big with the sidekick" in text


@settings(max_examples=15, deadline=None)
@given(width=st.integers(40, 140))
def test_fitted_tables_fit_any_width(report, width):
    for text in (
        report.format_table(width=width),
        report.format_harm_rates(width=width),
        report.summary(width=width),
    ):
        assert max(len(line) for line in text.splitlines()) <= width


def test_no_resamples_no_comparison_columns(zoo):
    quick = evaluate_zoo(zoo, n_resamples=0, ensembles=False)
    assert not any("nll_low" in r for r in quick.rows)
    assert "nll_worse" not in quick.harm_rates()[-1]
    with pytest.raises(ValueError, match="n_resamples"):
        evaluate_zoo(zoo, n_resamples=-1)


# --------------------------------------------------------------------------
# outputs= on the zoo and the directory loader
# --------------------------------------------------------------------------
def test_probabilities_give_the_logits_duo(zoo):
    y_val, y_test = zoo.labels["val"], zoo.labels["test"]
    as_proba = LogitZoo(y_val, y_test)
    for name, m in zoo.models.items():
        with pytest.warns(
            UserWarning, match=f"model '{name}'.*look like probabilities"
        ):
            as_proba.add(
                name,
                softmax(m.logits["val"], axis=1),
                softmax(m.logits["test"], axis=1),
                cost=m.cost,
            )
        assert as_proba.models[name].outputs == "proba"
    a = evaluate_zoo(as_proba, n_resamples=0, ensembles=False)
    b = evaluate_zoo(zoo, n_resamples=0, ensembles=False)
    for ra, rb in zip(a.rows, b.rows):
        assert_allclose(ra["weights"], rb["weights"], rtol=1e-6)
        assert ra["nll"] == pytest.approx(rb["nll"], rel=1e-9)


def test_outputs_declared_and_refused():
    zoo = LogitZoo([0, 1, 1, 0], [1, 0])
    p_val = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    p_test = np.array([[0.3, 0.7], [0.6, 0.4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.add("declared", p_val, p_test, outputs="proba")  # no warning
        zoo.add("logs", np.log(p_val), np.log(p_test))  # log-probabilities: as is
    assert zoo.models["logs"].outputs == "log_proba"
    assert_allclose(zoo.models["declared"].logits["val"], np.log(p_val))
    with pytest.raises(ValueError, match="split 'val': looks like probabilities, but"):
        zoo.add("mixed", p_val, np.log(p_test) + 3.0)
    with pytest.raises(ValueError, match="not a probability"):
        zoo.add("wrong", p_val + 1.0, p_test, outputs="proba")
    with pytest.raises(ValueError, match="outputs must be one of"):
        zoo.add("typo", p_val, p_test, outputs="probabilities")


def test_load_logits_dir_outputs(zoo, tmp_path):
    save_logits_dir(zoo, tmp_path / "z")
    for name, m in zoo.models.items():
        np.savez(
            tmp_path / "z" / f"{name}.npz",
            **{s: softmax(v, axis=1) for s, v in m.logits.items()},
        )
    with pytest.warns(UserWarning, match=r"big\.npz.*look like probabilities"):
        auto = load_logits_dir(tmp_path / "z")
    assert {m.outputs for m in auto.models.values()} == {"proba"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        taken = load_logits_dir(tmp_path / "z", outputs="logits")  # as declared
    assert_allclose(
        taken.models["big"].logits["val"],
        softmax(zoo.models["big"].logits["val"], axis=1),
    )


# --------------------------------------------------------------------------
# save_logits_dir: no mixing of two saves
# --------------------------------------------------------------------------
def test_save_refuses_a_used_directory_and_overwrite_removes_stale(zoo, tmp_path):
    save_logits_dir(zoo, tmp_path)
    smaller = LogitZoo(zoo.labels["val"], zoo.labels["test"])
    smaller.add(
        "big", zoo.models["big"].logits["val"], zoo.models["big"].logits["test"]
    )
    with pytest.raises(ValueError, match="not empty; pass overwrite=True"):
        save_logits_dir(smaller, tmp_path)
    save_logits_dir(smaller, tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npz", "labels.npz"]
    assert list(load_logits_dir(tmp_path).models) == ["big"]


def _assert_same_rows(a, b):
    """Every column of two reports' rows equal (NaN equal to NaN)."""
    assert len(a.rows) == len(b.rows)
    for ra, rb in zip(a.rows, b.rows):
        assert ra.keys() == rb.keys()
        for key, va in ra.items():
            vb = rb[key]
            if isinstance(va, dict):
                assert va.keys() == vb.keys()
                for name in va:
                    np.testing.assert_array_equal(va[name], vb[name])
            elif isinstance(va, float):
                assert va == vb or (np.isnan(va) and np.isnan(vb)), key
            else:
                assert va == vb, key


def test_pending_bootstraps_are_capped(zoo, monkeypatch):
    # a slow bootstrap thread: without a cap, every duo's distribution (and
    # its prepared statistics) would wait in its queue
    import time

    from skduo.evaluation import _fits

    slow = _fits._distribution

    def distribution(*args, **kwargs):
        time.sleep(0.02)
        return slow(*args, **kwargs)

    seen = []
    submit = _fits._Scorer._bootstrap

    def bootstrap(self, resampler, prepared):
        future = submit(self, resampler, prepared)
        seen.append(len(self.pending))
        return future

    monkeypatch.setattr(_fits, "_distribution", distribution)
    monkeypatch.setattr(_fits._Scorer, "_bootstrap", bootstrap)
    reports = {}
    for cap in (2, 1000):
        seen.clear()
        monkeypatch.setattr(_fits, "_MAX_PENDING", cap)
        reports[cap] = evaluate_zoo(zoo, n_resamples=50, ensembles=False)
        peak = max(seen)
        assert peak <= cap
    assert peak > 2  # uncapped, the queue does grow past the small cap
    _assert_same_rows(reports[2], reports[1000])
