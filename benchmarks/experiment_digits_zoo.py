"""Evidence on the digits zoo: does the sidekick help, and how does a duo compare
with a 2-member deep ensemble of the large architecture?

For each seed the demo zoo (``python -m skduo demo``: sklearn models and small
CPU CNNs on ``load_digits``, split 50/25/25) is trained, every (large, small)
pair with cost(small) < cost(large) is fitted as an asymmetric duo on the
validation split, and on the test split we count

* the fraction of duos whose NLL is <= that of the temperature-scaled large
  model (target >= 90%), and the same for AURC (target >= 85%); differences
  below 1e-6 relative count as ties (a duo whose sidekick weight is 0 is the
  large model, reached through a different optimiser path), and the strict
  count is reported too;
* the pairs where the duo loses, with their FLOPs balance;
* **significant** harm: with a paired bootstrap over the test rows (1,000
  resamples, 95%; :func:`skduo.evaluation.evaluate_zoo`'s comparisons), the
  share of duos significantly worse / not significantly different /
  significantly better than their temperature-scaled large model on NLL,
  AURC, correctness AUROC and accuracy, overall and at FLOPs balance >= 0.05,
  pooled over the seeds, and the paper-style statement that follows. Target,
  stated before running: significant harm in <= 5% of duos for NLL and AURC at
  balance >= 0.05;
* for each architecture trained twice (``mlp32``, ``cnn16``): the pool-then-
  calibrate 2-member deep ensemble (FLOPs balance 1) against every duo with the
  first seed as the large model (balance < 1), and against the duo picked by
  validation NLL.

Run::

    python benchmarks/experiment_digits_zoo.py [--seeds 0 1 2] [--quick]
        [--output skduo_output/experiment_digits_zoo.json]

Never collected by pytest (no test_ prefix). Results go to the JSON file and
stdout.
"""

import argparse
import json
import time
from pathlib import Path

from skduo.evaluation import BALANCE_BRACKETS, evaluate_zoo
from skduo.evaluation._demo import build_digits_zoo

#: metrics of the significant-harm count, and the target of issue 15
SIG_METRICS = (("nll", "NLL"), ("aurc", "AURC"), ("auroc", "AUROC"), ("acc", "Acc"))
TARGET = 0.05  # significant harm in <= 5% of duos, NLL and AURC, balance >= 0.05

LOWER_BETTER = ("nll", "aurc", "brier", "ece")
HIGHER_BETTER = ("acc", "auroc")


RTOL = 1e-6  # relative differences below this are round-off ties


def _compare(a, b, key):
    """+1 if a is better than b on key, 0 if tied (within RTOL), -1 if worse."""
    if abs(a[key] - b[key]) <= RTOL * abs(b[key]):
        return 0
    better = a[key] < b[key] if key in LOWER_BETTER else a[key] > b[key]
    return 1 if better else -1


def _worse_or_equal(a, b, key):
    """Exact comparison: a is at least as good as b on key."""
    return a[key] <= b[key] if key in LOWER_BETTER else a[key] >= b[key]


def analyse(report, split="test"):
    rows = [r for r in report.rows if r["split"] == split]
    base = {r["large"]: r for r in rows if r["method"] == "temperature"}
    duos = [r for r in rows if r["method"] == "asymmetric"]
    out = {"n_duos": len(duos)}
    for key in ("nll", "aurc", "acc", "ece", "auroc"):
        ok = [r for r in duos if _compare(r, base[r["large"]], key) >= 0]
        out[f"frac_duo_{key}_not_worse"] = len(ok) / len(duos)
        strict = [r for r in duos if _worse_or_equal(r, base[r["large"]], key)]
        out[f"frac_duo_{key}_not_worse_strict"] = len(strict) / len(duos)
    out["losses"] = [
        {
            "large": r["large"],
            "small": r["small"],
            "flops_balance": r["flops_balance"],
            "metric": key,
            "duo": r[key],
            "large_ts": base[r["large"]][key],
            "w_small": r["weights"][1],
        }
        for r in duos
        for key in ("nll", "aurc")
        if _compare(r, base[r["large"]], key) < 0
    ]
    ensembles = []
    for de in (r for r in rows if r["method"] == "deep_ensemble"):
        if len(de["members"]) != 2:
            continue
        large = de["large"]
        own = [r for r in duos if r["large"] == large]
        if not own:
            continue
        by_val = min(own, key=lambda r: r["val_nll"])
        entry = {
            "large": large,
            "deep_ensemble": {
                k: de[k] for k in ("nll", "aurc", "acc", "ece", "auroc", "cost")
            },
            "large_ts": {k: base[large][k] for k in ("nll", "aurc", "acc", "auroc")},
            "duo_chosen_by_val_nll": {
                k: by_val[k]
                for k in ("small", "flops_balance", "nll", "aurc", "acc", "auroc")
            },
            "n_duos": len(own),
        }
        for key in ("nll", "aurc", "acc", "auroc"):
            entry[f"duos_beating_de_on_{key}"] = sum(
                _compare(r, de, key) > 0 for r in own
            )
        ensembles.append(entry)
    out["deep_ensemble_vs_duo"] = ensembles
    out["significance"] = significance(report, split)
    return out


