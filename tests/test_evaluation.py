"""skduo.evaluation: zoo report, harm rates, selection, logits directories, plots."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import log_loss, roc_auc_score

from skduo import fit_duo, fit_temperature
from skduo._outputs._logit_ops import softmax
from skduo.evaluation import (
    LogitZoo,
    ZooReport,
    evaluate_zoo,
    load_logits_dir,
    plot_metric_vs_balance,
    plot_risk_coverage,
    save_logits_dir,
    select_sidekick,
)
from skduo.metrics import calibration_refinement_decomposition

K = 4


def _make_zoo(seed=0, n=300, ood=False):
    rng = np.random.default_rng(seed)
    y_val, y_test = rng.integers(0, K, n), rng.integers(0, K, n)
    y_ood = rng.integers(0, K, n) if ood else None
    zoo = LogitZoo(y_val, y_test, y_ood)
    # name, cost, signal, group
    spec = [
        ("big", 100.0, 2.0, None),
        ("mid_a", 20.0, 1.5, "mid"),
        ("mid_b", 20.0, 1.4, "mid"),
        ("tiny", 4.0, 1.0, None),
    ]
    for name, cost, signal, group in spec:
        logits = {
            s: 2.0 * (rng.normal(size=(n, K)) + signal * np.eye(K)[y])
            for s, y in (("val", y_val), ("test", y_test), ("ood_test", y_ood))
            if y is not None
        }
        zoo.add(
            name,
            logits["val"],
            logits["test"],
            ood_test=logits.get("ood_test"),
            cost=cost,
            group=group,
        )
    return zoo


@pytest.fixture(scope="module")
def zoo():
    return _make_zoo()


@pytest.fixture(scope="module")
def report(zoo):
    return evaluate_zoo(zoo)


def test_pairs_follow_cost_order(report):
    duos = {
        (r["large"], r["small"]) for r in report.rows if r["method"] == "asymmetric"
    }
    # mid_a and mid_b cost the same: neither is the other's sidekick
    assert duos == {
        ("big", "mid_a"),
        ("big", "mid_b"),
        ("big", "tiny"),
        ("mid_a", "tiny"),
        ("mid_b", "tiny"),
    }
    methods = [r["method"] for r in report.rows]
    assert methods.count("temperature") == 4
    assert methods.count("unweighted") == methods.count("uq_only") == 5
    assert methods.count("deep_ensemble") == 1  # group 'mid' of 2
    assert methods.count("weighted_ensemble") == 1
    assert report.get("asymmetric", "big", "tiny")["flops_balance"] == 0.04
    assert report.get("deep_ensemble", "mid_a")["flops_balance"] == 1.0


def test_rows_use_the_array_api_fits(zoo, report):
    # the report fits the paper's exact MLE (prior=None)
    y_val = zoo.labels["val"]
    big, tiny = zoo.models["big"].logits, zoo.models["tiny"].logits
    row = report.get("asymmetric", "big", "tiny")
    assert_array_equal(
        row["weights"], fit_duo(big["val"], tiny["val"], y_val, prior=None).weights
    )
    ts = report.get("temperature", "big")
    assert ts["weights"] == [fit_temperature(big["val"], y_val, prior=None).weights[0]]
    un = report.get("unweighted", "big", "tiny")
    assert_array_equal(
        un["weights"],
        fit_duo(big["val"], tiny["val"], y_val, mode="unweighted", prior=None).weights,
    )
    assert un["val_nll"] == pytest.approx(
        fit_duo(
            big["val"], tiny["val"], y_val, mode="unweighted", prior=None
        ).validation_nll,
        rel=1e-12,
    )


def test_metrics_match_independent_implementations(zoo, report):
    # sklearn / plain NumPy recomputation of the report's numbers
    y = zoo.labels["test"]
    big, tiny = zoo.models["big"].logits["test"], zoo.models["tiny"].logits["test"]
    row = report.get("asymmetric", "big", "tiny")
    p = softmax(row["weights"][0] * big + row["weights"][1] * tiny)
    pred = p.argmax(1)
    assert row["acc"] == pytest.approx(np.mean(pred == y))
    assert row["nll"] == pytest.approx(log_loss(y, p, labels=range(K)), rel=1e-9)
    assert row["brier"] == pytest.approx(np.mean(((p - np.eye(K)[y]) ** 2).sum(1)))
    assert row["auroc"] == pytest.approx(roc_auc_score(pred == y, p.max(1)))
    assert row["n_classes"] == K
    # UQ-only: the large model's prediction, the duo's probabilities
    uq = report.get("uq_only", "big", "tiny")
    pred_l = big.argmax(1)
    assert uq["acc"] == pytest.approx(np.mean(pred_l == y))
    assert uq["nll"] == row["nll"] and uq["brier"] == row["brier"]
    conf = p[np.arange(len(y)), pred_l]
    assert uq["auroc"] == pytest.approx(roc_auc_score(pred_l == y, conf))


def test_entropy_confidence_changes_only_selective_metrics(zoo, report):
    ent = evaluate_zoo(zoo, confidence="neg_entropy", ensembles=False)
    a, b = report.get("asymmetric", "big", "tiny"), ent.get("asymmetric", "big", "tiny")
    assert a["nll"] == b["nll"] and a["acc"] == b["acc"]
    y = zoo.labels["test"]
    big, tiny = zoo.models["big"].logits["test"], zoo.models["tiny"].logits["test"]
    p = softmax(a["weights"][0] * big + a["weights"][1] * tiny)
    neg_h = (p * np.log(p)).sum(1)
    assert b["auroc"] == pytest.approx(roc_auc_score(p.argmax(1) == y, neg_h))


def test_test_data_never_fit(zoo, report):
    shuffled = LogitZoo(zoo.labels["val"], zoo.labels["test"])
    rng = np.random.default_rng(1)
    for name, m in zoo.models.items():
        shuffled.add(
            name,
            m.logits["val"],
            rng.normal(size=m.logits["test"].shape),
            cost=m.cost,
            group=m.group,
        )
    with pytest.warns(UserWarning, match="Every model's test accuracy is at chance"):
        other = evaluate_zoo(shuffled)  # noise test logits: the report says so
    for a, b in zip(report.rows, other.rows):
        assert a["weights"] == b["weights"] and a["val_nll"] == b["val_nll"]
    assert select_sidekick(shuffled, "big", budget=50).to_dict() == (
        select_sidekick(zoo, "big", budget=50).to_dict()
    )


def _row(method, large, small, balance, **metrics):
    base = dict.fromkeys(("acc", "f1", "brier", "ece", "auroc", "eaurc", "sac98"), 0.5)
    base.update(nll=1.0, aurc=0.1)
    base.update(metrics)
    return {
        "split": "test",
        "method": method,
        "name": f"{large}+{small}",
        "large": large,
        "small": small,
        "members": [large] if small is None else [large, small],
        "cost": None,
        "flops_balance": balance,
        "weights": [1.0],
        "val_nll": 0.0,
        "n_classes": 10,
        **base,
    }


def test_harm_rates_hand_computed():
    rows = [
        _row("temperature", "L", None, 0.0),
        _row("asymmetric", "L", "a", 0.01, nll=1.2, acc=0.4),  # worse NLL, worse acc
        _row("asymmetric", "L", "b", 0.03, nll=0.9, auroc=float("nan")),
        _row("asymmetric", "L", "c", 0.3, nll=1.0 + 1e-9),  # round-off tie
        _row("asymmetric", "L", "d", 0.5, nll=1.1, aurc=0.2),  # 0.5 is in >=0.5
    ]
    harm = {e["bracket"]: e for e in ZooReport(rows).harm_rates()}
    assert list(harm) == ["<0.05", "0.2-0.5", ">=0.5", "all"]
    # by hand: <0.05 holds a (NLL worse) and b (better) -> 1/2
    assert harm["<0.05"]["n_duos"] == 2 and harm["<0.05"]["nll"] == 0.5
    assert harm["<0.05"]["acc"] == 0.5
    assert harm["<0.05"]["auroc"] == 0.0  # b's NaN is left out: 0 of 1
    assert harm["0.2-0.5"]["nll"] == 0.0
    strict = {e["bracket"]: e for e in ZooReport(rows).harm_rates(rtol=0)}
    assert strict["0.2-0.5"]["nll"] == 1.0
    assert harm[">=0.5"]["nll"] == 1.0 and harm[">=0.5"]["aurc"] == 1.0
    assert harm["all"]["nll"] == 0.5 and harm["all"]["aurc"] == 0.25


def test_paper_units_reproduce_table_1_row():
    # PAPER.md section 7.8: RN50 reads 2.90 / 84.06 / 3.39 / 86.62 / 5.72 from
    # per-entry Brier 0.000290 (x1000 classes), NLL .8406, ECE .0339, ...
    row = _row(
        "temperature",
        "RN50",
        None,
        0.0,
        brier=0.290,
        nll=0.8406,
        ece=0.0339,
        auroc=0.8662,
        aurc=0.0572,
        acc=0.7982,
    )
    row["n_classes"] = 1000
    text = ZooReport([row]).format_table(paper_units=True)
    line = text.splitlines()[2]
    for value in ("79.82", "2.90", "84.06", "3.39", "86.62", "5.72", "0.0%"):
        assert value in line.split()
    raw = ZooReport([row]).format_table()
    assert "0.2900" in raw and "0.8406" in raw


def test_csv_and_json_outputs(report, tmp_path):
    report.to_csv(tmp_path / "r.csv")
    with open(tmp_path / "r.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(report.rows)
    first = rows[0]
    assert float(first["nll"]) == pytest.approx(report.rows[0]["nll"])
    report.to_json(tmp_path / "r.json", note="x")
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["note"] == "x" and len(payload["rows"]) == len(report.rows)
    assert set(payload["harm_rates"]["test"]) == {"asymmetric", "unweighted", "uq_only"}
    # NaN is written as null, not as an invalid JSON token
    nan_report = ZooReport([_row("temperature", "L", None, 0.0, auroc=float("nan"))])
    nan_report.to_json(tmp_path / "n.json")
    assert json.loads((tmp_path / "n.json").read_text())["rows"][0]["auroc"] is None


def test_select_sidekick_respects_budget(zoo):
    sel = select_sidekick(zoo, "big", budget=20)
    names = [c["name"] for c in sel.candidates]
    assert names == ["tiny", "mid_a", "mid_b"]  # by cost, then name order
    within = {c["name"]: c["within_budget"] for c in sel.candidates}
    assert within == {"tiny": True, "mid_a": True, "mid_b": True}
    best = min(sel.candidates, key=lambda c: c["val_nll"])
    assert sel.chosen == best["name"]
    assert select_sidekick(zoo, "big", budget=5).chosen == "tiny"
    assert select_sidekick(zoo, "big", budget=1).chosen is None
    assert "Candidate" in sel.format()
    with pytest.raises(ValueError, match="Unknown model"):
        select_sidekick(zoo, "huge", budget=10)


def test_save_and_load_npz_round_trip(tmp_path):
    zoo = _make_zoo(ood=True)
    save_logits_dir(zoo, tmp_path)
    loaded = load_logits_dir(tmp_path)
    assert loaded.splits == ("val", "test", "ood_test")
    assert list(loaded.models) == sorted(zoo.models)
    for name, m in zoo.models.items():
        assert loaded.models[name].cost == m.cost
        assert loaded.models[name].group == m.group
        assert_array_equal(loaded.models[name].logits["test"], m.logits["test"])
    assert load_logits_dir(tmp_path, ood=False).splits == ("val", "test")


def _write_official_csv(root, zoo, splits=("val", "test")):
    for split in splits:
        (root / split / "raw").mkdir(parents=True)
        y = zoo.labels[split]
        with open(root / split / "point_prediction.csv", "w") as fh:
            fh.write("target,big\n")
            fh.writelines(f"{t},{t}\n" for t in y)
        for name, m in zoo.models.items():
            z = m.logits[split]
            lines = [",".join(str(j) for j in range(z.shape[1]))]
            lines += [",".join(repr(float(v)) for v in row) for row in z]
            (root / split / "raw" / f"{name}.csv").write_text("\n".join(lines) + "\n")
    with open(root / "backbones.csv", "w") as fh:
        fh.write("model_name,source,GFLOPS\n")
        fh.writelines(f"{n},tv,{m.cost}\n" for n, m in zoo.models.items())
        fh.write("unused_model,tv,1.0\n")


def test_load_official_csv_layout(zoo, tmp_path):
    _write_official_csv(tmp_path, zoo)
    loaded = load_logits_dir(tmp_path)
    assert sorted(loaded.models) == sorted(zoo.models)
    assert loaded.models["big"].cost == 100.0
    assert_allclose(
        loaded.models["mid_a"].logits["val"], zoo.models["mid_a"].logits["val"]
    )
    assert_array_equal(loaded.labels["test"], zoo.labels["test"])


def test_load_npy_layout_with_costs_csv(zoo, tmp_path):
    for split in ("val", "test"):
        (tmp_path / split).mkdir()
        np.save(tmp_path / split / "labels.npy", zoo.labels[split])
        for name, m in zoo.models.items():
            np.save(tmp_path / split / f"{name}.npy", m.logits[split])
    (tmp_path / "costs.csv").write_text(
        "model,cost\nbig,10\ntiny,1\nmid_a,5\nmid_b,5\n"
    )
    loaded = load_logits_dir(tmp_path)
    assert loaded.models["tiny"].cost == 1.0 and len(loaded.models) == 4


@pytest.mark.parametrize(
    "corrupt, match",
    [
        ("missing_split", r"tiny\.npz.*missing split 'test'"),
        ("rows", r"mid_a\.npz\['val'\]: 299 rows.*have 300"),
        ("labels_range", r"labels\.npz\['val'\].*class 7.*4 columns"),
        ("nan", r"big\.npz\['test'\]: logits contain 1 NaN"),
        ("ood", r"labels\.npz: missing split 'ood_test'"),
        ("cost_unknown", r"costs given for unknown model"),
    ],
)
def test_malformed_npz_directory_names_the_file(zoo, tmp_path, corrupt, match):
    save_logits_dir(zoo, tmp_path)
    ood = None
    if corrupt == "missing_split":
        np.savez(tmp_path / "tiny.npz", val=zoo.models["tiny"].logits["val"])
    elif corrupt == "rows":
        m = zoo.models["mid_a"].logits
        np.savez(tmp_path / "mid_a.npz", val=m["val"][:-1], test=m["test"])
    elif corrupt == "labels_range":
        y_val = zoo.labels["val"].copy()
        y_val[3] = 7
        np.savez(tmp_path / "labels.npz", val=y_val, test=zoo.labels["test"])
    elif corrupt == "nan":
        m = zoo.models["big"].logits
        bad = m["test"].copy()
        bad[5, 2] = np.nan
        np.savez(tmp_path / "big.npz", val=m["val"], test=bad)
    elif corrupt == "ood":
        ood = True
    else:
        (tmp_path / "costs.json").write_text('{"big": 1, "ghost": 2}')
    with pytest.raises(ValueError, match=match):
        load_logits_dir(tmp_path, ood=ood)


def test_malformed_csv_directory_names_the_file(zoo, tmp_path):
    _write_official_csv(tmp_path, zoo)
    (tmp_path / "test" / "raw" / "tiny.csv").unlink()
    with pytest.raises(ValueError, match=r"test/raw/tiny\.csv: missing split 'test'"):
        load_logits_dir(tmp_path)


def test_not_a_logits_directory(tmp_path):
    with pytest.raises(ValueError, match="not a logits directory"):
        load_logits_dir(tmp_path)
    with pytest.raises(ValueError, match="no such directory"):
        load_logits_dir(tmp_path / "absent")


def test_zoo_rejects_inconsistent_models():
    zoo = LogitZoo([0, 1, 1], [1, 0])
    zoo.add("a", np.eye(3)[[0, 1, 1]], np.eye(3)[[1, 0]], cost=2)
    with pytest.raises(ValueError, match="4 columns, but the other models have 3"):
        zoo.add("b", np.eye(4)[[0, 1, 1]], np.eye(4)[[1, 0]])
    with pytest.raises(ValueError, match="Duplicate"):
        zoo.add("a", np.eye(3)[[0, 1, 1]], np.eye(3)[[1, 0]])
    with pytest.raises(ValueError, match="positive"):
        zoo.add("c", np.eye(3)[[0, 1, 1]], np.eye(3)[[1, 0]], cost=0)
    with pytest.raises(ValueError, match="no labels"):
        zoo.add("d", np.eye(3)[[0, 1, 1]], np.eye(3)[[1, 0]], ood_test=np.eye(3))


def test_plots_write_png_without_pyplot(zoo, report, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    rc = dict(matplotlib.rcParams)
    a = plot_risk_coverage(zoo, report, tmp_path / "rc.png")
    b = plot_metric_vs_balance(report, tmp_path / "mb.png")
    for path in (a, b):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert dict(matplotlib.rcParams) == rc
    with pytest.raises(ValueError, match="Unknown metric"):
        plot_metric_vs_balance(report, tmp_path / "x.png", metrics=("speed",))


def _captured_figures(monkeypatch):
    """The figures the report plots save (their ``_save`` still runs)."""
    from skduo.evaluation import _plots

    figures, save = [], _plots._save

    def keep(fig, path, dpi):
        figures.append(fig)
        return save(fig, path, dpi)

    monkeypatch.setattr(_plots, "_save", keep)
    return figures


def test_risk_coverage_plot_names_roles_areas_and_its_axis(
    zoo, report, tmp_path, monkeypatch
):
    pytest.importorskip("matplotlib")
    from skduo.metrics import aurc

    figures = _captured_figures(monkeypatch)
    plot_risk_coverage(zoo, report, tmp_path / "rc.png")
    ax = figures[0].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    ts = report.fitted[("temperature", ("big",))]
    z = zoo.models["big"].logits["test"]
    y = zoo.labels["test"]
    # the legend's AURC: skduo.metrics.aurc of the model's own predictions
    area = aurc(y, ts.predict_proba(z), y_pred=ts.predict(z))
    assert labels[0] == f"big alone (temperature-scaled) (AURC {area:.4f})"
    assert all(label.startswith("duo big + ") for label in labels[1:4])
    lo = ax.get_xlim()[0]
    assert ax.get_xlabel() == (
        "coverage"
        if lo == 0
        else f"coverage (axis from {lo:.2f}: no errors at lower coverage)"
    )


def test_metric_vs_balance_draws_the_reports_intervals(report, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    figures = _captured_figures(monkeypatch)
    plot_metric_vs_balance(report, tmp_path / "mb.png", metrics=("nll",))
    ax = figures[0].axes[0]
    bars = [c for c in ax.collections if c.__class__.__name__ == "LineCollection"]
    segments = [seg for c in bars for seg in c.get_segments()]
    duos = [
        r for r in report.rows if r["method"] == "asymmetric" and r["split"] == "test"
    ]
    # one vertical bar per duo, from the report's low to its high (a bar
    # never hides the point: it is widened to include the difference)
    expected = sorted(
        (round(min(r["nll_low"], r["nll_diff"]), 12),
         round(max(r["nll_high"], r["nll_diff"]), 12))
        for r in duos
    )  # fmt: skip
    drawn = sorted(
        (round(float(s[:, 1].min()), 12), round(float(s[:, 1].max()), 12))
        for s in segments
    )
    assert drawn == expected


def test_importing_evaluation_imports_no_heavy_dependency():
    code = (
        "import sys, skduo.evaluation; "
        "print(','.join(m for m in ('torch', 'skorch', 'timm', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_entropy_confidence_is_a_deprecated_alias(zoo):
    with pytest.warns(FutureWarning, match="neg_entropy"):
        old = evaluate_zoo(zoo, confidence="entropy", ensembles=False)
    new = evaluate_zoo(zoo, confidence="neg_entropy", ensembles=False)
    assert old.confidence == "neg_entropy" and old.rows == new.rows


def test_streamed_rows_equal_the_materialised_computation():
    # the report computes each row's combined logits and probabilities block
    # by block (never n x K whole) and decomposes large splits by Newton
    # passes; the reference is compute_metrics and the direct decomposition on
    # the materialised float64 logits (the report's computation before),
    # on float32 members of 9,000 test rows (above _DIRECT_MAX_ROWS)
    from skduo.evaluation import compute_metrics
    from skduo.metrics._decomposition import _DIRECT_MAX_ROWS

    rng = np.random.default_rng(5)
    n, k = 9000, 30
    assert n > _DIRECT_MAX_ROWS
    y_val, y_test = rng.integers(0, k, n), rng.integers(0, k, n)
    zoo = LogitZoo(y_val, y_test)
    for name, cost, signal in (("big", 10.0, 3.0), ("small", 1.0, 1.5)):
        zoo.add(
            name,
            (rng.normal(size=(n, k)) + signal * np.eye(k)[y_val]).astype(np.float32),
            (rng.normal(size=(n, k)) + signal * np.eye(k)[y_test]).astype(np.float32),
            cost=cost,
        )
    rep = evaluate_zoo(zoo, n_resamples=0, ensembles=False, target_risk=0.05)
    big, small = (zoo.models[m].logits["test"] for m in ("big", "small"))
    for mode in ("asymmetric", "uq_only", "unweighted"):
        row = rep.get(mode, "big", "small")
        ens = rep.fitted[(mode, ("big", "small"))]
        z = ens.decision_logits(big, small)
        ref = compute_metrics(y_test, z, ens.predict(big, small))
        for key in ref:
            assert row[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-15), key
        if mode != "unweighted":
            for score in ("nll", "brier"):
                d = calibration_refinement_decomposition(y_test, logits=z, score=score)
                assert row[f"{score}_refinement"] == pytest.approx(
                    d.refinement, rel=1e-11
                )
                assert row[f"{score}_calibration"] == pytest.approx(
                    d.calibration, rel=1e-9, abs=1e-13
                )
