"""Plain-text views of a zoo report: tables that fit a width, and conclusions.

Two layouts: the *wide* tables (every metric and the weights, one line per
row, as in the CSV) and the *fitted* ones, grouped by method, that keep the
most telling columns and drop the others until every line fits the given
width (the command line passes the terminal's). The closing conclusions are
computed from the rows alone.
"""

import shutil
import sys
import textwrap

import numpy as np

from skduo.evaluation._metrics import BALANCE_BRACKETS, HEADERS, METRICS

__all__ = []  # private module

#: Metric columns of the fitted tables, most telling first.
PRIORITY = ("nll", "acc", "aurc", "auroc", "ece", "brier", "eaurc", "sac98", "f1")

#: Section titles of the fitted table, in print order.
SECTIONS = (
    ("temperature", "Single models, temperature-scaled"),
    ("asymmetric", "Asymmetric duos (large + sidekick)"),
    ("unweighted", "Unweighted duos (both members temperature-scaled, averaged)"),
    ("uq_only", "UQ-only duos (large model's prediction, duo's confidence)"),
    ("deep_ensemble", "Deep ensembles (pool, then temperature-scale)"),
    ("weighted_ensemble", "Learned-weight ensemble of all models"),
)


def terminal_width(stream=None):
    """Columns to print to: the terminal's, at most 100 when not a terminal."""
    stream = sys.stdout if stream is None else stream
    width = shutil.get_terminal_size((100, 24)).columns
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        width = min(width, 100)
    return max(width, 40)


def wrap(text, width, indent=""):
    """``text`` wrapped at ``width`` columns, continuation lines indented."""
    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_on_hyphens=False,
    )


