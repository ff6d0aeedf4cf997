"""The digits model zoo of ``python -m skduo demo`` (and of the benchmark).

``load_digits`` split 50/25/25 (train / validation / test, stratified, seed 0);
an OOD test split is the test images with Gaussian pixel noise. The zoo holds
sklearn classifiers and, when torch and skorch are importable, small CNNs
(skorch; plus a tiny timm backbone when timm is importable), all trained on CPU
from scratch. Costs are multiply-adds per sample: counted by
:func:`skduo.torch.count_flops` for the CNNs, and estimated analytically for the
sklearn models (documented next to each model below).
"""

import contextlib
import importlib.util
import signal
import threading
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier

from skduo._outputs._member import member_logits
from skduo.evaluation._zoo import LogitZoo

__all__ = ["build_digits_zoo", "digits_splits", "torch_available"]

N_FEATURES, N_CLASSES = 64, 10


def torch_available():
    """Whether torch and skorch can be imported (timm is optional on top)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "skorch"))


def digits_splits(seed=0, ood_noise=0.3):
    """Digits scaled to [0, 1]: train, val, test and a noisy OOD copy of test.

    Returns
    -------
    dict
        ``X_train, y_train, X_val, y_val, X_test, y_test, X_ood`` (float64).
    """
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # float64: GaussianNB's float32 log-probabilities are too coarse
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, test_size=0.5, random_state=seed, stratify=y
    )
    X_val, X_test, y_val, y_test = train_test_split(
        X_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest
    )
    rng = np.random.default_rng(seed)
    noise = rng.normal(scale=ood_noise, size=X_test.shape)
    X_ood = np.clip(X_test + noise, 0.0, 1.0)
    return {
        "X_train": X_train,
        "y_train": y_train,
        "X_val": X_val,
        "y_val": y_val,
        "X_test": X_test,
        "y_test": y_test,
        "X_ood": X_ood,
    }


def _mlp_cost(hidden):
    sizes = [N_FEATURES, *hidden, N_CLASSES]
    return float(sum(a * b for a, b in zip(sizes[:-1], sizes[1:])))


def _sklearn_specs(quick, seed):
    """(name, estimator, cost, group); costs are multiply-adds per sample."""
    specs = [
        # one dot product per class
        (
            "logreg",
            LogisticRegression(C=0.5, max_iter=2000),
            float(N_FEATURES * N_CLASSES),
            None,
        ),
        # (x - mu)^2 / var per feature and class: ~2 multiply-adds each
        ("gnb", GaussianNB(), float(2 * N_FEATURES * N_CLASSES), None),
    ]
    mlp_iter = 60 if quick else 300
    for s in range(2):
        specs.append(
            (
                f"mlp32_s{s}",
                MLPClassifier((32,), max_iter=mlp_iter, random_state=seed + s),
                _mlp_cost((32,)),
                "mlp32",
            )
        )
    if not quick:
        specs.append(
            (
                "mlp256",
                MLPClassifier((256,), max_iter=300, random_state=seed),
                _mlp_cost((256,)),
                None,
            )
        )
        # 25 rounds x 10 trees x depth <= 4 node tests (comparisons, not MACs)
        specs.append(
            (
                "hgb",
                HistGradientBoostingClassifier(
                    max_iter=25, max_depth=4, random_state=seed
                ),
                float(25 * N_CLASSES * 4),
                None,
            )
        )
    return specs


def _torch_specs(seed):
    """(name, net factory, image size, group) of the CNN members."""
    import torch
    from skorch import NeuralNetClassifier
    from torch import nn

    class SmallCNN(nn.Module):
        """conv(w) - conv(2w) - maxpool - linear, on 1x8x8 digits."""

        def __init__(self, width=8):
            super().__init__()
            self.layers = nn.Sequential(
                nn.Conv2d(1, width, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(width, 2 * width, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(2 * width * 16, N_CLASSES),
            )

        def forward(self, x):
            return self.layers(x)

    def cnn(width, net_seed):
        def make():
            torch.manual_seed(net_seed)
            return NeuralNetClassifier(
                SmallCNN,
                module__width=width,
                criterion=nn.CrossEntropyLoss,
                optimizer=torch.optim.Adam,
                lr=3e-3,
                max_epochs=20,
                batch_size=64,
                train_split=None,
                iterator_train__shuffle=True,
                verbose=0,
            )

        return make

    specs = [
        ("cnn4", cnn(4, seed), 8, None),
        ("cnn16_s0", cnn(16, seed), 8, "cnn16"),
        ("cnn16_s1", cnn(16, seed + 1), 8, "cnn16"),
    ]
    if importlib.util.find_spec("timm") is not None:
        from skduo.torch import make_timm_classifier

        def timm_net():
            torch.manual_seed(seed)
            return make_timm_classifier(
                "test_efficientnet",
                num_classes=N_CLASSES,
                in_chans=1,
                lr=3e-3,
                max_epochs=10,
                batch_size=64,
            )

        specs.append(("timm_effnet", timm_net, 8, None))
    return specs


def _as_images(X, size):
    import torch

    images = torch.from_numpy(np.asarray(X, dtype=np.float32).reshape(-1, 1, 8, 8))
    if size != 8:
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        )
    return images.numpy()


def build_digits_zoo(
    *, quick=False, use_torch=None, seed=0, progress=False, log=None, timings=None
):
    """Train the digits zoo and return its logits as a :class:`LogitZoo`.

    Parameters
    ----------
    quick : bool, default=False
        A reduced, sklearn-only zoo that trains in seconds (for smoke tests).
    use_torch : bool, default=None
        Include the CNNs; default: when torch and skorch are importable (never
        in ``quick`` mode).
    seed : int, default=0
        Seed of the split and the models.
    progress : bool, default=False
        Show a progress bar over the models (tqdm, when installed).
    log : callable, default=None
        Called with one line of text per trained model.
    timings : dict, default=None
        Filled with the training time of each model in seconds.

    Returns
    -------
    LogitZoo
        With ``val``, ``test`` and ``ood_test`` splits, costs and groups
        (``mlp32``, ``cnn16``: two seeds each, for deep ensembles).
    """
    if use_torch is None:
        use_torch = torch_available() and not quick
    data = digits_splits(seed)
    zoo = LogitZoo(data["y_val"], data["y_test"], data["y_test"])
    jobs = [("sklearn", *spec) for spec in _sklearn_specs(quick, seed)]
    if use_torch:
        jobs += [("torch", *spec) for spec in _torch_specs(seed)]
    iterator = jobs
    if progress:
        try:
            from tqdm.auto import tqdm

            iterator = tqdm(jobs, desc="training the zoo", leave=False)
        except ImportError:  # pragma: no cover - tqdm is optional
            pass
    threads = None
    if use_torch:
        import torch

        # tiny nets: one intra-op thread is faster than several on a busy CPU
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        _train(zoo, data, iterator, log, timings)
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
    return zoo


@contextlib.contextmanager
def _interrupts_seen():
    """Record Ctrl-C while raising it as usual (main thread only).

    skorch's ``fit`` catches ``KeyboardInterrupt`` and returns a half-trained
    net; the caller checks the record after each fit and re-raises, so an
    interrupt always stops the demo.
    """
    seen = []
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        seen.append(signum)
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, previous)


def _train(zoo, data, iterator, log, timings):
    with _interrupts_seen() as seen:
        _train_all(zoo, data, iterator, log, timings, seen)


def _train_all(zoo, data, iterator, log, timings, seen):
    classes = np.arange(N_CLASSES)
    for kind, name, factory, extra, group in iterator:
        if hasattr(iterator, "set_postfix_str"):
            iterator.set_postfix_str(name)
        start = time.perf_counter()
        if kind == "sklearn":
            estimator, cost = factory, extra
            inputs = {s: data[s] for s in ("X_train", "X_val", "X_test", "X_ood")}
        else:
            estimator, size = factory(), extra
            inputs = {
                s: _as_images(data[s], size)
                for s in ("X_train", "X_val", "X_test", "X_ood")
            }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(inputs["X_train"], data["y_train"])
        if seen:  # interrupted inside a fit that swallowed it (skorch)
            raise KeyboardInterrupt
        if kind == "torch":
            import torch

            from skduo.torch import count_flops

            example = torch.from_numpy(inputs["X_val"][:1])
            cost = float(count_flops(estimator.module_, example).macs)
        logits = {
            split: member_logits(estimator, inputs[key], classes, name=name)
            for split, key in (
                ("val", "X_val"),
                ("test", "X_test"),
                ("ood_test", "X_ood"),
            )
        }
        elapsed = time.perf_counter() - start
        if timings is not None:
            timings[name] = elapsed
        zoo.add(
            name,
            logits["val"],
            logits["test"],
            ood_test=logits["ood_test"],
            cost=cost,
            group=group,
        )
        if log is not None:
            acc = float(np.mean(logits["test"].argmax(1) == data["y_test"]))
            log(
                f"  trained {name:<12} cost {cost:>9.0f} MACs   test acc {acc:.3f}"
                f"   ({elapsed:.1f}s)"
            )
