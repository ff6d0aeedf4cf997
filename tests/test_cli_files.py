"""``python -m skduo``: output folders, file faults, interrupts, width, outputs.

Every fault must end in one line on stderr naming the file and the problem,
exit status 2 (130 for an interrupt), and nothing written.
"""

import errno
import json
import os
import signal

import numpy as np
import pytest
from scipy.special import softmax

from skduo import _cli
from skduo._cli import main
from skduo.evaluation import LogitZoo, _files, _report, save_logits_dir

K, N = 3, 200


def _saved_zoo(path, proba=False):
    rng = np.random.default_rng(0)
    y = {s: rng.integers(0, K, N) for s in ("val", "test")}
    zoo = LogitZoo(y["val"], y["test"])
    for name, cost, signal_, group in [
        ("large", 50.0, 2.0, None),
        ("side_a", 5.0, 1.2, "side"),
        ("side_b", 5.0, 1.1, "side"),
    ]:
        z = {s: rng.normal(size=(N, K)) + signal_ * np.eye(K)[y[s]] for s in y}
        zoo.add(name, z["val"], z["test"], cost=cost, group=group)
    save_logits_dir(zoo, path)
    if proba:  # the same models saved as softmax outputs
        for name, model in zoo.models.items():
            np.savez(
                path / f"{name}.npz",
                **{s: softmax(v, axis=1) for s, v in model.logits.items()},
            )
    return path


@pytest.fixture
def logits(tmp_path):
    return _saved_zoo(tmp_path / "logits")


def _run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _tree(path):
    return sorted(
        (str(p.relative_to(path)), p.stat().st_size if p.is_file() else -1)
        for p in path.rglob("*")
    )


