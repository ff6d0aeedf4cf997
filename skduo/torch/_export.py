"""A fitted duo over torch members as one ``nn.Module``, for serving.

:func:`export_duo_module` copies both backbones (never the user's modules: the
duo's members stay as they are), their preprocessing and the fitted weights
into one module whose ``forward(x)`` returns what the estimator's
:meth:`~skduo.DuoClassifier.decision_function` returns (or its
``predict_proba``), so that :func:`torch.export.export` and
:func:`torch.onnx.export` see a single graph.
"""

import copy

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

from skduo._outputs._member import column_map, member_classes

__all__ = ["export_duo_module"]

#: ``eps`` of the NLLLoss rule (``log(p + eps)``), as in the duo's torch bridge.
_EPS32 = float(np.finfo(np.float32).eps)


def _unwrap(member, name):
    """``(preprocessing steps, net)`` of a torch member, FrozenEstimators removed."""
    steps = []
    while True:
        if isinstance(member, FrozenEstimator):
            member = member.estimator
        elif isinstance(member, Pipeline):
            steps.extend(member.steps[:-1])
            member = member.steps[-1][1]
        else:
            break
    if not isinstance(getattr(member, "module_", None), torch.nn.Module):
        raise TypeError(
            f"The {name} member ({type(member).__name__}) is not a fitted skorch "
            "net (nor a Pipeline or FrozenEstimator around one): only duos over "
            "torch members can be exported as one nn.Module. For scikit-learn "
            "members, see skduo.onnx."
        )
    return steps, member


class _Affine(torch.nn.Module):
    """``x * scale + offset`` (a fitted scikit-learn scaler), in ``x``'s dtype."""

    def __init__(self, scale, offset):
        super().__init__()
        self.register_buffer("scale", torch.tensor(np.asarray(scale, np.float32)))
        self.register_buffer("offset", torch.tensor(np.asarray(offset, np.float32)))

    def forward(self, x):
        return x * self.scale.to(x.dtype) + self.offset.to(x.dtype)


def _scaler_module(step_name, step, name):
    """A torch module for a fitted scaler step; a clear error for other steps."""
    if step is None or step == "passthrough":
        return None
    if isinstance(step, StandardScaler):
        scale = 1.0 / step.scale_ if step.scale_ is not None else 1.0
        mean = step.mean_ if step.mean_ is not None else 0.0
        scale = np.broadcast_to(scale, (step.n_features_in_,))
        return _Affine(scale, -np.asarray(mean) * scale)
    if isinstance(step, MinMaxScaler) and not step.clip:
        return _Affine(step.scale_, step.min_)
    if isinstance(step, MaxAbsScaler):
        return _Affine(1.0 / step.scale_, np.zeros_like(step.scale_))
    raise TypeError(
        f"The {name} member's Pipeline step {step_name!r} "
        f"({type(step).__name__}) has no torch equivalent in export_duo_module "
        "(supported: StandardScaler, MinMaxScaler without clip, MaxAbsScaler, "
        "'passthrough'). Export a duo over the nets themselves and apply this "
        "preprocessing before calling the module."
    )


class _Callable(torch.nn.Module):
    """A callable (an ``InferenceNet``'s ``transform``) as a module."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class _MemberLogits(torch.nn.Module):
    """One member: preprocessing, backbone, the duo's logits rule, columns."""

    def __init__(self, preprocess, backbone, binary, nll_rule, columns):
        super().__init__()
        self.preprocess = torch.nn.ModuleList(preprocess)
        self.backbone = backbone
        self.binary = binary
        self.nll_rule = nll_rule
        self.register_buffer(
            "columns", None if columns is None else torch.as_tensor(columns)
        )

    def forward(self, x):
        for step in self.preprocess:
            x = step(x)
        z = self.backbone(x)
        if isinstance(z, (tuple, list)):
            z = z[0]  # as skorch's predict_proba and the duo do
        if self.binary or z.ndim == 1:
            z = z.reshape(-1)  # (n,) or (n, 1): one logit s per sample
            z = torch.stack([torch.zeros_like(z), z], dim=1)  # binary: (0, s)
        elif self.nll_rule:
            # an NLLLoss net whose module returns probabilities: the duo uses
            # log(p + eps); decided per call (the estimator decides per X)
            is_proba = (z >= 0).all() & ((z.sum(dim=1) - 1).abs() <= 1e-4).all()
            z = torch.where(is_proba, torch.log(z + _EPS32), z)
        if self.columns is not None:
            z = z.index_select(1, self.columns)
        return z


class _DuoModule(torch.nn.Module):
    """``sum_m weights[m] * z_m(x)``; then a softmax, or the binary score."""

    def __init__(self, members, weights, n_classes, output):
        super().__init__()
        self.members = torch.nn.ModuleList(members)
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))
        self.n_classes = n_classes
        self.output = output

    def forward(self, x):
        z = None
        for m, member in enumerate(self.members):
            term = self.weights[m] * member(x)
            z = term if z is None else z + term
        if self.output == "proba":
            return torch.softmax(z, dim=1)
        if self.n_classes == 2:
            return z[:, 1] - z[:, 0]
        return z

    def extra_repr(self):
        weights = ", ".join(f"{w:.6g}" for w in self.weights.tolist())
        return f"weights=({weights}), n_classes={self.n_classes}, output={self.output}"


