"""Torch (skorch) members: recognising them, and their inference loop.

This module is imported by the core estimator, so it must stay cheap: it never
imports torch or skorch at module level and never imports :mod:`skduo.torch`.
torch is imported inside the functions that only run once a member has been
recognised as a skorch net, which implies that skorch (and therefore torch) is
already imported.

A *torch member* is a skorch ``NeuralNet`` (``NeuralNetClassifier``,
``NeuralNetBinaryClassifier``, ...), a :class:`~sklearn.pipeline.Pipeline` whose
final step is one, or either of them wrapped in
:class:`~sklearn.frozen.FrozenEstimator` (wrappers may be nested).

The inference loop (:func:`torch_member_logits`) is the net's own
(``net.forward_iter``) under :func:`torch.inference_mode`; the modules'
training flags are handled by one thread-safe context manager,
:func:`_eval_mode`, and only torch errors about the input are reworded.
"""

import contextlib
import re
import sys
import threading
import warnings

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

__all__ = [
    "check_member_type",
    "check_torch_members_device",
    "missing_classes_hint",
    "is_torch_member",
    "torch_member_device",
    "torch_member_logits",
]


def _torch_module_class():
    """``torch.nn.Module`` if torch is already imported, else None."""
    if "torch" not in sys.modules:
        return None
    import torch

    return torch.nn.Module


def _module_outputs(module):
    """Number of output columns of a classification module, when it says so."""
    n = getattr(module, "num_classes", None)
    if isinstance(n, int) and n > 0:
        return n
    last = None
    for sub in module.modules():
        if hasattr(sub, "out_features") and isinstance(sub.out_features, int):
            last = sub.out_features
    return last


def _classes_example(module):
    n = None if module is None else _module_outputs(module)
    return f"list(range({n}))" if n else "[...]"


def check_member_type(member, name):
    """Raise a helpful error for member types the duo cannot use as they are.

    Called for each member before scikit-learn's parameter validation (whose
    message, "must be an object implementing 'fit'", followed by a dump of the
    module, does not say what to do). A bare ``torch.nn.Module`` (also inside
    ``FrozenEstimator`` or as the last step of a ``Pipeline``) gets a
    ``TypeError`` that names :func:`skduo.torch.as_member`; everything else is
    left to scikit-learn's checks.

    Parameters
    ----------
    member : object
        A duo member.
    name : str
        Its name (``'large'``, ``'small'``, ...).

    Raises
    ------
    TypeError
        For a torch module given as a member.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo._outputs._torch import check_member_type
    >>> check_member_type(LogisticRegression(), "large")  # accepted: no error
    """
    module_class = _torch_module_class()
    if module_class is None:
        return
    _, final = _unwrap(member)
    if isinstance(final, module_class):
        example = _classes_example(final)
        raise TypeError(
            f"The {_member(name)} is a torch module ({type(final).__name__}), not a "
            "fitted classifier. Wrap it: "
            f"skduo.torch.as_member(module, classes={example}) (add device=, "
            "batch_size=, transform=, precision= as needed), or use skorch's "
            f"NeuralNetClassifier(module, classes={example}).initialize()."
        )


def missing_classes_hint(estimator):
    """Extra advice for a member without ``classes_`` ('' when there is none).

    Appended to the "has no `classes_` attribute" error. A skorch net that was
    initialized (not fitted) never saw labels: the hint says to pass
    ``classes=`` (with the number of outputs of its module when it can tell).

    Parameters
    ----------
    estimator : object
        The member.

    Returns
    -------
    str
        The hint, starting with a space, or ``''``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo._outputs._torch import missing_classes_hint
    >>> missing_classes_hint(LogisticRegression())
    ''
    """
    if not is_torch_member(estimator):
        return ""
    _, net = _unwrap(estimator)
    module = getattr(net, "module_", None)
    module_class = _torch_module_class()
    if module_class is None or not isinstance(module, module_class):
        module = None
    example = _classes_example(module)
    return (
        f" The skorch net ({type(net).__name__}) was initialized without being "
        "fitted, so it never saw labels: pass the label of each output column, "
        f"in order, e.g. NeuralNetClassifier(module, classes={example})"
        ".initialize(), or use "
        f"skduo.torch.as_member(module, classes={example})."
    )


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
    >>> from skduo._outputs._torch import is_torch_member
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
    >>> from skduo._outputs._torch import torch_member_device
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
    >>> from skduo._outputs._torch import check_torch_members_device
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


#: Messages of torch errors that mean "this input does not fit the net"
#: (shape, channels, resolution, dtype); only these are reworded.
_INPUT_ERRORS = re.compile(
    "|".join(
        [
            r"shapes cannot be multiplied",
            r"size mismatch",
            r"must match the size of tensor",
            r"to have \d+ channels",
            r"Expected \d+D .*input",
            r"input size per channel",
            r"Kernel size can't be greater",
            r"Output size is too small",
            r"should be the same",  # input type vs weight type
            r"expected scalar type",
            r"found dtype",
            r"must have the same dtype",
        ]
    )
)

