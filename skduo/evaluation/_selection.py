"""Choosing a sidekick under a compute budget, by validation NLL only."""

from dataclasses import dataclass

import numpy as np

from skduo._arrays._fits import fit_duo, fit_temperature

__all__ = ["SidekickSelection", "select_sidekick"]


def logit_scale(z):
    """Typical spread of a member's logits: the median over rows of max - min."""
    z = np.asarray(z)
    return float(np.median(z.max(axis=1) - z.min(axis=1))) if z.size else 0.0


def zero_weight_members(weights, scales):
    """Positions of members whose weight is 0 in effect.

    A member's contribution to the combined logits is its weight times its
    :func:`logit_scale`; a weight of exactly 0, or a contribution at most
    1e-6 of the largest one, makes the duo the other member alone.
    """
    contrib = [w * s for w, s in zip(weights, scales)]
    top = max(contrib + [0.0])
    return [
        i for i, (w, c) in enumerate(zip(weights, contrib)) if w <= 0 or c <= 1e-6 * top
    ]


@dataclass
class SidekickSelection:
    """Result of :func:`select_sidekick`.

    Parameters
    ----------
    large : str
        The large model.
    budget : float
        Extra compute allowed, in percent of the large model's cost.
    baseline_val_nll : float
        Validation NLL of the large model temperature-scaled alone.
    candidates : list of dict
        Every cheaper model, sorted by cost: ``name``, ``cost``,
        ``flops_balance``, ``within_budget``, ``val_nll`` (of the duo),
        ``val_nll_gain`` (baseline minus duo), ``weights``.
    chosen : str or None
        The in-budget candidate whose duo has the lowest validation NLL among
        those with both weights positive (a duo with a zero weight is one
        member alone), or None when there is none. Chosen on validation data
        only: whether it helps on test is :func:`evaluate_zoo`'s verdict.

    Examples
    --------
    >>> from skduo.evaluation import SidekickSelection
    >>> sel = SidekickSelection("big", 20.0, 0.5, [], None)
    >>> sel.to_dict()["chosen"] is None
    True
    """

    large: str
    budget: float
    baseline_val_nll: float
    candidates: list
    chosen: str | None

    def to_dict(self):
        """The selection as a JSON-friendly dict."""
        return {
            "large": self.large,
            "budget_percent": self.budget,
            "baseline_val_nll": self.baseline_val_nll,
            "chosen": self.chosen,
            "candidates": self.candidates,
        }

    def format(self, width=None):
        """The trade-off as a text table, the recommendation last.

        Parameters
        ----------
        width : int, default=None
            Wrap the title and the recommendation at this width.

        Returns
        -------
        str
        """
        from skduo.evaluation._format import columns, weights_text, wrap

        def fill(text):
            return text if width is None else wrap(text, width)

        lines = [
            fill(
                f"Sidekick for {self.large!r} within +{self.budget:g}% compute "
                f"(validation NLL of {self.large} alone, temperature-scaled: "
                f"{self.baseline_val_nll:.4f}):"
            )
        ]
        table = [["  sidekick", "extra", "val NLL", "gain", "weights", ""]]
        for c in self.candidates:
            mark = "*" if c["name"] == self.chosen else " "
            gain = c["val_nll_gain"]
            table.append(
                [
                    f"{mark} {c['name']}",
                    f"{100 * c['flops_balance']:.1f}%",
                    f"{c['val_nll']:.4f}",
                    "0" if abs(gain) < 5e-5 else f"{gain:+.4f}",
                    weights_text(c["weights"]),
                    "" if c["within_budget"] else "(over budget)",
                ]
            )
        text = columns(table, left=1).splitlines()
        if width is not None and max(len(line) for line in text) > width:
            for row in table:  # drop the weights
                del row[4]
            text = columns(table, left=1).splitlines()
        lines.append(text[0])
        lines += text[2:]  # no rule under the header
        if self.chosen is None:
            lines.append(
                fill(
                    "Candidate: none (no sidekick in budget makes a duo with both "
                    "weights positive)."
                )
            )
        else:
            lines.append(
                fill(
                    f"Candidate: {self.chosen!r} (lowest validation NLL in budget, "
                    "both weights positive); whether it helps on test is the "
                    "report's verdict."
                )
            )
        return "\n".join(lines)


def select_sidekick(zoo, large, *, budget):
    """Recommend a sidekick for ``large`` within a compute budget.

    Every model cheaper than ``large`` is paired with it and the duo fitted on
    the validation split; the recommendation is the duo with the lowest
    validation NLL among the sidekicks whose cost is at most ``budget`` percent
    of the large model's. Test data are never used.

    Parameters
    ----------
    zoo : LogitZoo
        The models; all need a cost.
    large : str
        Name of the large model.
    budget : float
        Extra compute allowed, in percent of the large model's cost (e.g. 20).

    Returns
    -------
    SidekickSelection

    Examples
    --------
    >>> import numpy as np
    >>> from skduo.evaluation import LogitZoo, select_sidekick
    >>> rng = np.random.default_rng(0)
    >>> y_val, y_test = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    >>> zoo = LogitZoo(y_val, y_test)
    >>> for name, cost, s in [("big", 100, 2.0), ("mid", 30, 1.5), ("tiny", 5, 1.0)]:
    ...     zoo.add(name, val=rng.normal(size=(300, 3)) + s * np.eye(3)[y_val],
    ...             test=rng.normal(size=(300, 3)) + s * np.eye(3)[y_test], cost=cost)
    >>> sel = select_sidekick(zoo, "big", budget=10)
    >>> sel.chosen, [c["within_budget"] for c in sel.candidates]
    ('tiny', [True, False])
    """
    if large not in zoo.models:
        raise ValueError(f"Unknown model {large!r}; the zoo has {list(zoo.models)}.")
    budget = float(budget)
    if not budget >= 0:
        raise ValueError(f"budget must be a non-negative percentage; got {budget}.")
    missing = [n for n, m in zoo.models.items() if m.cost is None]
    if missing:
        raise ValueError(
            f"Sidekick selection needs every model's cost; missing for {missing}."
        )
    y_val = zoo.labels["val"]
    big = zoo.models[large]
    baseline = fit_temperature(
        big.logits["val"], y_val, outputs="logits", prior=None
    ).validation_nll
    candidates = []
    for name, model in sorted(zoo.models.items(), key=lambda kv: kv[1].cost):
        if name == large or model.cost >= big.cost:
            continue
        duo = fit_duo(
            big.logits["val"], model.logits["val"], y_val, outputs="logits", prior=None
        )
        balance = model.cost / big.cost
        scales = [logit_scale(big.logits["val"]), logit_scale(model.logits["val"])]
        candidates.append(
            {
                "name": name,
                "cost": model.cost,
                "flops_balance": balance,
                "within_budget": bool(100 * balance <= budget * (1 + 1e-12)),
                "val_nll": duo.validation_nll,
                "val_nll_gain": baseline - duo.validation_nll,
                "weights": [float(w) for w in duo.weights],
                "zero_weight": [
                    (large, name)[i] for i in zero_weight_members(duo.weights, scales)
                ],
            }
        )
    eligible = [c for c in candidates if c["within_budget"] and not c["zero_weight"]]
    chosen = min(eligible, key=lambda c: c["val_nll"])["name"] if eligible else None
    return SidekickSelection(large, budget, baseline, candidates, chosen)