def significance(report, split="test"):
    """Counts of significantly worse / n.s. / better duos, overall and >= 0.05."""
    entries = report.harm_rates("asymmetric", split)
    wide = {label for label, lo, _ in BALANCE_BRACKETS if lo >= 0.05}
    out = {}
    for scope, chosen in (
        ("all", [e for e in entries if e["bracket"] == "all"]),
        ("balance>=0.05", [e for e in entries if e["bracket"] in wide]),
    ):
        out[scope] = {}
        for key, _ in SIG_METRICS:
            n = sum(e[f"{key}_n"] for e in chosen)
            counts = {
                v: round(sum(e[f"{key}_{v}"] * e[f"{key}_n"] for e in chosen))
                for v in ("worse", "same", "better")
            }
            raw = round(sum(e[key] * e["n_duos"] for e in chosen))
            out[scope][key] = {"n": n, "raw_worse": raw, **counts}
    return out


def _pooled_significance(results):
    pooled = {}
    for res in results:
        for scope, per_metric in res["significance"].items():
            for key, counts in per_metric.items():
                acc = pooled.setdefault(scope, {}).setdefault(key, {})
                for name, value in counts.items():
                    acc[name] = acc.get(name, 0) + value
    return pooled


def _share(counts, name):
    return counts[name] / counts["n"] if counts["n"] else float("nan")


