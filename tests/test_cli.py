"""``python -m skduo``: the quick demo and ``evaluate`` on saved logits."""

import json
import subprocess
import sys

import numpy as np
import pytest

from skduo._cli import main
from skduo.evaluation import LogitZoo, save_logits_dir


def _saved_zoo(path, ood=False):
    rng = np.random.default_rng(0)
    n, k = 200, 3
    y = {s: rng.integers(0, k, n) for s in ("val", "test", "ood_test")}
    zoo = LogitZoo(y["val"], y["test"], y["ood_test"] if ood else None)
    for name, cost, signal, group in [
        ("large", 50.0, 2.0, None),
        ("side_a", 5.0, 1.2, "side"),
        ("side_b", 5.0, 1.1, "side"),
    ]:
        z = {s: rng.normal(size=(n, k)) + signal * np.eye(k)[y[s]] for s in y}
        zoo.add(
            name,
            z["val"],
            z["test"],
            ood_test=z["ood_test"] if ood else None,
            cost=cost,
            group=group,
        )
    save_logits_dir(zoo, path)
    return path


def test_evaluate_writes_report_and_recommends(tmp_path, capsys):
    logits = _saved_zoo(tmp_path / "logits", ood=True)
    out = tmp_path / "out"
    code = main(
        [
            "evaluate",
            str(logits),
            "--ood",
            "--budget",
            "20",
            "--paper-units",
            "--confidence",
            "neg_entropy",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "Harm rate on test" in text and "Harm rate on ood_test" in text
    assert "Candidate:" in text and "paper units" in text
    payload = json.loads((out / "report.json").read_text())
    assert payload["confidence"] == "neg_entropy"
    assert payload["sidekick_selection"]["large"] == "large"
    assert {r["split"] for r in payload["rows"]} == {"test", "ood_test"}
    for name in ("report.csv", "risk_coverage.png", "metric_vs_balance.png"):
        assert (out / name).stat().st_size > 0


@pytest.mark.parametrize(
    "args, match",
    [
        (["--ood"], "missing split 'ood_test'"),
        (["--large", "nope"], "--large 'nope'"),
    ],
)
def test_evaluate_errors_exit_2(tmp_path, capsys, args, match):
    logits = _saved_zoo(tmp_path / "logits")
    code = main(
        ["evaluate", str(logits), "--no-plots", "--output", str(tmp_path)] + args
    )
    assert code == 2
    assert match in capsys.readouterr().err


def test_evaluate_names_the_bad_file(tmp_path, capsys):
    logits = _saved_zoo(tmp_path / "logits")
    np.savez(
        logits / "side_a.npz", val=np.full((200, 3), np.nan), test=np.zeros((200, 3))
    )
    assert main(["evaluate", str(logits), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "side_a.npz['val']: logits contain 600 NaN" in err


def test_quick_demo_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "trained logreg" in text and "Harm rate on test" in text
    assert "Candidate" in text
    assert str(out / "metric_vs_balance.png") in text
    # every line fits the 100 columns; the conclusions come last
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "What to conclude (test split" in text
    assert text.rstrip().splitlines()[-1].startswith(("- ", "  "))
    rows = json.loads((out / "report.json").read_text())["rows"]
    assert {r["method"] for r in rows} >= {"temperature", "asymmetric", "deep_ensemble"}
    # the saved logits re-load for `python -m skduo evaluate`; the folder is not
    # empty, so --force is needed (since the output-folder rule of issue 11),
    # and a --no-plots run removes the demo's plots but keeps its logits
    assert (
        main(["evaluate", str(out / "logits"), "--no-plots", "--output", str(out)]) == 2
    )
    assert "not empty" in capsys.readouterr().err
    args = ["evaluate", str(out / "logits"), "--no-plots", "--output", str(out)]
    assert main([*args, "--force"]) == 0
    assert not (out / "metric_vs_balance.png").exists()
    assert (out / "logits" / "labels.npz").exists()


def test_module_entry_point_help():
    res = subprocess.run(
        [sys.executable, "-m", "skduo", "evaluate", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--budget" in res.stdout and "point_prediction.csv" in res.stdout


def test_deprecated_entropy_confidence_says_so_and_uses_neg_entropy(tmp_path, capsys):
    logits = _saved_zoo(tmp_path / "logits")
    out = tmp_path / "out"
    args = ["evaluate", str(logits), "--no-plots", "--output"]
    assert main([*args, str(out), "--confidence", "entropy"]) == 0
    err = capsys.readouterr().err
    assert "--confidence entropy is deprecated; use --confidence neg_entropy" in err
    old = json.loads((out / "report.json").read_text())
    assert main([*args, str(tmp_path / "new"), "--confidence", "neg_entropy"]) == 0
    new = json.loads((tmp_path / "new" / "report.json").read_text())
    assert old["confidence"] == new["confidence"] == "neg_entropy"
    assert old["rows"] == new["rows"]


def test_evaluate_mmap_reads_npy_memory_mapped_with_the_same_report(
    tmp_path, monkeypatch
):
    # --mmap opens the split folders' .npy files with np.load(mmap_mode='r'):
    # the zoo's float32 logits stay np.memmap (checked on the loader the CLI
    # calls) and report.csv is byte for byte the one read into memory
    import skduo.evaluation as evaluation

    rng = np.random.default_rng(0)
    n, k = 150, 3
    root = tmp_path / "npy"
    for split in ("val", "test"):
        (root / split).mkdir(parents=True)
        y = rng.integers(0, k, n)
        np.save(root / split / "labels.npy", y)
        for name, s in (("big", 2.0), ("small", 1.0)):
            z = (rng.normal(size=(n, k)) + s * np.eye(k)[y]).astype(np.float32)
            np.save(root / split / f"{name}.npy", z)
    (root / "costs.json").write_text('{"big": 10, "small": 1}')
    seen = []
    load = evaluation.load_logits_dir

    def spy(*args, **kwargs):
        zoo = load(*args, **kwargs)
        seen.append(type(zoo.models["big"].logits["test"]))
        return zoo

    monkeypatch.setattr(evaluation, "load_logits_dir", spy)
    common = ["evaluate", str(root), "--no-plots", "--resamples", "50"]
    assert main([*common, "--output", str(tmp_path / "a")]) == 0
    assert main([*common, "--mmap", "--output", str(tmp_path / "b")]) == 0
    assert seen == [np.ndarray, np.memmap]
    a = (tmp_path / "a" / "report.csv").read_bytes()
    assert a == (tmp_path / "b" / "report.csv").read_bytes()
