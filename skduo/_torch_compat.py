"""Bridge between :class:`~skduo.DuoClassifier` and torch (skorch) members.

This module is imported by the core estimator, so it must stay cheap: it never
imports torch or skorch at module level and never imports :mod:`skduo.torch`.
torch is imported inside the functions that only run once a member has been
recognised as a skorch net, which implies that skorch (and therefore torch) is
already imported.

A *torch member* is a skorch ``NeuralNet`` (``NeuralNetClassifier``,
``NeuralNetBinaryClassifier``, ...), a :class:`~sklearn.pipeline.Pipeline` whose
final step is one, or either of them wrapped in
:class:`~sklearn.frozen.FrozenEstimator` (wrappers may be nested).
"""

import sys
import warnings

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

__all__ = [
    "check_torch_members_device",
    "is_torch_member",
    "torch_member_device",
    "torch_member_logits",
]


def _unwrap(estimator):
    """Split a member into its preprocessing pipelines and its final estimator.

    Returns
    -------
    preprocessors : list of Pipeline
        Pipelines (all steps but the last of each nested ``Pipeline``) to apply to
        ``X`` in order before the final estimator.
    final : estimator
        The innermost final estimator, with ``FrozenEstimator`` wrappers removed.
    """
    preprocessors = []
    final = estimator
    while True:
        if isinstance(final, FrozenEstimator):
            final = final.estimator
        elif isinstance(final, Pipeline):
            if len(final.steps) > 1:
                preprocessors.append(final[:-1])
            final = final.steps[-1][1]
        else:
            return preprocessors, final


def _member(name):
    """'large' -> 'large member'; 'member' stays 'member' (for messages)."""
    name = str(name)
    return name if name.endswith("member") else f"{name} member"


def _skorch_net_class():
    """Return ``skorch.NeuralNet`` if skorch is already imported, else None."""
    if "skorch" not in sys.modules:
        return None
    from skorch import NeuralNet

    return NeuralNet


def is_torch_member(estimator):
    """Whether ``estimator`` is a skorch net, possibly in a Pipeline/FrozenEstimator.

    Cheap: returns False without importing anything when skorch has not been
    imported (a skorch net cannot exist without it).

    Parameters
    ----------
    estimator : object
        A duo member.

    Returns
    -------
    bool
        True for a skorch ``NeuralNet`` (fitted or not), a ``Pipeline`` whose
        final step is one, and either wrapped in ``FrozenEstimator``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo._torch_compat import is_torch_member
    >>> is_torch_member(LogisticRegression())
    False
    """
    net_class = _skorch_net_class()
    if net_class is None:
        return False
    _, final = _unwrap(estimator)
    return isinstance(final, net_class)


def _get_net(estimator, name):
    preprocessors, net = _unwrap(estimator)
    net_class = _skorch_net_class()
    if net_class is None or not isinstance(net, net_class):
        raise TypeError(
            f"The {_member(name)} is not a skorch net (nor a Pipeline ending in one); "
            f"got {type(net).__name__}."
        )
    return preprocessors, net


def _check_net_fitted(net, name):
    try:
        fitted = getattr(net, "initialized_", False)
        net.check_is_fitted()
    except NotFittedError:
        fitted = False
    if not fitted:
        raise NotFittedError(
            f"The {_member(name)} ({type(net).__name__}) is not fitted: its module "
            "is not initialized. Fit the net (or load its parameters) before "
            "using it in a duo."
        )


def _torch_submodules(net):
    """All torch submodules of a skorch net's modules and criteria."""
    import torch

    seen = {}
    for attr in list(net._modules) + list(net._criteria):
        obj = getattr(net, attr + "_", None)
        if isinstance(obj, torch.nn.Module):
            for module in obj.modules():
                seen[id(module)] = module
    return list(seen.values())


def _normalise_device(device):
    import torch

    if device is None:
        return "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())
    return str(device)


def torch_member_device(estimator):
    """The device a torch member computes on, or None for other members.

    Parameters
    ----------
    estimator : object
        A duo member.

    Returns
    -------
    str or None
        ``"cpu"``, ``"cuda:0"``, ... for a skorch net (taken from its initialized
        module's parameters, else from its ``device`` parameter); None when the
        member is not a torch member.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo._torch_compat import torch_member_device
    >>> print(torch_member_device(LogisticRegression()))
    None
    """
    if not is_torch_member(estimator):
        return None
    _, net = _unwrap(estimator)
    module = getattr(net, "module_", None)
    if module is not None:
        import torch

        if isinstance(module, torch.nn.Module):
            for tensor in module.parameters():
                return _normalise_device(tensor.device)
            for tensor in module.buffers():
                return _normalise_device(tensor.device)
    return _normalise_device(net.device)


