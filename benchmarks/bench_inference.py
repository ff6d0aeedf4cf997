"""Inference overhead of a duo of timm nets versus its large member alone.

A duo runs both members on every sample, so its inference time should be the
large member's time plus the small member's, i.e. about ``1 + r`` times the large
member's where ``r = cost(small) / cost(large)`` is the FLOPs balance; the
combination itself (two weights times two logit arrays) is negligible. This
script times ``duo.predict_proba`` against the large net's own
``predict_proba`` on the same data, in one process, and checks

    time(duo) / time(large) <= 1 + r + 0.05

The nets are timm backbones (``pretrained=False``, no network needed) wrapped by
:func:`skduo.torch.make_timm_classifier`; they are only initialized, not trained,
since the cost of a forward pass does not depend on the weights.

Run::

    python benchmarks/bench_inference.py                     # resnet50 + resnet18, CPU
    python benchmarks/bench_inference.py --device cuda --n-samples 4096 --size 224

The exit status is 1 when the target is missed.
"""

import argparse
import platform
import time

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator

from skduo import DuoClassifier
from skduo.torch import count_flops, duo_compute_report, make_timm_classifier


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleaved_times(fns, repeats):
    """Best wall and CPU time of each function over ``repeats`` interleaved rounds.

    One warm-up call each, then every round calls all functions once, so a burst
    of load from other processes hits all of them alike; the minimum over rounds
    is the least disturbed measurement.
    """
    for fn in fns.values():
        fn()
    _sync()
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            _sync()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {n: min(t) for n, t in wall.items()}, {n: min(t) for n, t in cpu.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", default="resnet50")
    parser.add_argument("--small", default="resnet18")
    parser.add_argument("--n-samples", type=int, default=256)
    parser.add_argument("--size", type=int, default=32, help="image height/width")
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--slack", type=float, default=0.05)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    shape = (args.n_samples, 3, args.size, args.size)
    X = rng.normal(size=shape).astype(np.float32)
    y = rng.integers(args.n_classes, size=args.n_samples)

    def net(name):
        return make_timm_classifier(
            name,
            num_classes=args.n_classes,
            batch_size=args.batch_size,
            device=args.device,
            classes=list(range(args.n_classes)),
        ).initialize()

    large, small = net(args.large), net(args.small)
    duo = DuoClassifier(FrozenEstimator(large), FrozenEstimator(small))
    duo.fit(X, y)

    report = duo_compute_report(duo, X[:1])
    r = report.flops_balance
    wall, cpu = interleaved_times(
        {
            "large": lambda: large.predict_proba(X),
            "small": lambda: small.predict_proba(X),
            "duo": lambda: duo.predict_proba(X),
        },
        args.repeats,
    )
    t_large, t_small, t_duo = wall["large"], wall["small"], wall["duo"]
    ratio = t_duo / t_large
    target = 1 + r + args.slack

    device = args.device
    if device.startswith("cuda"):
        device = f"{device} ({torch.cuda.get_device_name()})"
    else:
        device = f"cpu ({platform.processor() or platform.machine()}, "
        device += f"{torch.get_num_threads()} threads)"
    print(f"torch {torch.__version__}, device {device}")
    print(
        f"{args.n_samples} images of 3x{args.size}x{args.size}, "
        f"batch size {args.batch_size}, best of {args.repeats} interleaved rounds"
    )
    for name, model in ((args.large, large), (args.small, small)):
        per_224 = count_flops(model.module_, torch.zeros(1, 3, 224, 224)).macs / 1e9
        head = f"{args.n_classes}-class head"
        print(f"  {name:<12} {per_224:.3f} GMACs per 224x224 image ({head})")
    print(report)
    print("                          wall (s)  CPU (s)")
    for name in ("large", "small", "duo"):
        print(f"{name + '.predict_proba':<25} {wall[name]:8.3f} {cpu[name]:8.3f}")
    print(f"CPU time(duo) / time(large) {cpu['duo'] / cpu['large']:6.3f}")
    print(f"time(small) / time(large) {t_small / t_large:8.3f}   (r = {r:.3f})")
    print(f"time(duo) / time(large)   {ratio:8.3f}   target <= 1 + r + {args.slack}")
    print(f"                                   = {target:.3f}")
    ok = ratio <= target
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
