"""Torch backbones as duo members: logits, timm nets and FLOPs accounting.

An optional subpackage: ``import skduo`` never imports torch, while
``import skduo.torch`` needs it (``pip install 'skduo[torch]'``, or
``'skduo[timm]'`` for timm backbones). skorch nets need no adapter:
:class:`~skduo.DuoClassifier` recognises fitted skorch nets (and Pipelines ending
in one) as members and uses their true logits; this subpackage adds

- :func:`as_member` (:class:`InferenceNet`), any trained module (a bare torch
  loop, a timm checkpoint) as a fitted member in one line, with device, batch
  size, batch transform, ``channels_last`` and autocast precision;
- :data:`logits_cache`, the bounded cache that lets cross-validation and grid
  searches run each backbone over each validation row once (``clear()``,
  ``info()``, ``max_bytes``);
- :func:`precompute_logits`, :class:`PrecomputedMember` and
  :func:`restore_members`, the explicit route: logits once, model selection on
  them, then the fitted duo over the real members;
- :class:`IndexableDataset`, a Dataset that cross-validation and grid
  searches split into Datasets (``cross_val_score(duo, IndexableDataset(ds),
  y)``), its rows cached across folds;
- :func:`net_logits`, the logit extraction the duo uses, for direct use;
- :func:`make_timm_classifier`, a skorch classifier around a timm backbone;
- :func:`count_flops` and :class:`FlopCount`, multiply-adds and FLOPs of a module;
- :func:`duo_compute_report` and :class:`DuoComputeReport`, the compute side of a
  duo (member costs, FLOPs balance, extra compute).

Notes
-----
A fitted duo stores only NumPy arrays and floats of its own, but it keeps its
members, and a skorch net pickled on a GPU stays a CUDA net. skorch maps such a
net to the CPU when it is unpickled on a machine without CUDA (with a
``DeviceWarning``). On a machine with CUDA, move a loaded member to the CPU with
``net.set_params(device="cpu")`` followed by ``net.module_.to("cpu")`` (skorch's
``set_params`` alone records the device but does not move the module).
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without torch only
    raise ImportError(
        "skduo.torch requires PyTorch. Install it with `pip install 'skduo[torch]'` "
        "(or `pip install 'skduo[timm]'` for timm backbones)."
    ) from exc

from skduo._outputs._cache import LOGITS_CACHE as logits_cache
from skduo.torch._as_member import as_member
from skduo.torch._dataset import IndexableDataset
from skduo.torch._export import export_duo_module
from skduo.torch._flops import FlopCount, count_flops
from skduo.torch._member import InferenceNet
from skduo.torch._precomputed import (
    PrecomputedMember,
    precompute_logits,
    restore_members,
)
from skduo.torch._report import DuoComputeReport, duo_compute_report
from skduo.torch._skorch import check_same_device, net_logits
from skduo.torch._timm import make_timm_classifier

__all__ = [
    "DuoComputeReport",
    "FlopCount",
    "IndexableDataset",
    "InferenceNet",
    "PrecomputedMember",
    "as_member",
    "check_same_device",
    "count_flops",
    "duo_compute_report",
    "export_duo_module",
    "logits_cache",
    "make_timm_classifier",
    "net_logits",
    "precompute_logits",
    "restore_members",
]
