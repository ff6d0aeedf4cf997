"""The inference loop of torch members: eval mode, batches, checked logits.

Imported by :func:`skduo._torch_compat.torch_member_logits` once a member is
known to be a skorch net (so skorch and torch are already imported). The loop
is the net's own (``net.forward_iter``) under :func:`torch.inference_mode`;
the modules' training flags are handled by one thread-safe context manager,
:func:`_eval_mode`, and only torch errors about the input are reworded.
"""

import contextlib
import re
import threading
import warnings

import numpy as np
from sklearn.exceptions import NotFittedError

from skduo._torch_compat import (
    _check_net_fitted,
    _get_net,
    _member,
    _torch_submodules,
)

__all__ = ["torch_member_logits"]


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
#: id(net) -> [threads inside _eval_mode, saved (module, training) pairs]
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

    The first thread in records every submodule's ``training`` flag and calls
    ``train(False)``; the last one out restores each flag through the module's
    own ``train()`` (parents first, so an overridden ``train`` that, e.g.,
    freezes batch norm, runs as it would for the user). Threads predicting
    with the same net concurrently therefore all run in eval mode, and the net
    is left as it was.
    """
    key = id(net)
    with _MODE_LOCK:
        entry = _EVAL_USERS.get(key)
        if entry is None:
            saved = [(m, m.training) for m in _torch_submodules(net)]
            entry = _EVAL_USERS[key] = [0, saved]
            for module in _top_level_modules(net):
                module.train(False)
        entry[0] += 1
    try:
        yield
    finally:
        with _MODE_LOCK:
            entry[0] -= 1
            if entry[0] == 0:
                del _EVAL_USERS[key]
                for module, training in entry[1]:
                    if module.training != training:
                        module.train(training)


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
    """A torch member's logits: see :func:`skduo._torch_compat.torch_member_logits`."""
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
