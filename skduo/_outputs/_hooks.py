"""Saying once when a torch member's forward hooks turn the logits cache off.

A hook is part of what the cache fingerprints. A hook that records something
at every forward pass (a feature extractor appending outputs, a counter)
changes the member's fingerprint at every call: the rows cached under the old
fingerprint are never met again and every fold and grid candidate runs the
whole backbone. A hook that cannot be fingerprinted (it holds a lock, a file)
makes the member uncacheable. Both are silent otherwise; the cache calls
:func:`forward_hooks` and :func:`warn_cache_off` at those two points.
"""

import warnings
import weakref

from skduo._outputs import _torch
from skduo._outputs._fingerprint import Unhashable, _state_digest

__all__ = ["forward_hooks", "warn_cache_off"]

#: Modules already warned about (one warning per member module).
_WARNED = weakref.WeakSet()


def _module(estimator):
    try:
        _, net = _torch._get_net(estimator, "member")
    except (TypeError, AttributeError, ValueError):
        return None
    return getattr(net, "module_", None)


def forward_hooks(estimator):
    """``(module, [descriptions])`` of the forward hooks inside a torch member.

    Parameters
    ----------
    estimator : object
        A member (skorch net, Pipeline ending in one, FrozenEstimator...).

    Returns
    -------
    module : torch.nn.Module or None
        The member's module (None when it is not a torch member).
    hooks : list of (str, callable)
        ``("<submodule>: <hook>", hook)`` for every forward (pre-)hook; empty
        if none.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo._outputs._hooks import forward_hooks
    >>> forward_hooks(LogisticRegression())
    (None, [])
    """
    if not _torch.is_torch_member(estimator):
        return None, []
    module = _module(estimator)
    if module is None or not hasattr(module, "named_modules"):
        return None, []
    found = []
    for path, sub in module.named_modules():
        for attr in ("_forward_pre_hooks", "_forward_hooks"):
            for hook in getattr(sub, attr, {}).values():
                what = getattr(hook, "__qualname__", type(hook).__qualname__)
                found.append((f"{path or type(module).__name__}: {what}", hook))
    return module, found


def _digestible(hook):
    try:
        _state_digest(hook)
    except Unhashable:
        return False
    except Exception:  # noqa: BLE001 - anything else: cannot be digested
        return False
    return True


def warn_cache_off(estimator, name, reason):
    """Warn once per member module that the cache is off for it because of hooks.

    Parameters
    ----------
    estimator : object
        The torch member.
    name : str
        Its name in the message (``'large'``, ``'small'``).
    reason : {'changes', 'unhashable'}
        Its fingerprint changed over a forward pass, or cannot be computed.

    Returns
    -------
    bool
        Whether the member has forward hooks (and so whether this was about
        them).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo._outputs._hooks import warn_cache_off
    >>> warn_cache_off(LogisticRegression(), "small", "changes")
    False
    """
    module, hooks = forward_hooks(estimator)
    if reason == "unhashable":  # blame only the hooks that cannot be digested
        hooks = [(what, hook) for what, hook in hooks if not _digestible(hook)]
    if not hooks:
        return False
    if module in _WARNED:
        return True
    _WARNED.add(module)
    hooks = [what for what, _ in hooks]
    listed = ", ".join(hooks[:3]) + (
        f" and {len(hooks) - 3} more" if len(hooks) > 3 else ""
    )
    why = (
        "its state changes at every forward pass (a hook that records outputs or "
        "counts calls is part of the member's fingerprint), so the rows it "
        "caches are never met again"
        if reason == "changes"
        else "a hook cannot be fingerprinted (it holds an object that cannot be "
        "pickled)"
    )
    warnings.warn(
        f"The logits cache is off for the {_torch._member(name)}: it has forward hooks "
        f"({listed}) and {why}. Every call (each fold, scorer and grid "
        "candidate) runs the whole backbone over all its rows. Remove the hooks "
        "(handle.remove()) before fitting or scoring, keep what they record "
        "outside the member, or compute the logits once with "
        "skduo.torch.precompute_logits.",
        UserWarning,
        stacklevel=4,
    )
    return True
