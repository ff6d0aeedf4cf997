"""One command for the GPU: every CUDA test and the inference timings, one table.

Run from the repository root::

    python benchmarks/gpu_check.py            # < 5 minutes on one GPU
    python benchmarks/gpu_check.py --timeout 120

Parts (each a subprocess with its own timeout; a part that fails or times out
does not stop the others, and its whole output is printed):

1. ``cpu timings``: ``bench_inference.py --quick`` on the CPU (always runs).
2. ``gpu tests``: ``pytest -m gpu`` over ``tests/`` (every CUDA test).
3. ``gpu float32``: ``bench_inference.py`` with resnet50 + resnet18 at 224 px
   on CUDA, float32.
4. ``gpu bfloat16``: the same with autocast bfloat16 and ``channels_last``.

Without CUDA, parts 2-4 are reported as skipped. The exit status is 0 when
every part that ran passed.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCH = os.path.join(HERE, "bench_inference.py")

#: Lines of the parts' output repeated in the summary table.
_KEY_LINES = re.compile(r"speed|e2e:|overhead:|passed|failed|error|PASS|FAIL")


def _cuda():
    try:
        import torch
    except ImportError:
        return None, "torch is not installed"
    if not torch.cuda.is_available():
        return None, "no CUDA device"
    return torch.cuda.get_device_name(), ""


def run_part(name, command, timeout):
    """Run one part; return (status, seconds, output)."""
    print(f"\n===== {name}: {' '.join(command)} (timeout {timeout} s)", flush=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        output = proc.stdout + proc.stderr
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    except subprocess.TimeoutExpired as exc:
        output = (
            (exc.stdout or b"").decode()
            if isinstance(exc.stdout, bytes)
            else (exc.stdout or "")
        )
        output += (
            (exc.stderr or b"").decode()
            if isinstance(exc.stderr, bytes)
            else (exc.stderr or "")
        )
        status = "TIMEOUT"
    seconds = time.perf_counter() - start
    print(output.rstrip(), flush=True)
    return status, seconds, output


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--timeout", type=int, default=90, help="seconds per part (default 90)"
    )
    parser.add_argument("--n-samples", type=int, default=2048, help="GPU images")
    args = parser.parse_args(argv)
    python = sys.executable
    gpu, why = _cuda()
    gpu_bench = [
        python,
        BENCH,
        "--device",
        "cuda",
        "--n-samples",
        str(args.n_samples),
        "--batch-size",
        "256",
        "--repeats",
        "3",
    ]
    parts = [
        ("cpu timings", [python, BENCH, "--quick", "--repeats", "1"], True),
        ("gpu tests", [python, "-m", "pytest", "-q", "-m", "gpu", "tests"], gpu),
        ("gpu float32", gpu_bench, gpu),
        (
            "gpu bfloat16",
            [*gpu_bench, "--precision", "bfloat16", "--channels-last"],
            gpu,
        ),
    ]
    print(f"python {sys.version.split()[0]}; GPU: {gpu or 'none (' + why + ')'}")
    summary, ok = [], True
    for name, command, enabled in parts:
        if not enabled:
            summary.append((name, f"skipped ({why})", 0.0, []))
            continue
        status, seconds, output = run_part(name, command, args.timeout)
        ok &= status == "ok"
        keys = [line.strip() for line in output.splitlines() if _KEY_LINES.search(line)]
        summary.append((name, status, seconds, keys[-20:]))
    print("\n===== summary")
    print(f"{'part':<14} {'status':<28} {'time':>8}")
    for name, status, seconds, keys in summary:
        print(f"{name:<14} {status:<28} {seconds:7.1f}s")
        for line in keys:
            print(f"{'':<16}{line[:120]}")
    if not gpu:
        print(f"\nThe GPU part was skipped ({why}): the GPU run is outstanding.")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
