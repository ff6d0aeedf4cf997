"""The inference net behind :func:`skduo.torch.as_member`.

The member is a skorch ``NeuralNetClassifier`` subclass, :class:`InferenceNet`,
initialized around the given module instance: scikit-learn sees a fitted
classifier (``classes_``, ``predict_proba``, ``clone``, pickling), the duo sees
a skorch net and reads its true logits. It carries no optimizer (its pickle is
the size of the module's ``state_dict``) and runs its own inference loop:
batches sliced straight from an array or tensor (no per-sample collation), on
CUDA through pinned memory with non-blocking copies while the previous batch
computes, an optional batch transform on the device, ``channels_last`` and
autocast precision.
"""

import contextlib
import warnings
import weakref
from collections.abc import Mapping
from numbers import Integral

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.dataset import Dataset as SkorchDataset
from skorch.utils import to_device

from skduo._outputs._torch import _classes_example, _eval_mode

__all__ = ["PRECISIONS", "InferenceNet"]

#: Inference precisions: name -> autocast dtype (None: no autocast).
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


#: Modules already warned about reduced precision on a CPU (once per module).
_WARNED_CPU_PRECISION = weakref.WeakSet()


def _warn_cpu_precision(net, device):
    """Say once per module that reduced precision on a CPU is slow and lossy."""
    module = net.module_
    if device.type != "cpu" or module in _WARNED_CPU_PRECISION:
        return
    _WARNED_CPU_PRECISION.add(module)
    warnings.warn(
        f"precision={net.precision!r} on a CPU: autocast to reduced precision is "
        "usually several times slower there than float32 (a duo fit measured "
        "24.6 s against 6 s), and it changes the logits (the duo's weights moved "
        "in the third decimal). Use precision='float32' on a CPU; reduced "
        "precision pays off on a GPU (device='cuda').",
        UserWarning,
        stacklevel=5,
    )


class _SameAsModule:
    """Pickle marker: the ``module`` parameter is the fitted ``module_``."""


def _precision_dtype(precision):
    if isinstance(precision, torch.dtype):
        for name, dtype in PRECISIONS.items():
            if dtype == precision or (dtype is None and precision == torch.float32):
                return name, dtype
    elif precision in PRECISIONS:
        return precision, PRECISIONS[precision]
    raise ValueError(
        f"precision must be one of {sorted(PRECISIONS)} (or the torch dtype); got "
        f"{precision!r}."
    )


def _is_rows(X):
    """An ndarray or tensor (or a dict of them) that batches can be sliced from."""
    if isinstance(X, Mapping):
        return bool(X) and all(_is_rows(v) for v in X.values())
    if isinstance(X, torch.Tensor):
        return X.ndim >= 1 and X.layout == torch.strided
    return isinstance(X, np.ndarray) and X.ndim >= 1 and X.dtype != object


def _slice(X, start, stop):
    if isinstance(X, Mapping):
        return {k: _slice(v, start, stop) for k, v in X.items()}
    if isinstance(X, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(X[start:stop]))
    return X[start:stop]


