"""Inference of torch members: logit extraction, end to end, duo overhead.

Three parts, each timed side by side in one process:

``extract``
    Each member's logit extraction (:func:`skduo.torch.net_logits` on a member
    built by :func:`skduo.torch.as_member`, and the estimators' cached path with
    an empty cache, which adds the content hashing of rows and weights) against
    a hand-written ``torch.inference_mode`` loop over the same module, batch
    size, precision and memory format. Target: speed ratio
    ``time(hand) / time(skduo) >= 0.9``.
``e2e``
    Two backbones -> fitted duo -> test metrics: ``as_member`` for both,
    ``DuoClassifier.fit`` on the validation images, test NLL / ECE / AURC of the
    duo and of the temperature-scaled large model; then model selection on the
    validation set (``cross_validate`` with 3 skduo scorers and
    ``GridSearchCV`` over 3 modes), which with the logits cache costs about one
    pass of each backbone over the validation set, not 19.
``overhead``
    ``duo.predict_proba`` against the two nets' own ``predict_proba``: what
    skduo adds to the two forward passes, ``time(duo) / (time(large) +
    time(small)) <= 1.05``. Also printed: ``time(duo) / time(large)`` next to
    ``1 + r`` (``r`` the FLOPs balance), and ``time(small) / time(large)``
    next to ``r``: on a CPU, FLOPs need not predict time (resnet10t's
    full-resolution stem makes it about as slow as resnet18 here, at 0.6x its
    FLOPs).

The nets are timm backbones with ``pretrained=False`` (no network needed);
their weights are random, which does not change the cost of a forward pass
(the fitted duo weights mean nothing, and the duo's warnings about them are
silenced).

Run::

    python benchmarks/bench_inference.py                     # resnet50 + resnet18, CPU
    python benchmarks/bench_inference.py --quick             # smaller, ~1 min on CPU
    python benchmarks/bench_inference.py --device cuda --precision bfloat16 \\
        --channels-last --n-samples 2048 --batch-size 256

The exit status is 1 when a target is missed.
"""

import argparse
import contextlib
import os
import platform
import sys
import time

import numpy as np
import torch

# run from a checkout: import the skduo next to this script, not an installed one
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

