"""Counting multiply-adds and FLOPs of torch modules and skorch members."""

import math
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode, flop_registry, sdpa_flop_count

from skduo._outputs._torch import _unwrap, is_torch_member

__all__ = ["FlopCount", "count_flops"]

_aten = torch.ops.aten


def _sdpa_formula(query, key, value, *args, out_shape=None, **kwargs):
    # same formula torch registers for the CUDA fused kernels: 2 bmm's
    return sdpa_flop_count(query, key, value)


def _native_mha_formula(
    query, key, value, embed_dim, num_head, *args, out_shape=None, **kwargs
):
    # torch.nn.MultiheadAttention's inference fast path (torchvision ViT): in- and
    # out-projections plus the two attention matmuls, 2 FLOPs per multiply-add.
    n_query = math.prod(query[:-1])
    n_key = math.prod(key[:-1])
    batch = query[0] if len(query) == 3 else 1
    q_len, k_len = query[-2], key[-2]
    projections = 2 * n_query * embed_dim**2 * 2 + 2 * n_key * embed_dim**2 * 2
    attention = 2 * 2 * batch * q_len * k_len * embed_dim
    return projections + attention


def _attention_mapping():
    """Formulas for attention kernels that FlopCounterMode counts as 0.

    torch 2.14 registers formulas for the CUDA fused attention kernels but not for
    the CPU one nor for MultiheadAttention's fused fast path, so a ViT on CPU is
    undercounted (timm ViT-Tiny: 2.150 instead of 2.507 GFLOPs). Ops that a
    newer torch already knows are left to torch.
    """
    candidates = {
        "_scaled_dot_product_flash_attention_for_cpu": _sdpa_formula,
        "_scaled_dot_product_fused_attention_overrideable": _sdpa_formula,
        "_native_multi_head_attention": _native_mha_formula,
    }
    mapping = {}
    for op_name, formula in candidates.items():
        op = getattr(_aten, op_name, None)
        if op is not None and op not in flop_registry:
            mapping[op] = formula
    return mapping


def _format_count(value):
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.4g} {suffix}"
    return f"{value:.4g}"


@dataclass(frozen=True)
class FlopCount:
    """Compute cost of one forward pass, from :func:`count_flops`.

    Parameters
    ----------
    macs : int
        Multiply-adds for the whole example input: the convention of the paper and
        of torchvision's "GFLOPS" (ResNet-50 at 224x224: 4.09 G per image).
    flops : int
        Floating-point operations as counted by
        :class:`torch.utils.flop_counter.FlopCounterMode`: 2 per multiply-add.
    n_samples : int
        Number of samples in the example input (its first dimension).
    by_operator : dict of {str: int}
        FLOPs per aten operator.

    Attributes
    ----------
    macs_per_sample : float
        ``macs / n_samples``.
    flops_per_sample : float
        ``flops / n_samples``.

    See Also
    --------
    count_flops : Count a module's or a fitted net's cost.

    Examples
    --------
    >>> from skduo.torch import FlopCount
    >>> FlopCount(macs=4_089_184_256, flops=8_178_368_512, n_samples=1)
    FlopCount(macs=4.089 G, flops=8.178 G, n_samples=1)
    """

    macs: int
    flops: int
    n_samples: int
    by_operator: dict = field(default_factory=dict, compare=False)

    @property
    def macs_per_sample(self):
        return self.macs / self.n_samples

    @property
    def flops_per_sample(self):
        return self.flops / self.n_samples

    def __repr__(self):
        return (
            f"FlopCount(macs={_format_count(self.macs)}, "
            f"flops={_format_count(self.flops)}, n_samples={self.n_samples})"
        )


