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

from skduo.evaluation import evaluate_zoo
from skduo.evaluation._demo import build_digits_zoo

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
    return out


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
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps({"pooled": pooled, "per_seed": results}, indent=1) + "\n"
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
