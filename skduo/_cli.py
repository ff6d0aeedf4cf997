"""Command line: ``python -m skduo demo`` and ``python -m skduo evaluate PATH``.

Every run writes its files into a staging folder inside ``--output`` and moves
them into place only when all of them are complete, so the folder holds one
run's report, plots and logits or is left as it was (an interrupt exits 130, a
bad input, an unwritable folder or a full disk exits 2 with one line naming
the file). A non-empty ``--output`` folder is refused unless ``--force``.
"""

import argparse
import importlib.util
import sys
import time
import warnings

from skduo._vocabulary import CONFIDENCES, DUO_MODES, OUTPUT_KINDS

DEFAULT_OUTPUT = "skduo_output"
TABLE_METHODS = ("temperature", "asymmetric", "deep_ensemble", "weighted_ensemble")
REPORT_FILES = (
    "report.csv",
    "report.json",
    "risk_coverage.png",
    "metric_vs_balance.png",
)


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m skduo",
        description=(
            "Asymmetric Duos: does a sidekick help my model, and which one? "
            "Fits every duo and baseline on validation logits and reports test "
            "metrics, harm rates (with paired-bootstrap significance) and a "
            "sidekick recommendation."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument(
            "--output",
            default=DEFAULT_OUTPUT,
            help=f"output folder (default: ./{DEFAULT_OUTPUT}); must be empty or "
            "new unless --force",
        )
        p.add_argument(
            "--force",
            action="store_true",
            help="write into a non-empty --output folder: skduo's files of an "
            "earlier run there are replaced or removed, other files are kept",
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
            help="large model for --budget, the conclusions and the risk-coverage "
            "plot (default: the most expensive)",
        )
        p.add_argument(
            "--resamples",
            type=int,
            default=1000,
            metavar="N",
            help="paired bootstrap resamples of the test rows behind each duo's "
            "significance against its large model (default: 1000; 0: none)",
        )
        p.add_argument(
            "--level",
            type=float,
            default=95.0,
            metavar="PCT",
            help="confidence level of the significance, in %% (default: 95)",
        )
        p.add_argument(
            "--target-risk",
            type=float,
            default=2.0,
            metavar="PCT",
            help="report the coverage certified at a selective risk of PCT%% per "
            "model and duo, with probability --level (default: 2; 0: skip)",
        )
        p.add_argument(
            "--correction",
            choices=("holm", "bh", "none"),
            default="holm",
            help="multiplicity control of the verdicts over each family (every "
            "duo of a mode x 9 metrics on a split): holm (default), bh "
            "(Benjamini-Hochberg) or none",
        )
        p.add_argument(
            "--min-effect",
            type=float,
            default=0.0,
            metavar="D",
            help="smallest difference that counts as better or worse, in each "
            "metric's own units (default: 0; differences within it are 'same')",
        )
        p.add_argument(
            "--all-modes",
            action="store_true",
            help="print unweighted and UQ-only duo rows too (always in the CSV)",
        )
        p.add_argument(
            "--wide",
            action="store_true",
            help="print every column (the tables of report.csv) instead of "
            "fitting the terminal's width",
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
        description="Report every duo and baseline of a directory of saved logits "
        "(or probabilities: see --outputs).",
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
        "--mmap",
        action="store_true",
        help="open the .npy files of the PATH/<split>/<model>.npy layout "
        "memory-mapped instead of reading them into memory (the report reads "
        "them in row blocks)",
    )
    ev.add_argument(
        "--ood",
        action="store_true",
        help="also evaluate the ood_test split (weights fitted in-distribution)",
    )
    ev.add_argument(
        "--outputs",
        choices=OUTPUT_KINDS,
        default="auto",
        help="what the saved arrays hold (default: auto, which recognises "
        "probabilities and uses their logarithm, saying so per model)",
    )
    common(ev)
    return parser


def _default_large(zoo):
    """The most expensive model; None without costs (never a file name)."""
    names = list(zoo.models)
    costs = [zoo.models[n].cost for n in names]
    if None in costs:
        return None
    return max(names, key=lambda n: zoo.models[n].cost)


class _Printer:
    """Lines to stdout, wrapped at the run's width (None: as they are)."""

    def __init__(self, width):
        self.width = width

    def __call__(self, text=""):
        print(text, flush=True)

    def wrap(self, text, indent=""):
        from skduo.evaluation._format import wrap

        self(text if self.width is None else wrap(text, self.width, indent))


def _checked_args(zoo, args):
    if args.large is not None and args.large not in zoo.models:
        raise ValueError(
            f"--large {args.large!r}: no such model in {list(zoo.models)}."
        )
    if args.resamples < 0 or args.resamples == 1:
        raise ValueError(f"--resamples {args.resamples}: must be 0 or >= 2.")
    if not args.min_effect >= 0:
        raise ValueError(f"--min-effect {args.min_effect:g}: must be >= 0.")
    if not 0 < args.level < 100:
        raise ValueError(f"--level {args.level:g}: must be between 0 and 100.")
    if not 0 <= args.target_risk < 100:
        raise ValueError(
            f"--target-risk {args.target_risk:g}: must be in [0, 100) (0: skip)."
        )
    if args.confidence == "entropy":
        print(
            "python -m skduo: --confidence entropy is deprecated; use --confidence "
            "neg_entropy (the same score).",
            file=sys.stderr,
        )
        args.confidence = "neg_entropy"


def _analyse(zoo, args, echo):
    """Fit and score everything, print the tables; returns what is written."""
    from skduo.evaluation import evaluate_zoo, select_sidekick
    from skduo.evaluation._format import fitted_table, significance_text

    ood = "ood_test" in zoo.splits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_zoo(
            zoo,
            confidence=args.confidence,
            ood=ood,
            progress=sys.stderr.isatty(),
            n_resamples=args.resamples,
            confidence_level=args.level / 100,
            correction=args.correction,
            min_effect=args.min_effect,
            target_risk=args.target_risk / 100 or None,
            delta=(100 - args.level) / 100,
        )
    # evaluate_zoo states each condition once (report.notes); anything else
    # caught here is printed once, in the notes, never as a raw warning
    for w in caught:
        text = str(w.message)
        if text not in report.notes:
            report.notes.append(text)
    methods = None if args.all_modes else TABLE_METHODS
    n_duos = sum(
        1 for r in report.rows if r["method"] == "asymmetric" and r["split"] == "test"
    )
    echo()
    echo.wrap(
        f"Test split: {len(zoo.labels['test'])} samples, {len(zoo.models)} models, "
        f"{n_duos} duos (confidence: {args.confidence}); weights fitted on the "
        f"{len(zoo.labels['val'])} validation samples only."
    )
    echo.wrap(f"Significance: {significance_text(report)}.")
    if report.roles is None:
        echo.wrap(
            "Roles: not every model has a cost, so every ordered pair is fitted "
            "and no model is called large or sidekick unless --large names one "
            "(roles never come from file names)."
        )
    else:
        echo.wrap(
            "Roles: from the costs (the sidekick is the cheaper model of each pair)."
        )
    if echo.width is None:
        echo(report.format_table(paper_units=args.paper_units, methods=methods))
    else:
        rows = [
            r
            for r in report.rows
            if r["split"] == "test" and (methods is None or r["method"] in methods)
        ]
        echo(
            fitted_table(
                rows,
                echo.width,
                paper_units=args.paper_units,
                hint="every column in report.csv, or pass --wide",
            )
        )
    splits = ["test"] + (["ood_test"] if ood else [])
    level = f"{args.level:g}%"
    for split in splits:
        for mode in DUO_MODES:
            if mode != "asymmetric" and not args.all_modes:
                continue
            echo()
            echo.wrap(
                f"Harm rate on {split} ({mode} duos worse than their "
                "temperature-scaled large model), by FLOPs balance:"
            )
            if report.n_resamples and echo.width is not None:
                echo.wrap(
                    "each cell: % of duos worse / significantly worse / "
                    f"significantly better, at {level} (paired bootstrap, "
                    f"{report.n_resamples} resamples of the {split} rows)"
                )
            width = echo.width
            echo(report.format_harm_rates(mode, split, width=width))

    if report.notes:
        echo()
        echo("Notes:")
        for text in report.notes:
            echo.wrap(f"- {text}", indent="")
    extra, selection = {}, None
    if args.target_risk:
        from skduo.evaluation._certified import format_certified

        certify = dict(
            target_risk=args.target_risk / 100, delta=(100 - args.level) / 100
        )
        for split in splits:
            width = echo.width or 1000  # --wide: one line each
            text = format_certified(report, split=split, width=width, **certify)
            if text:
                echo()
                echo(text)
        extra["certification"] = certify
    large = args.large or _default_large(zoo)
    if args.budget is not None:
        selection = select_sidekick(zoo, large, budget=args.budget)
        echo()
        echo(selection.format(width=echo.width))
        extra["sidekick_selection"] = selection.to_dict()
    return report, extra, large


def _write(report, zoo, extra, large, out, args, echo):
    """Write the report into the staging folder; returns the final paths."""
    from skduo.evaluation import plot_metric_vs_balance, plot_risk_coverage

    report.to_csv(out / "report.csv")
    report.to_json(out / "report.json", **extra)
    written = ["report.csv", "report.json"]
    if not args.no_plots:
        if importlib.util.find_spec("matplotlib") is None:
            echo("(matplotlib is not installed: no plots; pip install matplotlib)")
        else:
            if large is not None:
                plot_risk_coverage(zoo, report, out / "risk_coverage.png", large=large)
                written.append("risk_coverage.png")
            plot_metric_vs_balance(report, out / "metric_vs_balance.png")
            written.append("metric_vs_balance.png")
    return written


def _conclude(report, zoo, args, large, echo):
    width = echo.width or 100
    echo()
    echo(report.summary(large=large, budget=args.budget, split="test", width=width))
    if "ood_test" in zoo.splits:
        from skduo.evaluation._format import conclusions

        echo(
            conclusions(
                report,
                large=large,
                budget=args.budget,
                split="ood_test",
                width=width,
                brief=True,
            )
        )


def _load(args, echo):
    """Load the logits; a recognised conversion is one plain line per model."""
    from skduo.evaluation import load_logits_dir

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zoo = load_logits_dir(
            args.path,
            ood=True if args.ood else False,
            outputs=args.outputs,
            mmap_mode="r" if getattr(args, "mmap", False) else None,
        )
    echo.wrap(f"Loaded {zoo!r} from {args.path}")
    for name, model in zoo.models.items():
        if model.outputs == "proba" and args.outputs == "auto":
            echo.wrap(
                f"{name}: the saved arrays look like probabilities (rows in [0, 1] "
                "summing to 1), not logits; using their logarithm, which gives "
                "the same duo. Pass --outputs proba to say so, or --outputs "
                "logits if they are logits."
            )
    for w in caught:
        text = str(w.message)
        if "look like probabilities" not in text:
            echo.wrap(f"note: {text}")
    return zoo


def _run_demo(args, echo):
    from skduo.evaluation import save_logits_dir
    from skduo.evaluation._demo import build_digits_zoo, torch_available
    from skduo.evaluation._files import OWNED, OutputFolder

    start = time.perf_counter()
    if args.resamples < 0:
        raise ValueError(f"--resamples {args.resamples}: must be >= 0.")
    out = OutputFolder(args.output, force=args.force, owned=OWNED)
    try:
        use_torch = False if (args.no_torch or args.quick) else torch_available()
        echo.wrap(
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
        _checked_args(zoo, args)
        report, extra, large = _analyse(zoo, args, echo)
        with out.writing():
            save_logits_dir(zoo, out / "logits")
            written = ["logits", *_write(report, zoo, extra, large, out, args, echo)]
        out.commit()
    finally:
        out.discard()
    elapsed = time.perf_counter() - start
    echo(f"\nWrote (in {elapsed:.0f}s):")
    for name in written:
        echo(f"  {out.final(name)}")
    # a command is never wrapped mid-argument: one line, or a shell line
    # continuation before --output, so that it can be pasted as printed
    echo.wrap("Re-run the report on the saved logits:")
    command = f"  python -m skduo evaluate {out.final('logits')}"
    option = f"--output {out.final('evaluate')}"
    if echo.width is None or len(command) + 1 + len(option) <= echo.width:
        echo(f"{command} {option}")
    else:
        echo(f"{command} \\")
        echo(f"      {option}")
    _conclude(report, zoo, args, large, echo)
    return 0


def _run_evaluate(args, echo):
    from skduo.evaluation._files import OutputFolder

    zoo = _load(args, echo)
    _checked_args(zoo, args)
    out = OutputFolder(args.output, force=args.force, owned=REPORT_FILES)
    try:
        report, extra, large = _analyse(zoo, args, echo)
        with out.writing():
            written = _write(report, zoo, extra, large, out, args, echo)
        out.commit()
    finally:
        out.discard()
    echo("\nWrote:")
    for name in written:
        echo(f"  {out.final(name)}")
    _conclude(report, zoo, args, large, echo)
    return 0


def _one_line(text):
    return " ".join(str(text).split())


def main(argv=None):
    """Entry point of ``python -m skduo``; returns the exit status.

    0 on success, 2 for a bad input or an output that cannot be written (one
    line on stderr names the file and the problem; nothing is written), 130
    when interrupted (nothing is written unless the interrupt came while the
    finished output was being moved into place).
    """
    from skduo.evaluation._files import describe
    from skduo.evaluation._format import terminal_width

    parser = _parser()
    args = parser.parse_args(argv)
    echo = _Printer(None if args.wide else terminal_width())
    prog = f"python -m skduo {args.command}"
    try:
        if args.command == "demo":
            return _run_demo(args, echo)
        return _run_evaluate(args, echo)
    except KeyboardInterrupt as exc:
        done = "after the output was complete" in str(exc)
        what = "the output was complete and is written" if done else "nothing written"
        print(f"{prog}: interrupted; {what}.", file=sys.stderr)
        return 130
    except ValueError as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = describe(exc.filename) if exc.filename else "output"
        reason = exc.strerror or _one_line(exc) or type(exc).__name__
        print(f"{prog}: error: {where}: {reason}; nothing written.", file=sys.stderr)
        return 2
