"""The report's certified coverage: evaluate_zoo(target_risk=...) and the CLI."""

import csv
import json

import numpy as np
import pytest

from skduo._cli import main
from skduo.evaluation import LogitZoo, evaluate_zoo, save_logits_dir
from skduo.evaluation._certified import format_certified
from skduo.metrics import certified_threshold

K, N = 5, 1500


def _zoo():
    rng = np.random.default_rng(0)
    y = {s: rng.integers(0, K, N) for s in ("val", "test")}
    zoo = LogitZoo(y["val"], y["test"])
    for name, cost, signal in [("big", 100.0, 3.0), ("side", 10.0, 2.0)]:
        z = {s: 1.5 * (rng.normal(size=(N, K)) + signal * np.eye(K)[y[s]]) for s in y}
        zoo.add(name, z["val"], z["test"], cost=cost)
    return zoo


@pytest.fixture(scope="module")
def report():
    return evaluate_zoo(
        _zoo(), target_risk=0.05, delta=0.1, n_resamples=0, ensembles=False
    )


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    "method, small",
    [("temperature", None), ("asymmetric", "side"), ("uq_only", "side")],
)
def test_rows_hold_the_certificate_of_their_own_predictions(report, method, small):
    zoo = _zoo()
    row = report.get(method, "big", small)
    members = ("big",) if small is None else ("big", small)
    ens = report.fitted[(method, members)]
    logits = [zoo.models[m].logits["test"] for m in members]
    proba = _softmax(ens.decision_logits(*logits))
    pred = ens.predict(*logits)
    if method == "uq_only":  # the large model's prediction, the duo's confidence
        assert (pred == zoo.models["big"].logits["test"].argmax(axis=1)).all()
    expected = certified_threshold(
        zoo.labels["test"], proba, labels=np.arange(K), y_pred=pred,
        target_risk=0.05, delta=0.1,
    )  # fmt: skip
    assert expected.certified
    assert row["certified_coverage"] == pytest.approx(expected.coverage)
    assert row["certified_threshold"] == pytest.approx(expected.threshold)
    assert row["certified_risk_bound"] == pytest.approx(expected.risk_bound)


def test_no_columns_without_target_risk():
    plain = evaluate_zoo(_zoo(), n_resamples=0, ensembles=False)
    assert all("certified_coverage" not in r for r in plain.rows)
    assert format_certified(plain, target_risk=0.02, delta=0.05) == ""


def test_section_compares_the_duo_with_the_large_model_alone(report):
    text = format_certified(report, target_risk=0.05, delta=0.1, width=100)
    alone = report.get("temperature", "big")["certified_coverage"]
    duo = report.get("asymmetric", "big", "side")["certified_coverage"]
    assert "Coverage certified at 5% risk on test" in text
    assert "certified at 90%" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("big "))
    assert f"{100 * alone:.1f}%" in line and f"{100 * duo:.1f}% (+ side)" in line
    assert f"{100 * (duo - alone):+.1f} pts" in line
    assert max(len(ln) for ln in text.splitlines()) <= 100


def test_bad_target_risk_raises():
    with pytest.raises(ValueError, match="target_risk and delta"):
        evaluate_zoo(_zoo(), target_risk=1.5, n_resamples=0)


def test_cli_target_risk_option(tmp_path, capsys):
    logits = save_logits_dir(_zoo(), tmp_path / "logits")
    out = tmp_path / "out"
    args = ["evaluate", str(logits), "--no-plots", "--resamples", "0"]
    assert main([*args, "--target-risk", "5", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Coverage certified at 5% risk on test" in text
    payload = json.loads((out / "report.json").read_text())
    assert payload["certification"] == {"target_risk": 0.05, "delta": 0.05}
    with open(out / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(0 <= float(r["certified_coverage"]) <= 1 for r in rows)

    off = tmp_path / "off"
    assert main([*args, "--target-risk", "0", "--output", str(off)]) == 0
    assert "Coverage certified" not in capsys.readouterr().out
    assert "certification" not in json.loads((off / "report.json").read_text())

    assert main([*args, "--target-risk", "120", "--output", str(tmp_path / "x")]) == 2
    assert "--target-risk 120" in capsys.readouterr().err