def _first_tensor(obj):
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def _to_device(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    if hasattr(obj, "__array__"):
        return torch.as_tensor(obj, device=device)
    return obj


def _module_device(module):
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def _count(modules, forward):
    previous_modes = [(m, m.training) for mod in modules for m in mod.modules()]
    counter = FlopCounterMode(display=False, custom_mapping=_attention_mapping())
    try:
        for module in modules:
            module.eval()
        with torch.no_grad(), counter:
            forward()
    finally:
        for module, training in previous_modes:
            module.training = training
    by_operator = {
        str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()
    }
    return int(counter.get_total_flops()), by_operator


def count_flops(model, example_input):
    """Count multiply-adds and FLOPs of one forward pass.

    Runs ``model`` once on ``example_input`` in ``eval()`` mode under
    :func:`torch.no_grad` with :class:`torch.utils.flop_counter.FlopCounterMode`
    (restoring the ``training`` flags afterwards), counting matrix
    multiplications, convolutions and attention. Element-wise operations
    (activations, normalisation, pooling) are not counted, as in torchvision's
    and the paper's figures.

    Parameters
    ----------
    model : torch.nn.Module or fitted skorch net
        A module, or a fitted skorch net, a ``Pipeline`` ending in one or either
        wrapped in ``FrozenEstimator`` (a duo member): its pipeline steps
        transform ``example_input`` first and its ``module_`` is counted on the
        net's device.
    example_input : tensor, array-like, tuple or dict
        A small batch (one sample is enough: costs scale linearly with the batch).
        For a module: a tensor or array (moved to the module's device), a tuple of
        positional inputs or a dict of keyword inputs. For a skorch member:
        anything its ``predict`` accepts.

    Returns
    -------
    FlopCount
        ``macs`` and ``flops`` (``2 * macs``) for the whole example, ``n_samples``
        and the per-operator breakdown; ``macs_per_sample`` is the paper's
        "GFLOPs" figure once divided by ``1e9``.

    Notes
    -----
    ``FlopCounterMode`` in torch 2.14 has no formula for the CPU fused
    scaled-dot-product attention kernel nor for ``nn.MultiheadAttention``'s fused
    inference path and counts them as 0. ``count_flops`` supplies the standard
    formulas for those kernels (2 multiply-adds per query-key and per
    attention-value product, plus the projections for ``nn.MultiheadAttention``),
    so a timm ViT-Tiny counts 1.254 G multiply-adds per 224x224 image (2.507
    GFLOPs; 2.150 when attention is missed) and torchvision's ViT-B/16 17.56 G,
    its published figure.

    Examples
    --------
    >>> import torch
    >>> from skduo.torch import count_flops
    >>> layer = torch.nn.Linear(64, 10)
    >>> cost = count_flops(layer, torch.zeros(4, 64))
    >>> cost
    FlopCount(macs=2.56 K, flops=5.12 K, n_samples=4)
    >>> cost.macs_per_sample
    640.0
    """
    if isinstance(model, torch.nn.Module):
        device = _module_device(model)
        inputs = _to_device(example_input, device)
        modules = [model]

        def forward():
            if isinstance(inputs, dict):
                return model(**inputs)
            if isinstance(inputs, (list, tuple)):
                return model(*inputs)
            return model(inputs)

    elif is_torch_member(model):
        from skorch.utils import to_tensor

        from skduo._outputs._torch import _check_net_fitted

        preprocessors, net = _unwrap(model)
        _check_net_fitted(net, "model")
        X = example_input
        for preprocessor in preprocessors:
            X = preprocessor.transform(X)
        inputs = to_tensor(X, device=net.device)
        modules = [m for m in (getattr(net, "module_", None),) if m is not None]

        def forward():
            return net.infer(inputs)

    else:
        raise TypeError(
            "count_flops expects a torch.nn.Module or a fitted skorch net (or a "
            f"Pipeline ending in one); got {type(model).__name__}."
        )
    first = _first_tensor(inputs)
    if first is None or first.ndim == 0 or first.shape[0] == 0:
        raise ValueError(
            "example_input must hold a batch of at least one sample (a tensor or "
            "array whose first dimension is the batch)."
        )
    flops, by_operator = _count(modules, forward)
    return FlopCount(
        macs=flops // 2,
        flops=flops,
        n_samples=int(first.shape[0]),
        by_operator=by_operator,
    )
