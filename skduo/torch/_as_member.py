"""Any trained torch module as a fitted duo member, in one call.

:func:`as_member` checks its arguments and initializes an
:class:`~skduo.torch.InferenceNet` (see :mod:`skduo.torch._member`) around the
given module instance.
"""

import numpy as np
import torch
from skorch import NeuralNet

from skduo._outputs._torch import _classes_example
from skduo.torch._member import InferenceNet

__all__ = ["as_member"]


def as_member(
    module,
    classes=None,
    *,
    device=None,
    batch_size=64,
    transform=None,
    precision="float32",
    channels_last=False,
    **net_kwargs,
):
    """A trained torch module as a fitted classifier for a duo, in one call.

    For modules trained anywhere (a bare torch loop, Lightning, a timm
    checkpoint): no training happens and nothing about the module changes
    except that skorch moves it to ``device`` (when given) and, with
    ``channels_last``, converts its memory format. The result is a fitted
    scikit-learn classifier (:class:`InferenceNet`, a skorch
    ``NeuralNetClassifier``) that :class:`~skduo.DuoClassifier`, ``clone``,
    ``cross_val_score``, ``GridSearchCV``, pickling and
    :class:`~sklearn.frozen.FrozenEstimator` accept. It has no optimizer, so
    its pickle is about the size of the module's ``state_dict``.

    Parameters
    ----------
    module : torch.nn.Module or fitted skorch net
        The trained module; its output must be logits of shape
        ``(n_samples, n_classes)`` (or one logit per sample for two classes). A
        fitted skorch net gives its ``module_`` (and its ``classes_``, unless
        ``classes`` is given): a way to drop its optimizer state.
    classes : array-like of shape (n_classes,)
        The label of each output column, in order (e.g. ``list(range(1000))``
        or the class names of the training set). Required for a module.
    device : str or torch.device, default=None
        Where to compute, e.g. ``"cuda"``; None leaves the module where it is
        (and computes there).
    batch_size : int, default=64
        Inference batch size (-1: one batch).
    transform : callable, default=None
        Applied to each input batch, on the compute device, before the module:
        e.g. a :mod:`torchvision.transforms.v2` pipeline that resizes and
        normalises, so that members with different input resolutions or
        normalisations share one ``X`` (uint8 images, say). Must be picklable
        (a function defined at module level, or a torch module) for the member
        to be picklable.
    precision : {'float32', 'bfloat16', 'float16'}, default='float32'
        Autocast precision of the forward pass (outputs are returned as
        float32, then float64). Reduced precision speeds up GPUs with tensor
        cores; logits then carry about 3 significant digits.
    channels_last : bool, default=False
        Convert the module (in place) and each 4-D input batch to
        ``torch.channels_last``, faster for convolutions on recent GPUs.
    **net_kwargs
        Further ``NeuralNetClassifier`` parameters, e.g.
        ``iterator_valid__num_workers=8`` for Datasets or ``dataset=...``.

    Returns
    -------
    InferenceNet
        A fitted (initialized) skorch classifier around ``module``.

    Raises
    ------
    ValueError
        If ``classes`` is missing (the message says what to pass), empty, has
        duplicates, or disagrees with the module's ``num_classes``; or for an
        unknown ``precision``.
    TypeError
        If ``module`` is not a torch module (or skorch net), or ``transform`` is
        not callable.

    See Also
    --------
    skduo.DuoClassifier : The duo of two members.
    skduo.torch.precompute_logits : Compute the members' logits once, then
        cross-validate and grid-search on them.

    Notes
    -----
    Inference runs in ``eval()`` mode under :func:`torch.inference_mode`, with
    the module's ``training`` flags restored afterwards (threads may predict at
    once); parameters and buffers are never written. Arrays and tensors are
    sliced into batches directly; a ``torch.utils.data.Dataset`` goes through
    skorch's ``DataLoader`` (``iterator_valid__*`` parameters, pinned memory on
    CUDA). ``clone`` returns the member itself, as for ``FrozenEstimator``.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skduo.torch import as_member, net_logits
    >>> module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    >>> member = as_member(module, classes=["cat", "dog", "fox"], batch_size=2)
    >>> X = np.random.default_rng(0).normal(size=(5, 3, 2, 2)).astype(np.float32)
    >>> member.classes_.tolist(), member.predict(X).shape
    (['cat', 'dog', 'fox'], (5,))
    >>> bool(np.allclose(net_logits(member, X), module(torch.from_numpy(X)).detach()))
    True
    """
    if isinstance(module, NeuralNet):
        module.check_is_fitted()
        if classes is None:
            classes = getattr(module, "classes_", None)
        module = module.module_
    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"as_member needs a torch.nn.Module (or a fitted skorch net); got "
            f"{type(module).__name__}."
        )
    if classes is None:
        raise ValueError(
            "as_member needs classes: the label of each output column of the "
            f"module, in order, e.g. as_member(module, classes="
            f"{_classes_example(module)})."
        )
    if device is None:
        # where the module is: recorded so that a pickle knows where to load it
        device = next(
            (str(t.device) for t in (*module.parameters(), *module.buffers())), "cpu"
        )
    net = InferenceNet(
        module,
        classes=list(np.asarray(classes).tolist()),
        device=device,
        batch_size=batch_size,
        transform=transform,
        precision=precision,
        channels_last=channels_last,
        **net_kwargs,
    )
    return net.initialize()