def _print_significance(pooled, n_seeds):
    print(
        "significant harm (95% paired bootstrap over the test rows, 1,000 "
        "resamples), pooled over the seeds:"
    )
    for scope, per_metric in pooled.items():
        n = next(iter(per_metric.values()))["n"]
        cells = ", ".join(
            f"{head} {100 * _share(per_metric[key], 'worse'):.1f}% worse / "
            f"{100 * _share(per_metric[key], 'better'):.1f}% better "
            f"(raw worse {100 * _share(per_metric[key], 'raw_worse'):.1f}%)"
            for key, head in SIG_METRICS
        )
        print(f"  {scope} ({n} duos): {cells}")
    wide = pooled.get("balance>=0.05")
    if not wide or not wide["nll"]["n"]:
        print("no duo at balance >= 0.05: the target cannot be checked")
        return
    nll, aurc = _share(wide["nll"], "worse"), _share(wide["aurc"], "worse")
    met = nll <= TARGET and aurc <= TARGET
    every = pooled["all"]
    print(
        f"target (stated up front): significant harm in <= {100 * TARGET:.0f}% of "
        f"duos for NLL and AURC at balance >= 0.05: NLL {100 * nll:.1f}%, AURC "
        f"{100 * aurc:.1f}% -> {'MET' if met else 'NOT MET'}"
    )
    print(
        f"statement: over {n_seeds} seed(s) of the digits zoo ({every['nll']['n']} "
        "asymmetric duos), adding a sidekick made the temperature-scaled large "
        f"model significantly worse in {100 * _share(every['nll'], 'worse'):.1f}% "
        f"of duos on NLL, {100 * _share(every['aurc'], 'worse'):.1f}% on AURC, "
        f"{100 * _share(every['auroc'], 'worse'):.1f}% on correctness AUROC and "
        f"{100 * _share(every['acc'], 'worse'):.1f}% on accuracy "
        f"({100 * nll:.1f}% and {100 * aurc:.1f}% on NLL and AURC at FLOPs "
        "balance >= 0.05), and significantly better in "
        f"{100 * _share(every['nll'], 'better'):.1f}% (NLL) and "
        f"{100 * _share(every['aurc'], 'better'):.1f}% (AURC); the rest of the "
        "raw 'worse' counts are within sampling noise of the test split."
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="sklearn-only zoo")
    parser.add_argument(
        "--output", default="skduo_output/experiment_digits_zoo.json", type=Path
    )
    args = parser.parse_args()
    results = []
    for seed in args.seeds:
        start = time.perf_counter()
        zoo = build_digits_zoo(quick=args.quick, seed=seed)
        report = evaluate_zoo(zoo, ood=False)
        res = analyse(report)
        res["seed"] = seed
        res["seconds"] = time.perf_counter() - start
        results.append(res)
        sig = res["significance"]["all"]
        print(
            f"seed {seed}: significantly worse (of {sig['nll']['n']}): "
            + ", ".join(f"{head} {sig[key]['worse']}" for key, head in SIG_METRICS)
            + "; significantly better: "
            + ", ".join(f"{head} {sig[key]['better']}" for key, head in SIG_METRICS)
        )
        print(
            f"seed {seed}: {res['n_duos']} duos; test NLL <= TS large in "
            f"{100 * res['frac_duo_nll_not_worse']:.1f}%, AURC in "
            f"{100 * res['frac_duo_aurc_not_worse']:.1f}%, Acc in "
            f"{100 * res['frac_duo_acc_not_worse']:.1f}%, ECE in "
            f"{100 * res['frac_duo_ece_not_worse']:.1f}% (exact comparison: NLL "
            f"{100 * res['frac_duo_nll_not_worse_strict']:.1f}%, AURC "
            f"{100 * res['frac_duo_aurc_not_worse_strict']:.1f}%)  "
            f"({res['seconds']:.0f}s)",
            flush=True,
        )
        for loss in res["losses"]:
            print(
                f"    loses on {loss['metric']}: {loss['large']} + {loss['small']} "
                f"(balance {loss['flops_balance']:.3f}, w_small "
                f"{loss['w_small']:.3g}): {loss['duo']:.4f} vs "
                f"{loss['large_ts']:.4f}"
            )
        for e in res["deep_ensemble_vs_duo"]:
            de, d, b = e["deep_ensemble"], e["duo_chosen_by_val_nll"], e["large_ts"]
            print(
                f"    {e['large']}: TS NLL {b['nll']:.4f} AURC {b['aurc']:.4f} "
                f"Acc {b['acc']:.4f} | DE m=2 (balance 1) NLL {de['nll']:.4f} "
                f"AURC {de['aurc']:.4f} Acc {de['acc']:.4f} | duo + {d['small']} "
                f"(balance {d['flops_balance']:.3f}, by val NLL) NLL "
                f"{d['nll']:.4f} AURC {d['aurc']:.4f} Acc {d['acc']:.4f}; "
                f"duos beating DE on NLL {e['duos_beating_de_on_nll']}/{e['n_duos']}"
                f", AURC {e['duos_beating_de_on_aurc']}/{e['n_duos']}"
            )
    n = sum(r["n_duos"] for r in results)
    pooled = {
        f"{key}{suffix}": sum(
            r[f"frac_duo_{key}_not_worse{suffix}"] * r["n_duos"] for r in results
        )
        / n
        for key in ("nll", "aurc", "acc", "ece", "auroc")
        for suffix in ("", "_strict")
    }
    print(
        f"all seeds: {n} duos; NLL not worse {100 * pooled['nll']:.1f}% (target >= "
        f"90%), AURC not worse {100 * pooled['aurc']:.1f}% (target >= 85%); "
        f"Acc {100 * pooled['acc']:.1f}%, ECE {100 * pooled['ece']:.1f}%, AUROC "
        f"{100 * pooled['auroc']:.1f}%; exact comparison: NLL "
        f"{100 * pooled['nll_strict']:.1f}%, AURC {100 * pooled['aurc_strict']:.1f}%"
    )
    sig = _pooled_significance(results)
    _print_significance(sig, len(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {"pooled": pooled, "pooled_significance": sig, "per_seed": results},
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
