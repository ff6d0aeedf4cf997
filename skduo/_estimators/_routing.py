"""Metadata routing of the estimators' ``fit``: weights, groups, fit params.

With scikit-learn's metadata routing enabled, ``sample_weight`` is the weight
fit's own request, unfitted members receive the ``fit`` parameters they request
and the cross-fitting splitter (``cv``) what its ``split`` requests (``groups``
for ``GroupKFold``). Without routing, ``sample_weight`` goes to every unfitted
member whose ``fit`` accepts it and ``groups`` to the splitter, as in
:func:`~sklearn.model_selection.cross_validate`; other fit parameters need
routing.
"""

from sklearn import get_config
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.validation import has_fit_parameter

from skduo._outputs._inputs import n_samples, take_rows
from skduo._outputs._member import is_fitted

__all__ = ["fit_router", "route_fit_params", "rows_of"]


def fit_router(owner, named):
    """The :class:`~sklearn.utils.metadata_routing.MetadataRouter` of ``owner.fit``.

    ``sample_weight`` is ``owner``'s own request (the weight fit); each
    unfitted member's ``fit`` gets what it requests; the splitter ``owner.cv``
    gets what its ``split`` requests. Fitted members are never fitted, so
    nothing is routed to them.
    """
    router = MetadataRouter(owner=owner).add_self_request(owner)
    for name, est in named:
        if not is_fitted(est):
            router.add(
                **{name: est},
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
    return router.add(
        cv=owner.cv,
        method_mapping=MethodMapping().add(caller="fit", callee="split"),
    )


def route_fit_params(owner, named, fitted, sample_weight, groups, fit_params):
    """``fit`` keyword arguments of each unfitted member, and of ``cv.split``."""
    if get_config().get("enable_metadata_routing", False):
        params = {"sample_weight": sample_weight, "groups": groups, **fit_params}
        params = {k: v for k, v in params.items() if v is not None}
        routed = process_routing(owner, "fit", **params)
        members = {
            name: dict(routed[name].fit) for name, _ in named if not fitted[name]
        }
        return members, dict(routed.cv.split)
    if fit_params:
        raise TypeError(
            f"{type(owner).__name__}.fit got unexpected argument(s) "
            f"{sorted(fit_params)}: parameters for the members' fit are "
            "routed only with metadata routing enabled "
            "(sklearn.set_config(enable_metadata_routing=True) and the "
            "members' set_fit_request)."
        )
    members = {}
    if sample_weight is not None:
        # without routing, as before: every unfitted member that accepts it
        members = {
            name: {"sample_weight": sample_weight}
            for name, est in named
            if not fitted[name] and has_fit_parameter(est, "sample_weight")
        }
    return members, ({} if groups is None else {"groups": groups})


def rows_of(params, indices, n_rows):
    """Fit parameters for a subset of rows: per-sample values are subset."""
    out = {}
    for key, value in params.items():
        try:
            per_sample = not isinstance(value, (str, dict)) and (
                n_samples(value) == n_rows
            )
        except TypeError:  # a scalar or an object without rows
            per_sample = False
        if per_sample:
            value = take_rows(value, indices)
        out[key] = value
    return out
