"""A skorch classifier around a timm backbone, built offline."""

import difflib

import torch

__all__ = ["make_timm_classifier"]


def make_timm_classifier(
    model_name,
    *,
    num_classes,
    in_chans=3,
    pretrained=False,
    model_kwargs=None,
    criterion=torch.nn.CrossEntropyLoss,
    optimizer=torch.optim.AdamW,
    lr=1e-3,
    max_epochs=10,
    batch_size=64,
    device="cpu",
    train_split=None,
    verbose=0,
    **net_kwargs,
):
    """Build a skorch ``NeuralNetClassifier`` around a timm backbone.

    The backbone is passed to skorch as a *factory*
    (``module=timm.create_model`` with ``module__model_name=...``), not as an
    instance: the net is then clone-safe (``clone`` builds fresh weights instead of
    deep-copying trained ones) and a pickle holds the weights once.

    Parameters
    ----------
    model_name : str
        A timm model name, e.g. ``"resnet18"`` or ``"vit_tiny_patch16_224"``
        (see ``timm.list_models()``).
    num_classes : int
        Number of classes of the classification head.
    in_chans : int, default=3
        Number of input channels.
    pretrained : bool, default=False
        Passed to ``timm.create_model``. ``True`` downloads weights from the
        Hugging Face hub when the net is initialized, so it needs network access
        (or a populated local cache).
    model_kwargs : dict, default=None
        Further keyword arguments for ``timm.create_model`` (e.g.
        ``{"drop_rate": 0.1, "img_size": 64}``), passed as ``module__<key>``.
    criterion : torch loss class, default=torch.nn.CrossEntropyLoss
        With ``CrossEntropyLoss`` the module emits logits and skorch's
        ``predict_proba`` applies softmax, so it returns real probabilities (with
        skorch's default ``NLLLoss`` it would return raw logits).
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer class.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=10
        Number of training epochs.
    batch_size : int, default=64
        Batch size for training and inference.
    device : str, default="cpu"
        Device to train and predict on, e.g. ``"cuda"``.
    train_split : callable or None, default=None
        The skorch internal validation split; None trains on all data given to
        ``fit`` (the duo is fitted on its own validation set).
    verbose : int, default=0
        The skorch verbosity (1 prints an epoch table).
    **net_kwargs
        Further ``NeuralNetClassifier`` parameters (``callbacks``,
        ``iterator_train__shuffle``, ``optimizer__weight_decay``, ...).

    Returns
    -------
    skorch.NeuralNetClassifier
        An unfitted net. Inputs are float32 tensors or arrays of shape
        ``(n_samples, in_chans, height, width)``; targets are integer class
        indices ``0 .. num_classes - 1``.

    Raises
    ------
    ValueError
        If ``model_name`` is not a timm model (the message suggests close names).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skduo.torch import make_timm_classifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    >>> net = make_timm_classifier(
    ...     "resnet10t", num_classes=10, in_chans=1, max_epochs=1, batch_size=256
    ... )
    >>> net = net.fit(X[:512], y[:512])
    >>> net.predict_proba(X[:3]).shape
    (3, 10)
    """
    import timm
    from skorch import NeuralNetClassifier

    if not isinstance(model_name, str) or not timm.is_model(model_name):
        close = difflib.get_close_matches(str(model_name), timm.list_models(), n=5)
        hint = f" Close matches: {', '.join(close)}." if close else ""
        raise ValueError(f"{model_name!r} is not a timm model name.{hint}")
    module_params = {
        "module__model_name": model_name,
        "module__pretrained": pretrained,
        "module__num_classes": num_classes,
        "module__in_chans": in_chans,
    }
    for key, value in (model_kwargs or {}).items():
        module_params[f"module__{key}"] = value
    net_kwargs.setdefault("iterator_train__shuffle", True)
    return NeuralNetClassifier(
        module=timm.create_model,
        criterion=criterion,
        optimizer=optimizer,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        device=device,
        train_split=train_split,
        verbose=verbose,
        **module_params,
        **net_kwargs,
    )