_MODE_LOCK = threading.Lock()
#: id(module) -> [threads inside _eval_mode over it, its saved training flag,
#: the module] for every torch submodule of every net being predicted with:
#: keyed by the module, not the net, so that two nets (two ``as_member``
#: wrappers, a duo beside a temperature-scaled member) over one module share
#: the bookkeeping
_EVAL_USERS = {}


def _top_level_modules(net):
    import torch

    modules = []
    for attr in list(net._modules) + list(net._criteria):
        obj = getattr(net, attr + "_", None)
        if isinstance(obj, torch.nn.Module):
            modules.append(obj)
    return modules


@contextlib.contextmanager
def _eval_mode(net):
    """The net's modules in eval mode while any thread is inside; then restored.

    Counted per torch module (whichever net reaches it): the first thread in
    over a module records its ``training`` flag, and the net's top-level
    modules with a newly entered submodule get ``train(False)``; the last one
    out restores each flag through the module's own ``train()`` (parents
    first, so an overridden ``train`` that, e.g., freezes batch norm, runs as
    it would for the user), and submodules still in use elsewhere stay in eval
    mode. Threads predicting with the same module concurrently -- through one
    net or several -- therefore all run in eval mode, and it is left as it was.
    """
    modules = _torch_submodules(net)
    with _MODE_LOCK:
        new = set()
        for module in modules:
            entry = _EVAL_USERS.get(id(module))
            if entry is None:
                entry = _EVAL_USERS[id(module)] = [0, module.training, module]
                new.add(id(module))
            entry[0] += 1
        for top in _top_level_modules(net):
            if any(id(m) in new for m in top.modules()):
                top.train(False)
    try:
        yield
    finally:
        with _MODE_LOCK:
            leaving = []
            for module in modules:
                entry = _EVAL_USERS[id(module)]
                entry[0] -= 1
                if entry[0] == 0:
                    del _EVAL_USERS[id(module)]
                    leaving.append((module, entry[1]))
            for module, training in leaving:
                if module.training != training:
                    module.train(training)
            # a restored parent's train() reaches into modules still in use
            for _, _, module in _EVAL_USERS.values():
                module.training = False


def _n_batches(net, n_samples):
    kwargs = net.get_params_for("iterator_valid")
    batch_size = kwargs.get("batch_size", net.batch_size)
    if batch_size is None or batch_size == -1:
        return 1
    return -(-n_samples // batch_size)


def _looks_like_probabilities(out):
    return (
        out.ndim == 2
        and out.shape[1] > 1
        and np.all(out >= 0)
        and np.allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-4)
    )


def _check_output(out, name):
    """One batch's module output as a float64 CPU tensor (first of a tuple)."""
    import torch

    if isinstance(out, tuple):
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ValueError(
            f"The {_member(name)}'s module returned {type(out).__name__}, "
            "expected a tensor of logits."
        )
    if out.ndim not in (1, 2):
        raise ValueError(
            f"The {_member(name)}'s module returned a tensor of shape "
            f"{tuple(out.shape)}; logits must be 1-D (one binary logit per sample) "
            "or 2-D (n_samples, n_classes)."
        )
    return out.detach().to(device="cpu", dtype=torch.float64)


def _forward_batches(net, dataset, name, X_shape, verbose):
    """Every batch's output of ``net.forward_iter`` (eval mode, inference mode)."""
    import torch

    batches = net.forward_iter(dataset, training=False, device="cpu")
    progress = None
    if verbose:
        from tqdm.auto import tqdm

        total = _n_batches(net, len(dataset))
        batches = progress = tqdm(
            batches, total=total, desc=f"{name} logits", unit="batch"
        )
    outputs = []
    try:
        with _eval_mode(net), torch.inference_mode():
            for out in batches:
                outputs.append(_check_output(out, name))
    except RuntimeError as exc:
        if not _INPUT_ERRORS.search(str(exc)):
            raise
        shape = "" if X_shape is None else f" (X of shape {tuple(X_shape)})"
        batch = next(iter(net.get_iterator(dataset, training=False)))
        raise ValueError(
            f"The {_member(name)} ({type(net).__name__}) could not process an "
            f"input batch of {_batch_description(batch)}{shape}: {exc}. Check "
            "that the input matches what the net was trained on (channels, "
            "resolution, dtype); members that need different inputs can be "
            "Pipelines that preprocess X for their net."
        ) from exc
    finally:
        if progress is not None:
            progress.close()
    return outputs


def torch_member_logits(estimator, X, *, verbose=False, name="member"):
    """Compute a torch member's true logits, batch by batch.

    The member's final net runs its own inference loop (``net.forward_iter``:
    its dataset, iterator and ``evaluation_step``) in ``eval()`` mode under
    :func:`torch.inference_mode`, on the net's own device; each batch's output
    is moved to CPU as float64 before the next batch is computed. The
    ``training`` flags of all submodules are restored afterwards (also when
    several threads predict at once), so the member is left exactly as it was.

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
        If the input does not fit the net (a torch error about shapes,
        channels, resolution or dtype, reworded to name the member; other
        errors, CUDA faults included, propagate unchanged), the output is not
        1-D/2-D, or its number of columns differs from the net's ``classes_``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo._outputs._torch import torch_member_logits
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
    outputs = _forward_batches(net, dataset, name, X_shape, verbose)
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