def check_torch_members_device(members):
    """Raise if the torch members among ``members`` sit on different devices.

    Parameters
    ----------
    members : dict of {str: estimator}
        Members by name (e.g. ``{"large": ..., "small": ...}``). Members that are
        not torch members are ignored.

    Returns
    -------
    device : str or None
        The common device, or None when no member is a torch member.

    Raises
    ------
    ValueError
        When two torch members compute on different devices; the message names
        the members and their devices.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo._torch_compat import check_torch_members_device
    >>> print(check_torch_members_device({"large": LogisticRegression()}))
    None
    """
    devices = {}
    for name, member in members.items():
        device = torch_member_device(member)
        if device is not None:
            devices[name] = device
    if len(set(devices.values())) > 1:
        where = ", ".join(f"the {n} member on {d!r}" for n, d in devices.items())
        raise ValueError(
            f"The torch members compute on different devices: {where}. Put both "
            "nets on the same device, e.g. net.set_params(device='cuda') before "
            "fitting, or fit them on one device and load them with "
            "the same map_location."
        )
    return next(iter(devices.values()), None)


def _batch_description(batch):
    """Shape/dtype of the input part of a skorch batch, for error messages."""
    Xi = batch[0] if isinstance(batch, (tuple, list)) else batch
    shape = getattr(Xi, "shape", None)
    if shape is not None:
        return f"shape {tuple(shape)} and dtype {getattr(Xi, 'dtype', '?')}"
    if isinstance(Xi, dict):
        parts = ", ".join(
            f"{k}: {tuple(getattr(v, 'shape', ()))}" for k, v in Xi.items()
        )
        return f"{{{parts}}}"
    return f"type {type(Xi).__name__}"


def _looks_like_probabilities(out):
    return (
        out.ndim == 2
        and out.shape[1] > 1
        and np.all(out >= 0)
        and np.allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-4)
    )


