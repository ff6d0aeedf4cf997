"""Root pytest hooks: Agg backend, skip doctests of optional subpackages."""

import importlib.util
import os

os.environ.setdefault("MPLBACKEND", "Agg")

collect_ignore_glob = [
    "docs/*",
    "examples/*",
    "benchmarks/*",
    ".venv/*",
    ".venv-floors/*",
]

if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += [
        "skduo/torch/*",
        "skduo/_outputs/_inputs.py",
        "skduo/_outputs/_cache.py",  # its example uses skduo.torch
    ]
if importlib.util.find_spec("dask") is None:
    collect_ignore_glob.append("skduo/_fit/_dask.py")
if importlib.util.find_spec("numba") is None:
    collect_ignore_glob += [
        "skduo/_fit/_compiled.py",
        "skduo/metrics/_compiled.py",
        "skduo/metrics/_compiled_bootstrap.py",
    ]
if importlib.util.find_spec("skl2onnx") is None:
    collect_ignore_glob.append("skduo/onnx.py")
if importlib.util.find_spec("matplotlib") is None:
    collect_ignore_glob.append("skduo/metrics/_display*.py")
