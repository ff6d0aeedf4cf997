"""Command line: ``python -m skduo demo`` and ``python -m skduo evaluate PATH``."""

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from skduo._vocabulary import CONFIDENCES, DUO_MODES

DEFAULT_OUTPUT = "skduo_output"
TABLE_METHODS = ("temperature", "asymmetric", "deep_ensemble", "weighted_ensemble")


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m skduo",
        description=(
            "Asymmetric Duos: does a sidekick help my model, and which one? "
            "Fits every duo and baseline on validation logits and reports test "
            "metrics, harm rates and a sidekick recommendation."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument(
            "--output",
            default=DEFAULT_OUTPUT,
            help=f"output directory (default: ./{DEFAULT_OUTPUT})",
        )
        p.add_argument(
            "--paper-units",
            action="store_true",
            help="print the paper's units (x100; Brier x1e4 per entry)",
        )
        p.add_argument(
            "--confidence",
            choices=(*CONFIDENCES, "entropy"),
            default="msp",
            help="confidence of the selective metrics (default: msp; 'entropy' "
            "is the deprecated name of 'neg_entropy')",
        )
        p.add_argument(
            "--budget",
            type=float,
            default=None,
            metavar="PCT",
            help="recommend a sidekick for the large model within PCT%% extra "
            "compute, by validation NLL",
        )
        p.add_argument(
            "--large",
            default=None,
            help="large model for --budget and the risk-coverage plot (default: "
            "the most expensive)",
        )
        p.add_argument(
            "--all-modes",
            action="store_true",
            help="print unweighted and UQ-only duo rows too (always in the CSV)",
        )
        p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")

    demo = sub.add_parser(
        "demo",
        help="train a small zoo on load_digits and report every duo",
        description="Train a small model zoo on sklearn's digits (sklearn models, "
        "and small CNNs when torch/skorch are installed), then run the report.",
    )
    common(demo)
    demo.add_argument(
        "--quick", action="store_true", help="a tiny sklearn-only zoo (seconds)"
    )
    demo.add_argument("--no-torch", action="store_true", help="sklearn models only")
    demo.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    demo.set_defaults(budget=25.0)

    ev = sub.add_parser(
        "evaluate",
        help="report every duo of a directory of saved logits",
        description="Report every duo and baseline of a directory of saved logits.",
        epilog="Layouts: PATH/labels.npz + PATH/<model>.npz (arrays val, test"
        "[, ood_test]); PATH/<split>/labels.npy + PATH/<split>/<model>.npy; or the "
        "official repository's PATH/<split>/raw/<model>.csv + "
        "PATH/<split>/point_prediction.csv (column 'target'). Optional "
        "PATH/costs.json {model: multiply-adds} or costs.csv (model,cost) or "
        "backbones.csv (model_name,GFLOPS), and PATH/groups.json {model: "
        "architecture} for deep ensembles.",
    )
    ev.add_argument("path", help="directory of saved logits")
    ev.add_argument(
        "--ood",
        action="store_true",
        help="also evaluate the ood_test split (weights fitted in-distribution)",
    )
    common(ev)
    return parser


def _default_large(zoo):
    names = list(zoo.models)
    costs = [zoo.models[n].cost for n in names]
    if None in costs:
        return names[0]
    return max(names, key=lambda n: zoo.models[n].cost)


def _report(zoo, args, out, echo):
    from skduo.evaluation import (
        evaluate_zoo,
        plot_metric_vs_balance,
        plot_risk_coverage,
        select_sidekick,
    )

    if args.large is not None and args.large not in zoo.models:
        raise ValueError(
            f"--large {args.large!r}: no such model in {list(zoo.models)}."
        )
    ood = "ood_test" in zoo.splits
    if args.confidence == "entropy":
        print(
            "python -m skduo: --confidence entropy is deprecated; use --confidence "
            "neg_entropy (the same score).",
            file=sys.stderr,
        )
        args.confidence = "neg_entropy"
    report = evaluate_zoo(
        zoo, confidence=args.confidence, ood=ood, progress=sys.stderr.isatty()
    )
    methods = None if args.all_modes else TABLE_METHODS
    n_duos = sum(
        1 for r in report.rows if r["method"] == "asymmetric" and r["split"] == "test"
    )
    echo(
        f"\nTest split: {len(zoo.labels['test'])} samples, {len(zoo.models)} models, "
        f"{n_duos} duos (confidence: {args.confidence}); weights fitted on the "
        f"{len(zoo.labels['val'])} validation samples only."
    )
    echo(report.format_table(paper_units=args.paper_units, methods=methods))
    splits = ["test"] + (["ood_test"] if ood else [])
    for split in splits:
        for mode in DUO_MODES:
            if mode != "asymmetric" and not args.all_modes:
                continue
            echo(
                f"\nHarm rate on {split} ({mode} duos worse than their "
                "temperature-scaled large model), by FLOPs balance:"
            )
            echo(report.format_harm_rates(mode, split))

    extra = {}
    large = args.large or _default_large(zoo)
    if args.budget is not None:
        selection = select_sidekick(zoo, large, budget=args.budget)
        echo("\n" + selection.format())
        extra["sidekick_selection"] = selection.to_dict()

    out.mkdir(parents=True, exist_ok=True)
    written = [
        report.to_csv(out / "report.csv"),
        report.to_json(out / "report.json", **extra),
    ]
    if not args.no_plots:
        if importlib.util.find_spec("matplotlib") is None:
            echo("(matplotlib is not installed: no plots; pip install matplotlib)")
        else:
            written.append(
                plot_risk_coverage(zoo, report, out / "risk_coverage.png", large=large)
            )
            written.append(
                plot_metric_vs_balance(report, out / "metric_vs_balance.png")
            )
    return report, written


def _run_demo(args, echo):
    from skduo.evaluation import save_logits_dir
    from skduo.evaluation._demo import build_digits_zoo, torch_available

    start = time.perf_counter()
    use_torch = False if (args.no_torch or args.quick) else torch_available()
    echo(
        "skduo demo: training a model zoo on sklearn's digits "
        f"(train/val/test 50/25/25, seed {args.seed}; "
        f"{'with' if use_torch else 'without'} torch CNNs)"
    )
    if not use_torch and not (args.no_torch or args.quick):
        echo("(torch/skorch not installed: sklearn models only)")
    zoo = build_digits_zoo(
        quick=args.quick,
        use_torch=use_torch,
        seed=args.seed,
        progress=sys.stderr.isatty(),
        log=echo,
    )
    out = Path(args.output)
    logits_dir = save_logits_dir(zoo, out / "logits")
    _, written = _report(zoo, args, out, echo)
    elapsed = time.perf_counter() - start
    echo(f"\nWrote (in {elapsed:.0f}s):")
    for path in [logits_dir, *written]:
        echo(f"  {path}")
    echo(
        f"Re-run the report on the saved logits: python -m skduo evaluate {logits_dir}"
    )
    return 0


def _run_evaluate(args, echo):
    from skduo.evaluation import load_logits_dir

    zoo = load_logits_dir(args.path, ood=True if args.ood else False)
    echo(f"Loaded {zoo!r} from {args.path}")
    _, written = _report(zoo, args, Path(args.output), echo)
    echo("\nWrote:")
    for path in written:
        echo(f"  {path}")
    return 0


def main(argv=None):
    """Entry point of ``python -m skduo``; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)

    def echo(text=""):
        print(text, flush=True)

    try:
        if args.command == "demo":
            return _run_demo(args, echo)
        return _run_evaluate(args, echo)
    except ValueError as exc:
        print(f"python -m skduo {args.command}: error: {exc}", file=sys.stderr)
        return 2
