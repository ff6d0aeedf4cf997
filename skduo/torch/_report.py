"""Compute report of a duo: member costs, FLOPs balance, extra compute."""

from dataclasses import dataclass

from skduo._outputs._torch import _member, _unwrap, is_torch_member
from skduo.torch._flops import _format_count, count_flops

__all__ = ["DuoComputeReport", "duo_compute_report"]


@dataclass(frozen=True)
class DuoComputeReport:
    """Inference cost of a duo's two members.

    Parameters
    ----------
    large_cost : float
        Cost of the large member per sample (multiply-adds by default).
    small_cost : float
        Cost of the small member per sample, in the same unit.
    unit : str, default="MACs"
        Unit of both costs, for display.

    Attributes
    ----------
    total_cost : float
        ``large_cost + small_cost``, the duo's cost per sample (both members run
        on every sample).
    flops_balance : float
        ``small_cost / large_cost``, the paper's FLOPs balance ``r``.
    extra_compute_percent : float
        ``100 * small_cost / large_cost``: the duo's compute on top of the large
        member alone, in percent.

    See Also
    --------
    duo_compute_report : Build the report from a duo.

    Examples
    --------
    >>> from skduo.torch import DuoComputeReport
    >>> report = DuoComputeReport(large_cost=4.089e9, small_cost=1.814e9)
    >>> report
    DuoComputeReport(large=4.089 G MACs, small=1.814 G MACs, flops_balance=0.4436,
                     extra_compute=+44.36%)
    >>> print(report)
    large member     4.089 G MACs per sample
    small member     1.814 G MACs per sample
    duo (total)      5.903 G MACs per sample
    FLOPs balance    0.4436 (small / large)
    extra compute    +44.36% over the large member alone
    """

    large_cost: float
    small_cost: float
    unit: str = "MACs"

    def __post_init__(self):
        for name in ("large", "small"):
            cost = getattr(self, f"{name}_cost")
            try:
                valid = float(cost) >= 0 and cost == cost
            except (TypeError, ValueError):
                valid = False
            if not valid:
                raise ValueError(
                    f"{name}_cost must be a non-negative number; got {cost!r}."
                )
        if float(self.large_cost) == 0:
            raise ValueError("large_cost must be positive; got 0.")

    @property
    def total_cost(self):
        return float(self.large_cost) + float(self.small_cost)

    @property
    def flops_balance(self):
        return float(self.small_cost) / float(self.large_cost)

    @property
    def extra_compute_percent(self):
        return 100.0 * self.flops_balance

    def __repr__(self):
        return (
            f"DuoComputeReport(large={_format_count(self.large_cost)} {self.unit}, "
            f"small={_format_count(self.small_cost)} {self.unit}, "
            f"flops_balance={self.flops_balance:.4g}, "
            f"extra_compute=+{self.extra_compute_percent:.4g}%)"
        )

    def __str__(self):
        per_sample = f"{self.unit} per sample"
        rows = [
            ("large member", f"{_format_count(self.large_cost)} {per_sample}"),
            ("small member", f"{_format_count(self.small_cost)} {per_sample}"),
            ("duo (total)", f"{_format_count(self.total_cost)} {per_sample}"),
            ("FLOPs balance", f"{self.flops_balance:.4g} (small / large)"),
            (
                "extra compute",
                f"+{self.extra_compute_percent:.4g}% over the large member alone",
            ),
        ]
        return "\n".join(f"{label:<16} {value}" for label, value in rows)


def _duo_member(duo, name):
    fitted = getattr(duo, f"{name}_", None)
    return fitted if fitted is not None else getattr(duo, name)


def duo_compute_report(duo=None, X=None, *, large_cost=None, small_cost=None):
    """Report a duo's inference cost: member costs, FLOPs balance, extra compute.

    Costs of torch members (skorch nets, Pipelines ending in one, either wrapped in
    ``FrozenEstimator``) are counted with :func:`count_flops` on an example input;
    any member's cost can instead be given by hand (required for members that are
    not torch nets, e.g. a published "GFLOPs" figure).

    Parameters
    ----------
    duo : DuoClassifier, default=None
        A duo (fitted or not) whose members' costs are counted. May be None when
        both costs are given.
    X : array-like or dict of {"large", "small"}, default=None
        Example input (a few samples; one is enough) as passed to the duo: each
        member's pipeline preprocesses it before its net is counted. A dict gives
        each member its own input. Required for members whose cost is counted.
    large_cost, small_cost : float, default=None
        Cost per sample of each member, which overrides counting. Use the same
        unit for both (multiply-adds unless you say otherwise in your reading).

    Returns
    -------
    DuoComputeReport
        Costs per sample in multiply-adds (MACs), ``flops_balance`` and
        ``extra_compute_percent``.

    Raises
    ------
    ValueError
        If a member's cost can be neither counted (not a torch net, or no ``X``)
        nor taken from ``large_cost`` / ``small_cost``; the message names the
        member.

    See Also
    --------
    count_flops : Count the cost of one module or net.

    Examples
    --------
    Costs set by hand (torchvision's figures for ResNet-50 and ResNet-18):

    >>> from skduo.torch import duo_compute_report
    >>> report = duo_compute_report(large_cost=4.089e9, small_cost=1.814e9)
    >>> round(report.flops_balance, 3), round(report.extra_compute_percent, 1)
    (0.444, 44.4)
    """
    given = {"large": large_cost, "small": small_cost}
    costs = {}
    for name in ("large", "small"):
        if given[name] is not None:
            costs[name] = given[name]
            continue
        if duo is None:
            raise ValueError(
                f"Pass a duo to count the {_member(name)}'s cost, or {name}_cost."
            )
        member = _duo_member(duo, name)
        if not is_torch_member(member):
            _, final = _unwrap(member)
            raise ValueError(
                f"The {_member(name)} ({type(final).__name__}) is not a torch net, "
                f"so its cost cannot be counted; pass {name}_cost=... (e.g. its "
                "multiply-adds per sample)."
            )
        per_member = isinstance(X, dict) and X and set(X) <= {"large", "small"}
        member_X = X.get(name) if per_member else X
        if member_X is None:
            raise ValueError(
                f"Pass an example input X to count the {_member(name)}'s cost, or "
                f"{name}_cost=...."
            )
        costs[name] = count_flops(member, member_X).macs_per_sample
    return DuoComputeReport(large_cost=costs["large"], small_cost=costs["small"])