def columns(lines, left=1):
    """Cells aligned in columns (the first ``left`` left-aligned), header ruled."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for n, line in enumerate(lines):
        cells = [
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths))
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _width_of(lines):
    return sum(
        max(len(line[i]) for line in lines) for i in range(len(lines[0]))
    ) + 2 * (len(lines[0]) - 1)


def pct(value):
    return "-" if value is None or np.isnan(value) else f"{100 * value:.0f}%"


def _nan(value):
    return value is None or (isinstance(value, float) and np.isnan(value))


def scaled(row, key, scale, paper_units):
    value = row[key]
    if _nan(value):
        return "nan"
    if not paper_units:
        return f"{value:.4f}"
    if scale == "brier":
        return f"{1e4 * value / row['n_classes']:.2f}"
    return f"{scale * value:.2f}"


def balance_text(row, paper_units):
    bal = row["flops_balance"]
    if bal is None:
        return "?"
    return f"{100 * bal:.1f}%" if paper_units else f"{bal:.3f}"


def weights_text(weights, limit=None):
    # only an exact 0 prints as 0: a tiny weight on a member with huge logits
    # (e.g. naive Bayes log-probabilities) still weighs in
    cells = ["0" if w == 0 else f"{w:.3g}" for w in weights]
    if limit is not None and len(cells) > limit:
        return f"({len(cells)} weights)"
    return " ".join(cells)


def units_note(paper_units):
    if paper_units:
        return (
            "paper units: Acc/F1/AUROC/SAC/NLL/ECE/AURC/E-AURC x100, Brier x1e4 per "
            "entry, balance in %"
        )
    return "raw units; Brier: multi-class, summed over classes"


def wide_table(rows, paper_units):
    """One line per row: method, model, balance, every metric, the weights."""
    header = ["method", "model", "balance"] + [h for _, h, _, _ in METRICS]
    header += ["weights"]
    lines = [header]
    for row in rows:
        cells = [row["method"], row["name"], balance_text(row, paper_units)]
        cells += [scaled(row, k, s, paper_units) for k, _, _, s in METRICS]
        cells.append(weights_text(row["weights"]))
        lines.append(cells)
    return columns(lines, left=2) + f"\n({units_note(paper_units)})"


def verdict(row, key):
    """+1 / -1 when the duo is significantly better / worse than its large
    model on ``key`` (its ``<key>_verdict``), 0 when not, None without a test."""
    return {"better": 1, "worse": -1, "same": 0}.get(row.get(f"{key}_verdict"))


def significance_text(report):
    """One line: the test, the correction and the family it runs over."""
    if not report.n_resamples:
        return "no significance test (n_resamples=0)"
    alpha = 1 - report.confidence_level
    names = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "no"}
    sizes = {
        (f["n_comparisons"], f["n_duos"], f["n_metrics"])
        for f in report.families.values()
    }
    if len(sizes) == 1:
        n, duos, metrics = sizes.pop()
        undefined = duos * metrics - n
        fams = [
            f"{n} comparisons ({duos} duo{'s' * (duos != 1)} x {metrics} metrics"
            + (f", {undefined} undefined" if undefined else "")
            + ") per duo mode and split"
        ]
    else:
        fams = [
            f"{f['n_comparisons']} comparisons ({f['n_duos']} {f['mode']} "
            f"duo{'s' * (f['n_duos'] != 1)} x "
            f"{f['n_metrics']} metrics on {f['split']})"
            for f in report.families.values()
        ]
    effect = report.min_effect
    band = (
        f"; differences within {effect} are ties"
        if (effect if not isinstance(effect, dict) else any(effect.values()))
        else ""
    )
    return (
        f"paired bootstrap ({report.n_resamples} resamples), bootstrap-SE test of "
        f"each duo against its large model; {names[report.correction]} correction "
        f"at alpha {alpha:g} over " + "; ".join(fams) + band + "; ECE, AUROC "
        "and E-AURC verdicts also need NLL or Brier significant in the same "
        "direction"
    )


def _marked(row, key, text):
    v = verdict(row, key) if f"{key}_low" in row else None
    return text + {1: "+", -1: "-"}.get(v, " ")


def fitted_table(rows, width, *, paper_units=False, hint=None):
    """The rows grouped by method, with the columns that fit ``width``."""
    if not rows:
        return "(no rows)"
    keys = [k for k in PRIORITY]
    scales = {k: s for k, _, _, s in METRICS}
    marked = any(f"{k}_low" in r for r in rows for k in keys)
    dropped = []

    def build(keys, show_weights, show_balance, name_limit):
        blocks = []
        for method, title in SECTIONS:
            part = [r for r in rows if r["method"] == method]
            if not part:
                continue
            single = method == "temperature"
            balance = show_balance and not single
            header = ["model" if single else "members"]
            header += ["balance"] if balance else []
            header += [HEADERS[k] + (" " if marked else "") for k in keys]
            header += ["weights"] if show_weights else []
            lines = [header]
            for r in part:
                name = r["name"]
                if name_limit is not None and len(name) > name_limit:
                    name = name[: max(name_limit - 3, 1)] + "..."
                cells = [name] + ([balance_text(r, paper_units)] if balance else [])
                for k in keys:
                    text = scaled(r, k, scales[k], paper_units)
                    cells.append(_marked(r, k, text) if marked else text)
                if show_weights:
                    cells.append(weights_text(r["weights"], limit=2))
                lines.append(cells)
            blocks.append((title, lines))
        return blocks

    def widest(blocks):
        return max(_width_of(lines) for _, lines in blocks)

    # drop the weights, then metrics (least telling first, keeping two), then
    # the balance column; shorten the names last
    show_weights, show_balance, name_limit = True, True, None
    blocks = build(keys, show_weights, show_balance, name_limit)
    while widest(blocks) > width:
        if show_weights:
            show_weights = False
            dropped.append("weights")
        elif len(keys) > 2:
            dropped.append(HEADERS[keys.pop()])
        elif show_balance:
            show_balance = False
            dropped.append("balance")
        else:
            longest = max(len(r["name"]) for r in rows)
            name_limit = max(8, (name_limit or longest) - (widest(blocks) - width))
            if name_limit == 8:
                blocks = build(keys, show_weights, show_balance, name_limit)
                break
        blocks = build(keys, show_weights, show_balance, name_limit)
    out = []
    for title, lines in blocks:
        out.append(wrap(title + ":", width))
        out.append(columns(lines, left=1))
        out.append("")
    notes = [units_note(paper_units)]
    if marked:
        notes.append(
            "+ / -: significantly better / worse than the large model "
            "temperature-scaled alone (paired bootstrap)"
        )
    if dropped:
        names = ["weights"] + [HEADERS[k] for k in PRIORITY] + ["balance"]
        order = [h for h in names if h in dropped]
        notes.append("not shown: " + ", ".join(order) + (f"; {hint}" if hint else ""))
    out += [wrap(f"({note})", width) for note in notes]
    return "\n".join(out)


def wide_harm_table(entries, significance):
    """Raw harm rates, then (with significance) worse / n.s. / better shares."""
    header = ["balance", "n"] + [h for _, h, _, _ in METRICS]
    lines = [header]
    for e in entries:
        cells = [e["bracket"], str(e["n_duos"])]
        cells += [pct(e[key]) for key, *_ in METRICS]
        lines.append(cells)
    text = columns(lines)
    if not significance:
        return text
    lines = [["balance", "n"] + [h for _, h, _, _ in METRICS]]
    for e in entries:
        cells = [e["bracket"], str(e["n_duos"])]
        for key, *_ in METRICS:
            parts = [e.get(f"{key}_{s}") for s in ("worse", "same", "better")]
            cells.append("/".join("-" if _nan(v) else f"{100 * v:.0f}" for v in parts))
        lines.append(cells)
    return (
        text + "\nSignificantly worse / not significantly different / significantly "
        "better (% of duos):\n" + columns(lines)
    )


def fitted_harm_table(entries, width, significance):
    """One line per metric, one column per balance bracket."""
    header = ["metric"] + [f"{e['bracket']} ({e['n_duos']})" for e in entries]
    lines = [header]
    for key, head, _, _ in METRICS:
        cells = [head]
        for e in entries:
            if significance:
                worse, better = e.get(f"{key}_worse"), e.get(f"{key}_better")
                parts = [e[key], worse, better]
                cells.append(
                    "/".join("-" if _nan(v) else f"{100 * v:.0f}" for v in parts)
                )
            else:
                cells.append(pct(e[key]))
        lines.append(cells)
    # drop brackets (never 'all') until it fits
    while _width_of(lines) > width and len(lines[0]) > 2:
        for line in lines:
            del line[-2]
    return columns(lines)


def _positive(row):
    """Both members of a duo weigh in (see ``zero_weight_members``)."""
    if "zero_weight" in row:
        return not row["zero_weight"]
    top = max(row["weights"])
    return top > 0 and min(row["weights"]) > 1e-6 * top


def _pick(rows, split, large, budget):
    """The candidate duo for ``large``, by validation NLL (never test data).

    Returns ``(base, best, duos, degenerate)``: ``best`` is the in-budget duo
    with both weights positive and the lowest validation NLL, if it beats the
    large model alone there; ``degenerate`` the in-budget duo of lowest
    validation NLL when it puts weight 0 on a member (it is the other alone).
    """
    base = next(
        (
            r
            for r in rows
            if r["method"] == "temperature"
            and r["large"] == large
            and r["split"] == split
        ),
        None,
    )
    duos = [
        r
        for r in rows
        if r["method"] == "asymmetric" and r["large"] == large and r["split"] == split
    ]
    if base is None or not duos:
        return base, None, duos, None
    in_budget = [
        r
        for r in duos
        if budget is None
        or (
            r["flops_balance"] is not None
            and 100 * r["flops_balance"] <= budget * (1 + 1e-12)
        )
    ]
    lowest = min(in_budget, key=lambda r: r["val_nll"], default=None)
    degenerate = lowest if lowest and not _positive(lowest) else None
    eligible = [r for r in in_budget if _positive(r)]
    best = min(eligible, key=lambda r: r["val_nll"], default=None)
    if best is not None and best["val_nll"] >= base["val_nll"]:
        best = None
    return base, best, duos, degenerate


def _default_large(rows):
    """The most expensive model; None without costs (roles never from names)."""
    singles = [r for r in rows if r["method"] == "temperature"]
    if not singles or any(r["cost"] is None for r in singles):
        return None
    return max(singles, key=lambda r: r["cost"])["large"]


def _tag(row, key):
    v = verdict(row, key)
    return {
        1: "significantly better",
        -1: "significantly worse",
        0: "not significant",
    }.get(v, "no test")


def _change(base, row, key):
    if key == "acc":
        a, b = f"{100 * base[key]:.1f}%", f"{100 * row[key]:.1f}%"
    else:
        a, b = f"{base[key]:.4f}", f"{row[key]:.4f}"
    return f"{HEADERS[key]} {a} -> {b} ({_tag(row, key)})"


def conclusions(
    report, *, large=None, budget=None, split="test", width=100, brief=False
):
    """A few plain-language lines on what the report says.

    Which sidekick to use for ``large`` (chosen by validation NLL within
    ``budget`` percent of extra compute), what it gains and where it harms on
    ``split``, whether the gain is refinement or recalibration, and how often
    duos are significantly worse than their large model. ``brief``: the
    recommended duo's changes and the overall harm only (for a second split).
    """
    rows = report.rows
    if not any(r["split"] == split for r in rows):
        return ""
    large = large or _default_large([r for r in rows if r["split"] == split])
    sig = bool(report.n_resamples)
    out = []
    title = f"On {split} (" if brief else f"What to conclude ({split} split; "
    out.append(wrap(f"{title}{significance_text(report)}):", width))
    within = "" if budget is None else f" within +{budget:g}% compute"
    if large is None:
        if not brief:
            out.append(
                wrap(
                    "- Not every model has a cost, so skduo does not say which is "
                    "the large model and which the sidekick (roles never come from "
                    "names): every ordered pair is in the tables. Name the large "
                    "model (--large, large=) or give every model a cost "
                    "(costs.json) for a recommendation.",
                    width,
                )
            )
        base = best = None
        duos = []
    else:
        base, best, duos, degenerate = _pick(rows, split, large, budget)
    if base is None:
        pass
    elif not duos:
        if not brief:
            out.append(wrap(f"- {large} has no cheaper model to pair with.", width))
    else:
        if degenerate is not None and not brief:
            zero = degenerate.get("zero_weight") or [
                (large, degenerate["small"])[int(np.argmin(degenerate["weights"]))]
            ]
            zero = zero[0]
            alone = degenerate["small"] if zero == large else large
            out.append(
                wrap(
                    f"- {large} + {degenerate['small']} (lowest validation NLL"
                    f"{within}) puts weight 0 on {zero}: it is {alone} alone, "
                    "not a duo, and is not recommended as one.",
                    width,
                )
            )
        confirmed = best is not None and sig and best.get("nll_verdict") == "better"
        if confirmed or (brief and best is not None):
            extra = (
                "unknown extra compute"
                if best["flops_balance"] is None
                else f"+{100 * best['flops_balance']:.1f}% compute"
            )
            lead = (
                f"- The duo chosen by validation NLL, {large} + {best['small']}, "
                f"on {split}: "
                if brief
                else f"- Use {large} with the sidekick {best['small']} ({extra}; "
                f"chosen by validation NLL{within}, significantly better on "
                f"{split} NLL). On {split}: "
            )
            out.append(
                wrap(
                    lead
                    + ", ".join(
                        _change(base, best, k) for k in ("nll", "aurc", "auroc", "acc")
                    )
                    + ".",
                    width,
                )
            )
            harms = [HEADERS[k] for k, *_ in METRICS if verdict(best, k) == -1]
            out.append(
                wrap(
                    "  It is significantly worse on " + ", ".join(harms) + "."
                    if harms
                    else "  It is not significantly worse on any metric.",
                    width,
                )
            )
            if not brief:
                out.append(wrap("  " + _gain_source(base, best, large), width))
        elif brief:
            pass  # said for the first split
        elif best is None:
            out.append(
                wrap(
                    f"- No sidekick helps {large}{within}: none with both weights "
                    f"positive lowers its validation NLL. Keep {large} alone, "
                    "temperature-scaled.",
                    width,
                )
            )
        else:
            why = (
                f"it is not significantly better on {split} NLL "
                f"({_change(base, best, 'nll')}"
                + (
                    f", adjusted p {best['nll_p_adj']:.3g})"
                    if not _nan(best.get("nll_p_adj"))
                    else ")"
                )
                if sig
                else "there is no significance test to confirm it (n_resamples=0)"
            )
            out.append(
                wrap(
                    f"- No sidekick helps {large}{within or ' at this budget'}: "
                    f"the best by validation NLL, {best['small']}, is no "
                    f"recommendation because {why}. Keep {large} alone, "
                    "temperature-scaled.",
                    width,
                )
            )
    entries = {e["bracket"]: e for e in report.harm_rates("asymmetric", split)}
    every = entries.get("all")
    if every and every["n_duos"]:
        keys = ("nll", "aurc", "auroc", "acc")
        if sig:
            worse = ", ".join(f"{pct(every[f'{k}_worse'])} {HEADERS[k]}" for k in keys)
            better = ", ".join(
                f"{pct(every[f'{k}_better'])} {HEADERS[k]}" for k in keys
            )
            raw = ", ".join(f"{pct(every[k])} {HEADERS[k]}" for k in keys)
            out.append(
                wrap(
                    f"- {_of_all(every['n_duos'])}, significantly worse than their "
                    f"large model alone: {worse}; significantly better: {better} "
                    f"(merely worse on {split}, noise included: {raw}).",
                    width,
                )
            )
            wide = [
                e
                for label, lo, _ in BALANCE_BRACKETS
                if lo >= 0.05 and (e := entries.get(label))
            ]
            n_wide = sum(e["n_duos"] for e in wide)
            if n_wide and not brief:
                shares = []
                for k in ("nll", "aurc"):
                    harmed = sum(e[f"{k}_worse"] * e[f"{k}_n"] for e in wide)
                    compared = sum(e[f"{k}_n"] for e in wide)
                    shares.append(
                        f"{pct(harmed / compared if compared else float('nan'))} "
                        f"{HEADERS[k]}"
                    )
                out.append(
                    wrap(
                        f"- At FLOPs balance >= 0.05 ({n_wide} "
                        f"duo{'s' * (n_wide != 1)}): significant harm in "
                        f"{' and '.join(shares)}.",
                        width,
                    )
                )
        else:
            raw = ", ".join(f"{pct(every[k])} {HEADERS[k]}" for k in keys)
            out.append(
                wrap(
                    f"- {_of_all(every['n_duos'])}, worse than their large model "
                    f"alone on {split}: {raw}.",
                    width,
                )
            )
    return "\n".join(out)


def _of_all(n_duos):
    """'Of all 12 duos' / 'Of the one duo' (never '1 duos')."""
    return "Of the one duo" if n_duos == 1 else f"Of all {n_duos} duos"


def _gain_source(base, duo, large):
    """Whether the NLL gain is refinement (information) or recalibration."""
    keys = ("nll_refinement", "nll_calibration")
    if any(_nan(base.get(k)) or _nan(duo.get(k)) for k in keys):
        return ""
    gain = base["nll"] - duo["nll"]
    ref = base["nll_refinement"] - duo["nll_refinement"]
    split = (
        f"Its NLL splits into calibration {base['nll_calibration']:.4f} -> "
        f"{duo['nll_calibration']:.4f} (what the best temperature on these rows "
        f"removes) and refinement {base['nll_refinement']:.4f} -> "
        f"{duo['nll_refinement']:.4f}"
    )
    if gain <= 0:
        return split + "; the duo does not lower the NLL here."
    if ref >= 0.5 * gain:
        return (
            f"{split}: the gain is refinement, information {large} lacked that no "
            "recalibration of it could add."
        )
    return (
        f"{split}: the gain is mostly recalibration, which a better temperature "
        f"for {large} alone would give too."
    )
