"""Public helpers for skorch nets."""

from skduo._outputs._torch import check_torch_members_device, torch_member_logits

__all__ = ["check_same_device", "net_logits"]


def net_logits(net, X, *, verbose=False):
    """True logits of a fitted skorch net, computed in batches.

    The same extraction :class:`~skduo.DuoClassifier` uses for torch members:
    the output of ``net.forward`` (never a softmax), computed batch by batch
    (the net's ``batch_size``) on the net's device in ``eval()`` mode under
    :func:`torch.inference_mode`, each batch moved to CPU as float64 before the
    next one runs. The net is left exactly as it was (``training`` flags of all
    submodules restored).

    Parameters
    ----------
    net : fitted skorch net
        A ``NeuralNetClassifier``, ``NeuralNetBinaryClassifier``, ..., a
        ``Pipeline`` ending in one (``X`` goes through its other steps first), or
        either wrapped in ``FrozenEstimator``.
    X : array-like, tensor, dict or Dataset
        Input, as for ``net.predict``.
    verbose : bool, default=False
        Show a tqdm progress bar over the batches.

    Returns
    -------
    logits : ndarray of shape (n_samples, n_classes) or (n_samples,)
        The logits as float64; 1-D for a module that emits one logit per sample (binary
        nets). For a classifier trained with ``NLLLoss`` whose module returns
        probabilities (skorch's convention for that loss), ``log(p + eps)``, with
        a warning.

    Raises
    ------
    NotFittedError
        If the net is not fitted (initialized).
    ValueError
        If ``X`` cannot be fed to the net, or its output is not 1-D/2-D.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from skduo.torch import net_logits
    >>> X = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> net = NeuralNetClassifier(
    ...     torch.nn.Linear(4, 2), criterion=torch.nn.CrossEntropyLoss,
    ...     max_epochs=2, train_split=None, verbose=0,
    ... ).fit(X, y)
    >>> logits = net_logits(net, X)
    >>> logits.shape, logits.dtype
    ((100, 2), dtype('float64'))
    >>> bool(np.allclose(logits, net.forward(X).numpy()))
    True
    """
    return torch_member_logits(net, X, verbose=verbose, name="net")


def check_same_device(large, small):
    """Check that two torch members compute on the same device.

    Parameters
    ----------
    large, small : estimator
        Duo members. Members that are not skorch nets are ignored.

    Returns
    -------
    device : str or None
        The common device (``"cpu"``, ``"cuda:0"``, ...), or None when neither
        member is a torch net.

    Raises
    ------
    ValueError
        If the two nets are on different devices (the message names both).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skorch import NeuralNetClassifier
    >>> from skduo.torch import check_same_device
    >>> net = NeuralNetClassifier(torch.nn.Linear(4, 2), device="cpu").initialize()
    >>> check_same_device(net, net)
    'cpu'
    """
    return check_torch_members_device({"large": large, "small": small})