def torch_member_logits(estimator, X, *, verbose=False, name="member"):
    """Compute a torch member's true logits, batch by batch.

    The member's final net is run exactly as ``net.forward`` runs it (same
    dataset, iterator and ``evaluation_step``), but in ``eval()`` mode under
    :func:`torch.inference_mode`, on the net's own device, moving each batch's
    output to CPU as float64 NumPy before the next batch is computed. The
    ``training`` flag of every submodule is restored afterwards, so the member is
    left exactly as it was.

    Parameters
    ----------
    estimator : object
        A fitted skorch net, a ``Pipeline`` ending in one (``X`` is transformed
        by all steps but the last first), or either wrapped in
        ``FrozenEstimator``.
    X : array-like, tensor, dict or Dataset
        Member input, anything the net (or pipeline) accepts.
    verbose : bool, default=False
        Show a tqdm progress bar over the batches.
    name : str, default="member"
        Member name used in error messages and as the progress-bar label.

    Returns
    -------
    logits : ndarray of shape (n_samples, n_classes) or (n_samples,)
        float64 logits. A module that emits a single logit per sample (e.g. under
        ``NeuralNetBinaryClassifier``) gives a 1-D array (two-class logits
        ``(0, s)``). If the module returns a tuple, its first element is used (as
        skorch's ``predict_proba`` does). A classifier trained with ``NLLLoss``
        whose module emits probabilities (skorch's convention for that
        criterion) gives ``log(p + eps)``, the log-probabilities it was trained
        on, with a warning.

    Raises
    ------
    NotFittedError
        If the net (or the pipeline's preprocessing) is not fitted.
    ValueError
        If the input cannot be fed to the net (wrong shape, channels,
        resolution, dtype, ...) or the output is not 1-D/2-D, or its number of
        columns differs from the net's ``classes_``. Messages name the member.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo._torch_compat import torch_member_logits
    >>> torch_member_logits(LogisticRegression(), [[0.0]], name="small")
    Traceback (most recent call last):
    ...
    TypeError: The small member is not a skorch net (nor a Pipeline ending in one); got LogisticRegression.
    """  # noqa: E501
    preprocessors, net = _get_net(estimator, name)
    _check_net_fitted(net, name)
    import torch

    X_shape = getattr(X, "shape", None)
    for preprocessor in preprocessors:
        try:
            X = preprocessor.transform(X)
        except NotFittedError as exc:
            raise NotFittedError(
                f"The preprocessing steps of the {_member(name)} are not fitted: {exc}"
            ) from exc

    dataset = net.get_dataset(X)
    n_samples = len(dataset)
    if n_samples == 0:
        raise ValueError(f"The {_member(name)} got 0 samples; at least 1 is required.")
    iterator = net.get_iterator(dataset, training=False)
    batches = iterator
    progress = None
    if verbose:
        from tqdm.auto import tqdm

        try:
            total = len(iterator)
        except TypeError:
            total = None
        progress = tqdm(iterator, total=total, desc=f"{name} logits", unit="batch")
        batches = progress

    submodules = _torch_submodules(net)
    previous_modes = [(module, module.training) for module in submodules]
    outputs = []
    try:
        with torch.inference_mode():
            for batch in batches:
                try:
                    out = net.evaluation_step(batch, training=False)
                except torch.OutOfMemoryError:
                    raise
                except RuntimeError as exc:
                    input_shape = "" if X_shape is None else f" (X of shape {X_shape})"
                    raise ValueError(
                        f"The {_member(name)} ({type(net).__name__}) could not process "
                        f"an input batch of {_batch_description(batch)}"
                        f"{input_shape}: {exc}. Check that the input matches what "
                        "the net was trained on (channels, resolution, dtype); "
                        "members that need different inputs can be Pipelines that "
                        "preprocess X for their net."
                    ) from exc
                if isinstance(out, tuple):
                    out = out[0]
                if not isinstance(out, torch.Tensor):
                    raise ValueError(
                        f"The {_member(name)}'s module returned "
                        f"{type(out).__name__}, expected a tensor of logits."
                    )
                if out.ndim not in (1, 2):
                    raise ValueError(
                        f"The {_member(name)}'s module returned a tensor of shape "
                        f"{tuple(out.shape)}; logits must be 1-D (one binary logit "
                        "per sample) or 2-D (n_samples, n_classes)."
                    )
                outputs.append(out.detach().to(device="cpu", dtype=torch.float64))
    finally:
        if progress is not None:
            progress.close()
        for module, training in previous_modes:
            module.training = training

    if len({o.ndim for o in outputs}) > 1 or len({o.shape[1:] for o in outputs}) > 1:
        raise ValueError(f"The {_member(name)}'s batches have inconsistent shapes.")
    logits = torch.cat(outputs).numpy()
    if logits.shape[0] != n_samples:
        raise ValueError(
            f"The {_member(name)} returned {logits.shape[0]} rows of logits for "
            f"{n_samples} samples."
        )
    if logits.ndim == 2 and logits.shape[1] == 1:
        logits = logits[:, 0]

    classes = _net_classes(net)
    n_columns = 2 if logits.ndim == 1 else logits.shape[1]
    if classes is not None and len(classes) != n_columns:
        raise ValueError(
            f"The {_member(name)}'s module returned logits for {n_columns} classes "
            f"but the net has {len(classes)} classes (classes_={classes!r})."
        )
    criterion = getattr(net, "criterion_", None)
    if isinstance(criterion, torch.nn.NLLLoss) and _looks_like_probabilities(logits):
        eps = float(np.finfo(np.float32).eps)
        warnings.warn(
            f"The {_member(name)} is trained with NLLLoss and its module returns "
            "probabilities; using log(p + eps), the log-probabilities the net was "
            "trained on, as its logits. Saturated probabilities lose information: "
            "prefer a module that returns logits with "
            "criterion=torch.nn.CrossEntropyLoss.",
            UserWarning,
            stacklevel=2,
        )
        logits = np.log(logits + eps)
    if not np.all(np.isfinite(logits)):
        raise ValueError(f"The {_member(name)} returned non-finite logits.")
    return logits


def _net_classes(net):
    try:
        classes = net.classes_
    except (AttributeError, TypeError):
        return None
    if classes is None:
        return None
    classes = np.asarray(classes)
    return classes if classes.ndim == 1 and classes.size > 0 else None