#: What skduo may add to the two members' own predictions (``overhead``).
OVERHEAD_TARGET = 1.05


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def interleaved_best(fns, repeats, device, warmup=None):
    """Best wall and CPU time of each function over ``repeats`` interleaved rounds.

    A warm-up (``warmup()``, e.g. the same calls on one batch; else one full
    call each), then every round calls all functions once, so a burst of load
    from other processes hits all of them alike; the minimum over rounds is the
    least disturbed measurement. CPU time (this process, all threads) is less
    sensitive to other processes on a shared machine.
    """
    if warmup is None:
        for fn in fns.values():
            fn()
    else:
        warmup()
    _sync(device)
    last = {}
    wall = {name: np.inf for name in fns}
    cpu = {name: np.inf for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            last[name] = fn()
            _sync(device)
            wall[name] = min(wall[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    interleaved_best.last = last  # the outputs of the last round
    return wall, cpu


def hand_loop(module, X, batch_size, device, dtype, channels_last):
    """The reference: what one writes by hand for a module's logits."""
    outputs = []
    amp = (
        torch.autocast(device_type=torch.device(device).type, dtype=dtype)
        if dtype is not None
        else contextlib.nullcontext()
    )
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            xb = torch.from_numpy(X[start : start + batch_size]).to(device)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with amp:
                out = module(xb)
            outputs.append(out.float().cpu())
    return torch.cat(outputs).numpy()


def build(name, args):
    import timm

    from skduo.torch import as_member

    module = timm.create_model(name, pretrained=False, num_classes=args.n_classes)
    return as_member(
        module.eval(),
        classes=list(range(args.n_classes)),
        device=args.device,
        batch_size=args.batch_size,
        precision=args.precision,
        channels_last=args.channels_last,
    )


def part_extract(args, X, members, rows):
    from skduo._outputs._cache import cached_member_logits
    from skduo.torch import logits_cache, net_logits
    from skduo.torch._member import PRECISIONS

    dtype = PRECISIONS[args.precision]
    ok = True
    for name, member in members.items():

        def cold(member=member):
            logits_cache.clear()
            return cached_member_logits(member, X, member.classes_)

        fns = {
            "hand": lambda m=member: hand_loop(
                m.module_, X, args.batch_size, args.device, dtype, args.channels_last
            ),
            "skduo": lambda m=member: net_logits(m, X),
            "cached_cold": cold,
        }
        head = X[: args.batch_size]

        def warmup(m=member, head=head):
            hand_loop(m.module_, head, args.batch_size, args.device, dtype, False)
            hand_loop(
                m.module_, head, args.batch_size, args.device, dtype, args.channels_last
            )
            net_logits(m, head)

        best, cpu = interleaved_best(fns, args.repeats, args.device, warmup)
        out = interleaved_best.last
        diff = np.abs(out["hand"] - out["skduo"]).max()
        ratio = best["hand"] / best["skduo"]
        ok &= ratio >= 0.9
        rows.append((f"extract {name}: hand-written loop", best["hand"], ""))
        for key, label in (("skduo", "net_logits"), ("cached_cold", "cached, empty")):
            rows.append(
                (
                    f"extract {name}: {label}",
                    best[key],
                    f"speed {best['hand'] / best[key]:.3f}x "
                    f"(CPU time {cpu['hand'] / cpu[key]:.3f}x)",
                )
            )
        rows.append((f"extract {name}: max |hand - skduo|", diff, "logits"))
    logits_cache.clear()
    return ok


def part_e2e(args, X, y, members, rows):
    import warnings

    warnings.filterwarnings("ignore", message="The least populated class")
    from sklearn.model_selection import GridSearchCV, cross_validate

    from skduo import DuoClassifier, TemperatureScalingClassifier
    from skduo.metrics import aurc, expected_calibration_error, get_scorer, nll_loss
    from skduo.torch import logits_cache

    n_val = len(X) * 3 // 4
    X_val, y_val, X_test, y_test = X[:n_val], y[:n_val], X[n_val:], y[n_val:]
    large, small = members.values()
    logits_cache.clear()
    start = time.perf_counter()
    duo = DuoClassifier(large, small).fit(X_val, y_val)
    t_fit = time.perf_counter() - start
    start = time.perf_counter()
    proba = duo.predict_proba(X_test)
    metrics = (
        nll_loss(y_test, proba),
        expected_calibration_error(y_test, proba),
        aurc(y_test, proba),
    )
    t_test = time.perf_counter() - start
    ts = TemperatureScalingClassifier(large).fit(X_val, y_val)
    p_ts = ts.predict_proba(X_test)
    rows.append((f"e2e: duo.fit on {n_val} validation images", t_fit, ""))
    rows.append((f"e2e: duo test metrics on {len(X_test)} images", t_test, ""))
    rows.append(
        (
            "e2e: test NLL / ECE / AURC (duo)",
            None,
            f"{metrics[0]:.4f} / {metrics[1]:.4f} / {metrics[2]:.4f}",
        )
    )
    rows.append(
        (
            "e2e: test NLL (temperature-scaled large)",
            None,
            f"{nll_loss(y_test, p_ts):.4f}",
        )
    )
    # model selection on the validation set, starting from an empty cache
    logits_cache.clear()
    scoring = {k: get_scorer(k) for k in ("neg_nll", "neg_aurc", "neg_ece")}
    start = time.perf_counter()
    cross_validate(DuoClassifier(large, small), X_val, y_val, cv=5, scoring=scoring)
    GridSearchCV(
        DuoClassifier(large, small),
        {"mode": ["asymmetric", "unweighted", "uq_only"]},
        cv=5,
        scoring=scoring["neg_nll"],
    ).fit(X_val, y_val)
    t_select = time.perf_counter() - start
    rows.append(
        (
            "e2e: cross_validate x3 scorers + grid x3 modes",
            t_select,
            f"{t_select / t_fit:.2f}x one duo.fit",
        )
    )
    logits_cache.clear()
    return True


def part_overhead(args, X, y, members, rows):
    from sklearn.frozen import FrozenEstimator

    from skduo import DuoClassifier
    from skduo.torch import duo_compute_report, logits_cache

    large, small = members.values()
    duo = DuoClassifier(FrozenEstimator(large), FrozenEstimator(small)).fit(X, y)
    # random nets on random labels get weights (0, 0), and a member of weight 0
    # is never evaluated; the cost of a prediction does not depend on the
    # weights' values, so time it with both members in use
    duo.weights_ = np.array([1.0, 1.0])
    r = duo_compute_report(duo, X[:1]).flops_balance
    logits_cache.max_bytes = 0  # time the forward passes, not the cache
    try:
        best, _ = interleaved_best(
            {
                "large": lambda: large.predict_proba(X),
                "small": lambda: small.predict_proba(X),
                "duo": lambda: duo.predict_proba(X),
            },
            args.repeats,
            args.device,
            warmup=lambda: duo.predict_proba(X[: args.batch_size]),
        )
    finally:
        logits_cache.max_bytes = 1 << 30
        logits_cache.clear()
    # what skduo adds: the duo's time over its two members' own predictions
    overhead = best["duo"] / (best["large"] + best["small"])
    rows.append(("overhead: large.predict_proba", best["large"], ""))
    rows.append(
        (
            "overhead: small.predict_proba",
            best["small"],
            f"{best['small'] / best['large']:.3f}x large (FLOPs balance r = {r:.3f})",
        )
    )
    rows.append(
        (
            "overhead: duo.predict_proba",
            best["duo"],
            f"{best['duo'] / best['large']:.3f}x large (1 + r = {1 + r:.3f})",
        )
    )
    rows.append(
        (
            "overhead: duo / (large + small)",
            None,
            f"{overhead:.3f} (target <= {OVERHEAD_TARGET})",
        )
    )
    return overhead <= OVERHEAD_TARGET


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", default="resnet50")
    parser.add_argument("--small", default="resnet18")
    parser.add_argument("--n-samples", type=int, default=256)
    parser.add_argument("--size", type=int, default=224, help="image height/width")
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--precision", default="float32", choices=("float32", "bfloat16", "float16")
    )
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument(
        "--parts", default="extract,e2e,overhead", help="comma-separated parts"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="resnet18 + resnet10t, 96 images (about a minute on a CPU)",
    )
    args = parser.parse_args(argv)
    import warnings

    # random-weight nets: whichever weight the fit gives is meaningless
    warnings.filterwarnings("ignore", message="The large member's fitted weight is 0")
    if args.quick:
        args.large, args.small, args.n_samples = "resnet18", "resnet10t", 96
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n_samples, 3, args.size, args.size)).astype(np.float32)
    y = rng.integers(args.n_classes, size=args.n_samples)
    members = {args.large: build(args.large, args), args.small: build(args.small, args)}

    device = args.device
    if torch.device(device).type == "cuda":
        device = f"{device} ({torch.cuda.get_device_name()})"
    else:
        device = f"cpu ({platform.processor() or platform.machine()}, "
        device += f"{torch.get_num_threads()} threads)"
    print(f"torch {torch.__version__}, device {device}")
    print(
        f"{args.large} + {args.small}, {args.n_samples} images of 3x{args.size}x"
        f"{args.size}, batch size {args.batch_size}, precision {args.precision}"
        f"{', channels_last' if args.channels_last else ''}, best of "
        f"{args.repeats} interleaved rounds"
    )
    ok = True
    runners = {"extract": part_extract, "e2e": part_e2e, "overhead": part_overhead}
    for part in parts:
        rows = []
        try:
            if part == "extract":
                ok &= part_extract(args, X, members, rows)
            else:
                ok &= runners[part](args, X, y, members, rows)
        except Exception as exc:  # report it, keep the other parts' numbers
            ok = False
            rows.append((f"{part}: ERROR {type(exc).__name__}: {exc}", None, ""))
        _print_rows(rows)
    print("PASS" if ok else "FAIL", flush=True)
    return 0 if ok else 1


def _print_rows(rows, width=48):
    for label, seconds, note in rows:
        if seconds is None:
            value = ""
        elif "max |" in label:
            value = f"{seconds:9.2e}  "
        else:
            value = f"{seconds:9.3f} s"
        print(f"{label:<{width}}  {value:>11}  {note}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
