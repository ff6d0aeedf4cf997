"""PNG plots of a zoo report (matplotlib imported lazily, no pyplot state)."""

from pathlib import Path

import numpy as np

from skduo._vocabulary import check_confidence
from skduo.evaluation._files import atomic_file
from skduo.evaluation._metrics import METRICS
from skduo.metrics import aurc, risk_coverage_curve
from skduo.utils._optional import check_matplotlib_support

__all__ = ["plot_metric_vs_balance", "plot_risk_coverage"]


def _figure(caller, figsize):
    # A bare Figure on the Agg canvas: no pyplot, no global backend or style.
    check_matplotlib_support(caller)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _num(value):
    return float("nan") if value is None else float(value)


def _no_minor_labels(ax):
    """No labels on a log axis's minor ticks (they overlap over a short range)."""
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())


def _save(fig, path, dpi):
    """Save as PNG atomically (a temporary file renamed into place)."""
    path = Path(path)
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    return path


def plot_risk_coverage(zoo, report, path, *, large=None, split="test", max_duos=3):
    """Risk-coverage curves of a large model, its best duos and its ensembles.

    Draws the temperature-scaled ``large`` model, the ``max_duos`` asymmetric
    duos with it that have the lowest **validation** NLL, and any deep ensemble
    starting with it, on ``split``.

    Parameters
    ----------
    zoo : LogitZoo
        The models (their logits on ``split``).
    report : ZooReport
        The report of :func:`evaluate_zoo` on ``zoo`` (fitted weights).
    path : str or path-like
        Output PNG file.
    large : str, default=None
        Large model; default: the most expensive one (required when some
        model has no cost).
    split : str, default='test'
        Split to plot.
    max_duos : int, default=3
        Number of duos drawn.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skduo.evaluation import LogitZoo, evaluate_zoo, plot_risk_coverage
    >>> rng = np.random.default_rng(0)
    >>> y_val, y_test = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    >>> zoo = LogitZoo(y_val, y_test)
    >>> for name, cost, noise in [("big", 10.0, 1.0), ("small", 1.0, 2.0)]:
    ...     zoo.add(name, 3 * np.eye(3)[y_val] + noise * rng.normal(size=(200, 3)),
    ...             3 * np.eye(3)[y_test] + noise * rng.normal(size=(200, 3)),
    ...             cost=cost)
    >>> report = evaluate_zoo(zoo, ensembles=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = plot_risk_coverage(zoo, report, os.path.join(tmp, "rc.png"))
    ...     print(out.name, out.stat().st_size > 0)
    rc.png True
    """
    fig = _figure("plot_risk_coverage", (6.4, 4.4))
    ax = fig.add_subplot()
    names = list(zoo.models)
    if large is None:
        costs = [zoo.models[n].cost for n in names]
        if None in costs:
            raise ValueError(
                "plot_risk_coverage needs large= when not every model has a cost "
                "(roles never come from names)."
            )
        large = names[int(np.argmax(costs))]
    y = zoo.labels[split]
    confidence = check_confidence(report.confidence)
    duos = sorted(
        (
            r
            for r in report.rows
            if (r["method"], r["large"], r["split"]) == ("asymmetric", large, split)
        ),
        key=lambda r: r["val_nll"],
    )[:max_duos]
    curves = [("temperature", [large], f"{large} alone (temperature-scaled)")]
    curves += [
        ("asymmetric", r["members"], f"duo {large} + {r['small']}") for r in duos
    ]
    curves += [
        ("deep_ensemble", r["members"], r["name"])
        for r in report.rows
        if (r["method"], r["large"], r["split"]) == ("deep_ensemble", large, split)
    ]
    first_risk = []  # the x-axis starts a little before the first error
    for method, members, label in curves:
        kept = getattr(report, "_selective", {}).get((method, tuple(members), split))
        if kept is not None:  # the report's own correctness and confidence
            correct, conf = kept
            # as labels: right rows predict their label, wrong ones do not
            y_true, y_pred = correct.astype(np.intp), np.ones(len(correct), np.intp)
        else:  # predictions and their confidence in row blocks (no n x K)
            ens = report.fitted[(method, tuple(members))]
            logits = [zoo.models[m].logits[split] for m in members]
            y_true, y_pred = y, ens.predict(*logits)
            conf = ens.confidence(*logits, kind=confidence)
        coverage, risk, _ = risk_coverage_curve(
            y_true, None, confidence=conf, y_pred=y_pred
        )
        area = aurc(y_true, None, confidence=conf, y_pred=y_pred)
        errors = np.flatnonzero(risk > 0)
        if len(errors):
            first_risk.append(float(coverage[errors[0]]))
        style = "--" if method == "temperature" else "-"
        ax.step(
            coverage,
            risk,
            where="post",
            linestyle=style,
            label=f"{label} (AURC {area:.4f})",
        )
    start = max(0.0, min(first_risk, default=0.0) - 0.05)
    xlabel = "coverage"
    if start > 0:
        # say so: a cropped axis hides that the curves are flat at 0 before
        xlabel += f" (axis from {start:.2f}: no errors at lower coverage)"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("selective risk (error rate of accepted)")
    ax.set_title(f"Risk-coverage on {split} ({report.confidence} confidence)")
    ax.set_xlim(start, 1)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="small")
    return _save(fig, path, dpi=120)