# --------------------------------------------------------------------------
# The output folder: all or nothing, never mixed
# --------------------------------------------------------------------------
def test_non_empty_output_is_refused_and_left_alone(logits, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = _run(["evaluate", str(logits), "--output", str(out)], capsys)
    assert code == 2
    _one_line_error(err, str(out), "not empty", "--force")
    assert _tree(out) == [("notes.txt", 4)]


def test_force_replaces_skduo_files_and_removes_stale_plots(logits, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(["evaluate", str(logits), "--output", str(out)], capsys)[0] == 0
    assert (out / "risk_coverage.png").exists()
    (out / "notes.txt").write_text("mine")
    old = (out / "report.json").read_text()
    args = ["evaluate", str(logits), "--output", str(out), "--no-plots", "--force"]
    code, text, _ = _run([*args, "--confidence", "margin"], capsys)
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    # the previous run's plots are gone, the user's file is kept, no staging
    assert names == ["notes.txt", "report.csv", "report.json"]
    new = json.loads((out / "report.json").read_text())
    assert new["confidence"] == "margin" and old != (out / "report.json").read_text()


def test_output_path_that_is_a_file(logits, tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    code, _, err = _run(["evaluate", str(logits), "--output", str(target)], capsys)
    assert code == 2
    _one_line_error(err, str(target), "is a file")
    assert target.read_text() == "x"


def test_report_csv_that_is_a_folder(logits, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "report.csv").mkdir(parents=True)
    code, _, err = _run(
        ["evaluate", str(logits), "--output", str(out), "--force"], capsys
    )
    assert code == 2
    _one_line_error(err, str(out / "report.csv"), "is a folder")
    assert _tree(out) == [("report.csv", -1)]


def test_read_only_output_folder(logits, tmp_path, capsys, monkeypatch):
    parent = tmp_path / "ro"
    parent.mkdir()
    out = parent / "out"
    if os.geteuid() == 0:
        # root ignores permission bits: simulate the refusal of the write

        def refuse(*args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied", str(out))

        monkeypatch.setattr(_files.tempfile, "mkdtemp", refuse)
        out.mkdir()
    else:
        parent.chmod(0o500)
    try:
        code, _, err = _run(["evaluate", str(logits), "--output", str(out)], capsys)
    finally:
        parent.chmod(0o700)
    assert code == 2
    _one_line_error(err, "Permission denied", str(parent))
    assert [p.name for p in parent.iterdir()] in ([], ["out"])
    if (parent / "out").exists():
        assert not any((parent / "out").iterdir())


@pytest.mark.parametrize("which", ["report.json", "report.csv", "plot"])
def test_full_disk_leaves_nothing(logits, tmp_path, capsys, monkeypatch, which):
    # a write that fails with ENOSPC, at each of the files in turn
    out = tmp_path / "out"
    real = _files.atomic_file

    def full(path, mode="w"):
        if which in str(path) or (which == "plot" and str(path).endswith(".png")):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, mode)

    monkeypatch.setattr(_files, "atomic_file", full)
    import skduo.evaluation._plots as plots

    monkeypatch.setattr(plots, "atomic_file", full)
    code, _, err = _run(["evaluate", str(logits), "--output", str(out)], capsys)
    assert code == 2
    _one_line_error(err, "No space left on device", str(out))
    assert ".skduo-staging" not in err and ".tmp" not in err
    assert not out.exists()


def test_full_disk_during_a_write_keeps_the_old_file(tmp_path, monkeypatch):
    # the temporary file is written, then the disk fills: the destination
    # keeps its old content and no temporary file is left
    target = tmp_path / "report.json"
    target.write_text('{"old": 1}\n')

    def failing_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_files.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        _report.ZooReport([]).to_json(target)
    assert target.read_text() == '{"old": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


# --------------------------------------------------------------------------
# Unreadable inputs: one line naming the file, nothing written
# --------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["zero-byte", "truncated", "groups-list"])
def test_bad_input_files(logits, tmp_path, capsys, fault):
    if fault == "zero-byte":
        bad = logits / "side_a.npz"
        bad.write_bytes(b"")
        fragments = [str(bad), "empty or truncated"]
    elif fault == "truncated":
        bad = logits / "side_b.npz"
        bad.write_bytes(bad.read_bytes()[:300])
        fragments = [str(bad), "cannot be read as a .npz archive"]
    else:
        bad = logits / "groups.json"
        bad.write_text('["side_a", "side_b"]')
        fragments = [str(bad), "expected an object", "got a list"]
    out = tmp_path / "out"
    code, _, err = _run(["evaluate", str(logits), "--output", str(out)], capsys)
    assert code == 2
    _one_line_error(err, *fragments)
    assert not out.exists()


def test_file_name_that_is_not_utf8(logits, tmp_path, capsys):
    bad = os.path.join(os.fsencode(logits), b"m\xff.npz")
    os.rename(os.path.join(os.fsencode(logits), b"side_b.npz"), bad)
    out = tmp_path / "out"
    code, _, err = _run(["evaluate", str(logits), "--output", str(out)], capsys)
    assert code == 2
    _one_line_error(err, "m\\xff.npz", "not valid UTF-8")
    assert not out.exists()  # no header-only report.csv


# --------------------------------------------------------------------------
# Interrupts: exit 130, nothing half-written
# --------------------------------------------------------------------------
def test_interrupt_during_the_report_writes_nothing(
    logits, tmp_path, capsys, monkeypatch
):
    import skduo.evaluation as ev

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ev, "evaluate_zoo", interrupted)
    out = tmp_path / "out"
    code, _, err = _run(["evaluate", str(logits), "--output", str(out)], capsys)
    assert code == 130
    _one_line_error(err, "interrupted; nothing written")
    assert not out.exists()


def test_interrupt_while_plotting_keeps_the_old_report(
    logits, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"
    assert _run(["evaluate", str(logits), "--output", str(out)], capsys)[0] == 0
    before = _tree(out)
    import skduo.evaluation as ev

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ev, "plot_metric_vs_balance", interrupted)
    args = ["evaluate", str(logits), "--output", str(out), "--force"]
    code, _, err = _run([*args, "--confidence", "margin"], capsys)
    assert code == 130
    assert _tree(out) == before  # the old, complete report; no new files


def test_interrupt_swallowed_by_a_fit_still_stops_the_demo(
    tmp_path, capsys, monkeypatch
):
    # skorch's fit catches KeyboardInterrupt and returns; the demo must stop
    from sklearn.linear_model import LogisticRegression

    import skduo.evaluation._demo as demo

    class Swallowing(LogisticRegression):
        def fit(self, X, y):
            try:
                os.kill(os.getpid(), signal.SIGINT)
            except KeyboardInterrupt:
                pass
            return self  # "trained": the demo must not go on

    monkeypatch.setattr(
        demo,
        "_sklearn_specs",
        lambda quick, seed: [("swallow", Swallowing(), 1.0, None)],
    )
    out = tmp_path / "out"
    code, _, err = _run(["demo", "--quick", "--output", str(out)], capsys)
    assert code == 130
    _one_line_error(err, "interrupted")
    assert not out.exists()


def test_interrupt_while_moving_files_finishes_the_move(tmp_path):
    with pytest.raises(KeyboardInterrupt, match="complete"):
        with _files.deferred_interrupts():
            os.kill(os.getpid(), signal.SIGINT)
            done = True
    assert done


# --------------------------------------------------------------------------
# Probabilities saved as logits; terminal width; wide tables
# --------------------------------------------------------------------------
def test_probabilities_are_recognised_with_one_plain_line_per_model(tmp_path, capsys):
    logits = _saved_zoo(tmp_path / "logits")
    proba = _saved_zoo(tmp_path / "proba", proba=True)
    code, text, err = _run(
        ["evaluate", str(proba), "--no-plots", "--output", str(tmp_path / "p")],
        capsys,
    )
    assert code == 0 and "Warning" not in err and "warn" not in err
    lines = [line for line in text.splitlines() if "look like probabilities" in line]
    assert [line.split(":")[0] for line in lines] == ["large", "side_a", "side_b"]
    assert (
        _run(
            ["evaluate", str(logits), "--no-plots", "--output", str(tmp_path / "z")],
            capsys,
        )[0]
        == 0
    )
    from_proba = json.loads((tmp_path / "p" / "report.json").read_text())["rows"]
    from_logits = json.loads((tmp_path / "z" / "report.json").read_text())["rows"]
    for a, b in zip(from_proba, from_logits):
        # log(softmax(z)) is z up to a per-row shift: the same duo
        np.testing.assert_allclose(a["weights"], b["weights"], rtol=1e-6)
        assert a["nll"] == pytest.approx(b["nll"], rel=1e-9)
    # declared: no message
    args = ["evaluate", str(proba), "--no-plots", "--outputs", "proba"]
    code, text, _ = _run([*args, "--output", str(tmp_path / "q")], capsys)
    assert code == 0 and "look like probabilities" not in text


@pytest.mark.parametrize("columns", ["60", "100"])
def test_every_line_fits_the_terminal(logits, tmp_path, capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.chdir(tmp_path)  # short relative paths in "Wrote:"
    code, text, _ = _run(
        ["evaluate", "logits", "--output", "out", "--budget", "20", "--all-modes"],
        capsys,
    )
    assert code == 0
    assert max(len(line) for line in text.splitlines()) <= int(columns)
    assert "every column in report.csv, or pass --wide" in text or columns == "100"
    tail = text[text.index("What to conclude") :]
    assert "Use large with the sidekick" in tail and "significantly worse" in tail


def test_not_a_terminal_is_at_most_100_columns(monkeypatch):
    from skduo.evaluation._format import terminal_width

    monkeypatch.setenv("COLUMNS", "250")
    assert terminal_width() == 100  # pytest's captured stdout is not a tty
    monkeypatch.setenv("COLUMNS", "20")
    assert terminal_width() == 40  # a floor, so tables stay tables


def test_wide_prints_every_column(logits, tmp_path, capsys):
    code, text, _ = _run(
        [
            "evaluate",
            str(logits),
            "--wide",
            "--no-plots",
            "--output",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 0
    header = next(line for line in text.splitlines() if line.startswith("method"))
    assert header.split() == [
        "method",
        "model",
        "balance",
        "Acc",
        "F1",
        "Brier",
        "NLL",
        "ECE",
        "AUROC",
        "AURC",
        "E-AURC",
        "SAC@98",
        "weights",
    ]
    assert "Significantly worse / not significantly different" in text


def test_no_resamples_means_no_significance(logits, tmp_path, capsys):
    code, text, _ = _run(
        [
            "evaluate",
            str(logits),
            "--resamples",
            "0",
            "--no-plots",
            "--output",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 0 and "no significance test" in text
    assert "each cell" not in text
    rows = json.loads((tmp_path / "o" / "report.json").read_text())["rows"]
    assert not any("nll_low" in r for r in rows)


def test_bad_numbers_exit_2(logits, tmp_path, capsys):
    for args, match in (
        (["--resamples", "-1"], "--resamples -1"),
        (["--level", "100"], "--level 100"),
    ):
        code, _, err = _run(
            ["evaluate", str(logits), "--output", str(tmp_path / "o"), *args], capsys
        )
        assert code == 2
        _one_line_error(err, match)
    assert not (tmp_path / "o").exists()


def test_report_files_constant_matches_the_writer():
    assert set(_cli.REPORT_FILES) < set(_files.OWNED)


def test_demo_force_replaces_the_logits_folder(tmp_path, capsys, monkeypatch):
    # a demo into a used folder: refused, then with --force the old logits
    # (a model of the earlier run) are gone, not mixed with the new ones
    import skduo.evaluation._demo as demo

    source = _saved_zoo(tmp_path / "src")
    from skduo.evaluation import load_logits_dir

    monkeypatch.setattr(
        demo, "build_digits_zoo", lambda **kwargs: load_logits_dir(source)
    )
    out = tmp_path / "out"
    (out / "logits").mkdir(parents=True)
    np.savez(out / "logits" / "ghost.npz", val=np.zeros((2, 2)))
    (out / "risk_coverage.png").write_bytes(b"old")
    code, _, err = _run(["demo", "--output", str(out), "--no-plots"], capsys)
    assert code == 2 and "not empty" in err
    code, text, _ = _run(
        ["demo", "--output", str(out), "--no-plots", "--force"], capsys
    )
    assert code == 0
    assert sorted(p.name for p in (out / "logits").iterdir()) == [
        "costs.json",
        "groups.json",
        "labels.npz",
        "large.npz",
        "side_a.npz",
        "side_b.npz",
    ]
    assert not (out / "risk_coverage.png").exists()
    assert f"--output {out / 'evaluate'}" in " ".join(text.split())


def test_written_files_have_ordinary_permissions(tmp_path):
    # a temporary file from mkstemp is private (0600); the renamed file must
    # get the usual mode of new files (0666 minus the umask)
    mask = os.umask(0o022)
    try:
        target = _files.atomic_write(tmp_path / "x.csv", "a,b\n")
    finally:
        os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o644