def _to_compute(x, device, copy=False):
    """A batch on ``device``: pinned and non-blocking from CPU to CUDA.

    With ``copy``, a batch that is already on ``device`` is copied, so that a
    module or transform working in place never writes into the caller's input.
    """
    if isinstance(x, Mapping):
        return {k: _to_compute(v, device, copy) for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(_to_compute(v, device, copy) for v in x)
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        return x
    if x.device == device:
        return x.clone() if copy else x
    if device.type == "cuda" and x.device.type == "cpu":
        if not x.is_pinned():
            x = x.pin_memory()  # a copy
        return x.to(device, non_blocking=True)
    return x.to(device)


def _float_output(out):
    """Half/bfloat16 outputs (autocast) as float32, tuples element-wise."""
    if isinstance(out, tuple):
        return tuple(_float_output(o) for o in out)
    if isinstance(out, torch.Tensor) and out.dtype in (torch.float16, torch.bfloat16):
        return out.float()
    return out


class InferenceNet(NeuralNetClassifier):
    """A trained torch module as a fitted, inference-only skorch classifier.

    Built by :func:`as_member` (see there for the parameters); use that. It is
    a ``NeuralNetClassifier`` whose ``fit`` does nothing (like
    :class:`~sklearn.frozen.FrozenEstimator`: the module is already trained),
    with no optimizer, a ``clone`` that returns the same fitted object, and an
    inference loop that honours ``transform``, ``precision`` and
    ``channels_last``.

    Parameters
    ----------
    module : torch.nn.Module
        The trained module; it must return logits.
    classes : array-like of shape (n_classes,)
        The label of each output column of the module, in order.
    transform : callable, default=None
        Applied to each input batch on the compute device before the module.
    precision : {'float32', 'bfloat16', 'float16'}, default='float32'
        Autocast precision of the forward pass.
    channels_last : bool, default=False
        Run 4-D inputs and the module in ``torch.channels_last`` memory format.
    batch_size : int, default=64
        Inference batch size.
    device : str or torch.device, default=None
        Compute device; None leaves the module where it is.
    **kwargs
        Other ``NeuralNetClassifier`` parameters (``iterator_valid__num_workers``,
        ``dataset``, ...).

    Attributes
    ----------
    module_ : torch.nn.Module
        The module (the given object).
    classes_ : ndarray of shape (n_classes,)
        ``classes``.

    See Also
    --------
    as_member : Build one.

    Examples
    --------
    >>> import torch
    >>> from skduo.torch import InferenceNet, as_member
    >>> member = as_member(torch.nn.Linear(4, 3), classes=["a", "b", "c"])
    >>> isinstance(member, InferenceNet), member.optimizer_ is None
    (True, True)
    """

    def __init__(
        self,
        module,
        *,
        classes,
        transform=None,
        precision="float32",
        channels_last=False,
        batch_size=64,
        device=None,
        **kwargs,
    ):
        kwargs.setdefault("criterion", torch.nn.CrossEntropyLoss)
        kwargs.setdefault("callbacks", "disable")
        kwargs.setdefault("train_split", None)
        super().__init__(
            module, classes=classes, batch_size=batch_size, device=device, **kwargs
        )
        self.transform = transform
        self.precision = precision
        self.channels_last = channels_last

    # -- construction ----------------------------------------------------------

    def __setattr__(self, name, value):
        if name == "transform":
            # a batch transform may be a torch module (torchvision v2) but is no
            # skorch component: skorch would refuse to set it outside initialize
            self.__dict__[name] = value
            return
        super().__setattr__(name, value)

    def _check_inference_params(self):
        _precision_dtype(self.precision)
        if self.transform is not None and not callable(self.transform):
            raise TypeError(
                f"transform must be a callable applied to each input batch (a "
                f"function or a torch module); got {type(self.transform).__name__}."
            )
        bs = self.batch_size
        if not isinstance(bs, Integral) or isinstance(bs, bool) or bs < 1:
            if bs != -1:
                raise ValueError(
                    f"batch_size must be a positive int (or -1 for one batch); "
                    f"got {bs!r}."
                )
        classes = self.classes
        if classes is None:
            raise ValueError(
                "classes is required: the label of each output column of the "
                f"module, in order, e.g. classes={_classes_example(self.module)}."
            )
        classes = np.asarray(classes)
        if classes.ndim != 1 or classes.size == 0:
            raise ValueError(
                f"classes must be a non-empty 1-D list of labels; got shape "
                f"{classes.shape}."
            )
        if len(np.unique(classes)) != classes.size:
            raise ValueError(f"classes contains duplicates: {classes.tolist()!r}.")

    def initialize(self):
        """Check the parameters and initialize (no optimizer); returns self."""
        self._check_inference_params()
        return super().initialize()

    def initialize_module(self):
        """Use the given module (moved to ``device`` by skorch), channels_last."""
        super().initialize_module()
        n_out = getattr(self.module_, "num_classes", None)
        n_classes = len(self.classes)
        # timm (and similar) modules say how many outputs they have
        if isinstance(n_out, int) and n_out > 0 and n_out != n_classes:
            if not (n_out == 1 and n_classes == 2):
                raise ValueError(
                    f"The module has {n_out} outputs (num_classes) but "
                    f"{len(self.classes)} classes were given."
                )
        if self.channels_last:
            self.module_.to(memory_format=torch.channels_last)
        if isinstance(self.transform, torch.nn.Module) and self.device is not None:
            self.transform.to(self.device)  # its buffers (mean, std) with the batches
        return self

    def initialize_optimizer(self, *args, **kwargs):
        """No optimizer: the net is for inference only."""
        self.optimizer_ = None
        return self

    # -- the fitted-estimator contract -------------------------------------------

    def fit(self, X=None, y=None, **fit_params):
        """Do nothing (the module is trained); initialize if needed. Returns self.

        Parameters
        ----------
        X, y : ignored
            Present for API consistency (like ``FrozenEstimator.fit``).
        **fit_params : dict
            Ignored.

        Returns
        -------
        self : InferenceNet
        """
        if not getattr(self, "initialized_", False):
            self.initialize()
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Not available: an InferenceNet cannot be trained."""
        raise TypeError(
            "An InferenceNet (skduo.torch.as_member) is for inference only and "
            "cannot be trained; train the module with your own loop or a skorch "
            "NeuralNetClassifier, then call as_member again."
        )

    def __sklearn_clone__(self):
        # like FrozenEstimator: a fitted member is never refit, so clone keeps it
        if getattr(self, "initialized_", False):
            return self
        return super().__sklearn_clone__()

    def __getstate__(self):
        state = super().__getstate__()
        if "module_" in self.__dict__ and state.get("module") is self.module_:
            state["module"] = _SameAsModule  # the weights travel once, in module_
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if self.__dict__.get("module") is _SameAsModule:
            self.module = self.module_

    # -- inference ---------------------------------------------------------------

    def _compute_device(self):
        if self.device is not None:
            device = torch.device(self.device)
            if device.type == "cuda" and device.index is None:
                device = torch.device("cuda", torch.cuda.current_device())
            return device
        for tensor in self.module_.parameters():
            return tensor.device
        for tensor in self.module_.buffers():
            return tensor.device
        return torch.device("cpu")

    def get_iterator(self, dataset, training=False):
        """skorch's iterator; on CUDA the inference loader pins memory."""
        if training:
            return super().get_iterator(dataset, training=True)
        kwargs = self.get_params_for("iterator_valid")
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if self._compute_device().type == "cuda":
            kwargs.setdefault("pin_memory", True)
        return self.iterator_valid(dataset, **kwargs)

    def _batches(self, X, device):
        """Input batches on ``device``, one batch prepared ahead."""
        data = X.X if type(X) is SkorchDataset and X.y is None else X
        if _is_rows(data):
            first = next(iter(data.values())) if isinstance(data, Mapping) else data
            n = len(first)
            size = self.get_params_for("iterator_valid").get(
                "batch_size", self.batch_size
            )
            size = n if size == -1 else size
            for start in range(0, n, size):
                yield _to_compute(_slice(data, start, start + size), device, copy=True)
        else:
            for batch in self.get_iterator(self.get_dataset(X), training=False):
                if isinstance(batch, (tuple, list)) and len(batch) in (1, 2):
                    batch = batch[0]  # skorch's (X, y) pairs, or (X,) items
                yield _to_compute(batch, device)

    def _forward_batch(self, x, device, dtype, **fit_params):
        if self.transform is not None:
            x = self.transform(x)
        if self.channels_last and isinstance(x, torch.Tensor) and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if dtype is not None:
            _warn_cpu_precision(self, device)
        amp = (
            torch.autocast(device_type=device.type, dtype=dtype)
            if dtype is not None
            else contextlib.nullcontext()
        )
        with amp:
            if isinstance(x, Mapping):
                out = self.module_(**x, **fit_params)
            else:
                out = self.module_(x, **fit_params)
        return _float_output(out)

    def infer(self, x, **fit_params):
        """One batch through transform, memory format, precision and module.

        Parameters
        ----------
        x : array, tensor or dict of them
            A batch.
        **fit_params : dict
            Passed to the module's ``forward``.

        Returns
        -------
        torch.Tensor
            The module's output (float32 under reduced precision).
        """
        device = self._compute_device()
        _, dtype = _precision_dtype(self.precision)
        x = _to_compute(x, device, copy=True)
        return self._forward_batch(x, device, dtype, **fit_params)

    def forward_iter(self, X, training=False, device="cpu"):
        """Yield the module's output on each batch (eval and inference mode).

        Parameters
        ----------
        X : array-like, tensor, dict of arrays or Dataset
            Input. Arrays and tensors are sliced into batches directly; other
            inputs go through skorch's dataset and ``iterator_valid``.
        training : bool, default=False
            Must be False: an InferenceNet never runs in training mode.
        device : str, default='cpu'
            Where the yielded outputs are stored.

        Yields
        ------
        torch.Tensor
            The output of one batch (float32 under reduced precision).
        """
        if training:
            raise ValueError("An InferenceNet only runs in eval mode (training=False).")
        self.check_is_fitted()
        compute = self._compute_device()
        _, dtype = _precision_dtype(self.precision)
        batches = self._batches(X, compute)
        x = next(batches, None)
        while x is not None:
            with _eval_mode(self), torch.inference_mode():
                out = self._forward_batch(x, compute, dtype)
                # the next batch is copied while this one computes (CUDA)
                x = next(batches, None)
            yield to_device(out, device)