def _member_module(member, name, method, classes):
    if method != "auto":
        raise ValueError(
            f"The {name} member is read with response_method={method!r}; "
            "export_duo_module reproduces the duo's logits of torch members, "
            "which response_method='auto' reads."
        )
    steps, net = _unwrap(member, name)
    preprocess = [_scaler_module(s, step, name) for s, step in steps]
    preprocess = [p for p in preprocess if p is not None]
    transform = getattr(net, "transform", None)
    if transform is not None:  # skduo.torch.as_member's transform
        transform = copy.deepcopy(transform)
        if not isinstance(transform, torch.nn.Module):
            transform = _Callable(transform)
        preprocess.append(transform)
    backbone = copy.deepcopy(net.module_).eval().requires_grad_(False)
    from skorch import NeuralNetBinaryClassifier

    binary = isinstance(net, NeuralNetBinaryClassifier)
    nll_rule = isinstance(getattr(net, "criterion_", None), torch.nn.NLLLoss)
    columns = column_map(member_classes(member, name), classes)
    if columns is not None and (columns < 0).any():
        raise ValueError(
            f"The {name} member does not know every class of the duo; such a "
            "member cannot be exported."
        )
    return _MemberLogits(preprocess, backbone, binary, nll_rule, columns)


def export_duo_module(duo, *, softmax=False):
    """One ``nn.Module`` computing a fitted duo's outputs from its input.

    The module holds copies of the members' backbones (in eval mode, without
    gradients), their preprocessing and the fitted ``weights_`` as buffers; its
    ``forward(x)`` returns the duo's :meth:`~skduo.DuoClassifier.decision_function`
    (or, with ``softmax=True``, its ``predict_proba``) in float32, for one
    tensor ``x`` as the members' nets take it. :func:`torch.export.export` and
    :func:`torch.onnx.export` accept it. Members of weight exactly 0 are left
    out, as the estimator does not evaluate them either.

    Parameters
    ----------
    duo : fitted DuoClassifier, TemperatureScalingClassifier or \
WeightedEnsembleClassifier
        An ensemble whose members are fitted skorch nets (``NeuralNetClassifier``,
        ``NeuralNetBinaryClassifier``, :func:`skduo.torch.as_member` nets),
        possibly wrapped in :class:`~sklearn.frozen.FrozenEstimator` or at the end
        of a :class:`~sklearn.pipeline.Pipeline` whose other steps are
        ``StandardScaler``, ``MinMaxScaler`` (without ``clip``), ``MaxAbsScaler``
        or ``'passthrough'``; read with ``response_method='auto'``.
    softmax : bool, default=False
        Return probabilities (``predict_proba``) instead of the combined logits.

    Returns
    -------
    module : torch.nn.Module
        In eval mode, on the device of the first member's parameters. Its output
        has shape ``(n, n_classes)``, or ``(n,)`` for two classes without
        ``softmax`` (the score of ``classes_[1]``, like ``decision_function``);
        columns follow ``duo.classes_``.

    Raises
    ------
    TypeError
        When a member is not a torch member, or a Pipeline step has no torch
        equivalent.
    ValueError
        When a member is read with another ``response_method`` than ``'auto'``.

    Notes
    -----
    The estimator computes in float64 (members' logits cast to float64 before
    the weighted sum); the module in the backbones' dtype, so outputs agree to
    float32 rounding. A net trained with ``NLLLoss`` whose module returns
    probabilities is read as ``log(p + eps)``, decided for each call on the
    whole batch (the estimator decides on the whole ``X``). An
    :func:`~skduo.torch.as_member` net's ``transform`` is included (it must be
    traceable torch code), its autocast ``precision`` is not.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from skduo import DuoClassifier
    >>> from skduo.torch import export_duo_module
    >>> rng, _ = np.random.default_rng(0), torch.manual_seed(0)
    >>> X = rng.normal(size=(200, 4)).astype(np.float32)
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    >>> def net(hidden):
    ...     module = torch.nn.Sequential(
    ...         torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 3)
    ...     )
    ...     return NeuralNetClassifier(
    ...         module, criterion=torch.nn.CrossEntropyLoss, max_epochs=10,
    ...         lr=0.1, train_split=None, verbose=0,
    ...     ).fit(X, y)
    >>> duo = DuoClassifier(net(16), net(4)).fit(X, y)
    >>> module = export_duo_module(duo)
    >>> with torch.no_grad():
    ...     z = module(torch.from_numpy(X))
    >>> bool(np.allclose(z.numpy(), duo.decision_function(X), atol=1e-5))
    True
    >>> program = torch.export.export(module, (torch.from_numpy(X[:2]),))
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(duo, "weights_")
    named = duo._fitted_named_members()
    methods = duo._member_methods(len(named))
    members, weights = [], []
    for (name, member), method, w in zip(named, methods, duo.weights_):
        module = _member_module(member, name, method, duo.classes_)
        if w != 0.0 or not np.any(duo.weights_):
            members.append(module)
            weights.append(float(w))
    if not np.any(duo.weights_):
        members, weights = members[:1], weights[:1]
    output = "proba" if softmax else "logits"
    module = _DuoModule(members, weights, len(duo.classes_), output)
    device = next((t.device for t in module.parameters()), torch.device("cpu"))
    return module.to(device).eval()
