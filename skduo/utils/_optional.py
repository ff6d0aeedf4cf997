"""Checks for optional dependencies, with install hints."""

import importlib


def check_matplotlib_support(caller_name):
    """Import matplotlib or raise an ImportError that says how to install it."""
    try:
        return importlib.import_module("matplotlib")
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib. Install it with "
            "`pip install 'skduo[plot]'` or `pip install matplotlib`."
        ) from exc


def check_torch_support(caller_name):
    """Import torch or raise an ImportError that says how to install it."""
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires PyTorch. Install it with "
            "`pip install 'skduo[torch]'` (or 'skduo[timm]' for timm backbones)."
        ) from exc
