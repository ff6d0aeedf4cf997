"""Model selection with torch members: the logits cache against precomputed logits.

Two routes to the same model selection on the same validation images
(``cross_validate`` with six skduo scorers, then ``GridSearchCV`` over the
three duo modes with the same scorers), timed side by side in one process:

``cached``
    The torch members themselves (:func:`skduo.torch.as_member` around two timm
    backbones), the logits cache on. After a first pass has filled the cache
    no forward pass runs, but every ``fit`` / ``predict_proba`` / ``predict``
    call still fingerprints both members and hashes the rows of its input
    (dozens of calls).
``precomputed``
    :func:`skduo.torch.precompute_logits` once, then the same model selection
    on its array with :class:`~skduo.torch.PrecomputedMember` stand-ins.

Target (issue 23): ``time(cached, warm) / time(precomputed) <= 2``. Also
printed: the cold routes (an empty cache against ``precompute_logits`` plus the
selection; both run each member over each image once), and the largest
difference between the two routes' cross-validation scores (the same logits
give the same scores).

The nets are timm backbones with ``pretrained=False`` (no network needed);
random weights do not change what a fingerprint or a cache lookup costs.

Run::

    python benchmarks/bench_selection.py                       # 1,000 x 1x28x28
    python benchmarks/bench_selection.py --shape 3x32x32
    python benchmarks/bench_selection.py --repeats 5 --large resnet18

The exit status is 1 when the target is missed.
"""

import argparse
import os
import platform
import sys
import time
import warnings

import numpy as np
import torch

# run from a checkout: import the skduo next to this script, not an installed one
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: time(cached, warm) / time(precomputed) must not exceed this.
TARGET = 2.0
SCORERS = ("neg_nll", "neg_brier", "neg_ece", "neg_aurc", "neg_eaurc", "neg_augrc")
MODES = ("asymmetric", "unweighted", "uq_only")


def build(name, shape, n_classes):
    import timm

    from skduo.torch import as_member

    module = timm.create_model(
        name, pretrained=False, num_classes=n_classes, in_chans=shape[0]
    )
    return as_member(module.eval(), classes=list(range(n_classes)))


def select(X, y, large, small, cv):
    """The model selection: cross_validate, then a grid over the modes."""
    from sklearn.model_selection import GridSearchCV, cross_validate

    from skduo import DuoClassifier
    from skduo.metrics import get_scorer

    scoring = {name: get_scorer(name) for name in SCORERS}
    scores = cross_validate(DuoClassifier(large, small), X, y, cv=cv, scoring=scoring)
    grid = GridSearchCV(
        DuoClassifier(large, small),
        {"mode": list(MODES)},
        cv=cv,
        scoring=scoring,
        refit="neg_nll",
    ).fit(X, y)
    return scores, grid


def timed(fn):
    start, start_cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - start_cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", default="resnet10t")
    parser.add_argument("--small", default="test_resnet")
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--shape", default="1x28x28", help="channels x height x width")
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split("x"))
    # random nets on random labels: whichever weights the fits give mean nothing
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", message="The least populated class")
    from skduo.torch import logits_cache, precompute_logits

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n_samples, *shape)).astype(np.float32)
    y = rng.integers(args.n_classes, size=args.n_samples)
    large = build(args.large, shape, args.n_classes)
    small = build(args.small, shape, args.n_classes)
    print(
        f"torch {torch.__version__}, cpu ({platform.processor() or platform.machine()}"
        f", {torch.get_num_threads()} threads, {os.cpu_count()} cores)"
    )
    print(
        f"{args.large} + {args.small}, {args.n_samples} images of {args.shape}; "
        f"cross_validate (cv={args.cv}, {len(SCORERS)} scorers) + GridSearchCV "
        f"({len(MODES)} modes x {len(SCORERS)} scorers); best of {args.repeats} "
        "interleaved rounds"
    )

    # cold: an empty cache against precompute_logits + the selection
    logits_cache.clear()
    (cold_scores, _), cold_cached, _ = timed(
        lambda: select(X, y, large, small, args.cv)
    )

    def precomputed():
        pre = precompute_logits([large, small], X, verbose=False)
        return select(pre.X, y, *pre.members, args.cv)

    logits_cache.clear()
    (pre_scores, _), cold_pre, _ = timed(precomputed)
    pre = precompute_logits([large, small], X, verbose=False)
    routes = {
        "cached": lambda: select(X, y, large, small, args.cv),  # the cache is warm
        "precomputed": lambda: select(pre.X, y, *pre.members, args.cv),
    }
    wall = dict.fromkeys(routes, np.inf)
    cpu = dict.fromkeys(routes, np.inf)
    for _ in range(args.repeats):
        for name, fn in routes.items():
            _, w, c = timed(fn)
            wall[name], cpu[name] = min(wall[name], w), min(cpu[name], c)
    info = logits_cache.info()
    diff = max(
        np.max(np.abs(cold_scores[f"test_{s}"] - pre_scores[f"test_{s}"]))
        for s in SCORERS
    )
    ratio = wall["cached"] / wall["precomputed"]
    rows = [
        ("cold: cached, empty cache", cold_cached, ""),
        (
            "cold: precompute_logits + selection",
            cold_pre,
            f"cached / precomputed {cold_cached / cold_pre:.2f}x",
        ),
        (
            "warm: cached (no forward pass)",
            wall["cached"],
            f"CPU {cpu['cached']:.3f} s",
        ),
        (
            "warm: precomputed",
            wall["precomputed"],
            f"CPU {cpu['precomputed']:.3f} s",
        ),
        (
            "warm: cached / precomputed",
            None,
            f"{ratio:.2f}x wall, {cpu['cached'] / cpu['precomputed']:.2f}x CPU "
            f"(target <= {TARGET})",
        ),
        ("max |score difference| between routes", None, f"{diff:.2e}"),
        ("cache rows", None, f"{info['n_rows']} ({info['hits']} hits)"),
    ]
    for label, seconds, note in rows:
        value = "" if seconds is None else f"{seconds:8.3f} s"
        print(f"{label:<40} {value:>10}  {note}", flush=True)
    ok = ratio <= TARGET
    print("PASS" if ok else "FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