def plot_metric_vs_balance(
    report,
    path,
    *,
    metrics=("acc", "nll", "ece", "auroc", "aurc", "sac98"),
    split="test",
    large=None,
):
    """Each duo's change over its temperature-scaled large model vs FLOPs balance.

    One panel per metric; one point per asymmetric duo at
    ``x = cost(small) / cost(large)`` (log scale) and ``y = metric(duo) -
    metric(large)``, coloured by large model, with a dashed zero line (the
    paper's Figs. 3-7 layout).

    Parameters
    ----------
    report : ZooReport
        The report of :func:`evaluate_zoo`.
    path : str or path-like
        Output PNG file.
    metrics : sequence of str, default=('acc', 'nll', 'ece', 'auroc', 'aurc', \
'sac98')
        Metric keys of :data:`METRICS`.
    split : str, default='test'
        Split.
    large : sequence of str, default=None
        Large models whose duos are drawn; default: the four most expensive
        models with duos (the paper shows four large models).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skduo.evaluation import LogitZoo, evaluate_zoo, plot_metric_vs_balance
    >>> rng = np.random.default_rng(0)
    >>> y_val, y_test = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    >>> zoo = LogitZoo(y_val, y_test)
    >>> for name, cost, noise in [("big", 10.0, 1.0), ("small", 1.0, 2.0)]:
    ...     zoo.add(name, 3 * np.eye(3)[y_val] + noise * rng.normal(size=(200, 3)),
    ...             3 * np.eye(3)[y_test] + noise * rng.normal(size=(200, 3)),
    ...             cost=cost)
    >>> report = evaluate_zoo(zoo, ensembles=False)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = plot_metric_vs_balance(report, os.path.join(tmp, "mb.png"))
    ...     print(out.name)
    mb.png
    """
    info = {key: (header, higher) for key, header, higher, _ in METRICS}
    unknown = [m for m in metrics if m not in info]
    if unknown:
        raise ValueError(f"Unknown metric(s) {unknown}; choose from {list(info)}.")
    n = len(metrics)
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    fig = _figure("plot_metric_vs_balance", (4.0 * ncols, 3.2 * nrows))
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)]
    base = {
        r["large"]: r
        for r in report.rows
        if r["method"] == "temperature" and r["split"] == split
    }
    duos = [
        r
        for r in report.rows
        if r["method"] == "asymmetric"
        and r["split"] == split
        and r["flops_balance"] is not None
    ]
    if large is None:
        with_duos = {r["large"] for r in duos}
        large = sorted(with_duos, key=lambda n: -(base[n]["cost"] or 0.0))[:4]
    larges = [n for n in large if any(r["large"] == n for r in duos)]
    for ax, key in zip(axes, metrics):
        header, higher = info[key]
        for i, name in enumerate(larges):
            pts = [r for r in duos if r["large"] == name]
            x = np.array([r["flops_balance"] for r in pts])
            y = np.array([r[key] - base[name][key] for r in pts])
            color = f"C{i % 10}"
            # the report's interval of each difference (at the level its
            # multiplicity control implies); filled: significant, hollow: same
            low = np.array([_num(r.get(f"{key}_low")) for r in pts])
            high = np.array([_num(r.get(f"{key}_high")) for r in pts])
            has = np.isfinite(low) & np.isfinite(high)
            if has.any():
                ax.errorbar(
                    x[has],
                    y[has],
                    yerr=[
                        np.maximum(y[has] - low[has], 0),
                        np.maximum(high[has] - y[has], 0),
                    ],
                    fmt="none",
                    ecolor=color,
                    elinewidth=0.8,
                    alpha=0.6,
                )
            significant = np.array(
                [r.get(f"{key}_verdict") in ("better", "worse") for r in pts],
                dtype=bool,
            )
            ax.scatter(
                x,
                y,
                s=18,
                color=color,
                facecolors=[color if sig else "none" for sig in significant],
                label=name,
            )
        ax.axhline(0.0, color="0.3", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        _no_minor_labels(ax)
        ax.set_xlabel("FLOPs balance")
        better = "higher" if higher else "lower"
        ax.set_title(f"{header}: duo - large ({better} better)")
    fig.suptitle(
        "bars: the report's intervals; filled: significant after its correction",
        fontsize="small",
    )
    if larges:
        axes[0].legend(fontsize="x-small", title="large model")
    return _save(fig, path, dpi=110)
