"""ONNX conversion of skduo's estimators with skl2onnx.

``import skduo.onnx`` registers a shape calculator and a converter for
:class:`~skduo.DuoClassifier`, :class:`~skduo.TemperatureScalingClassifier` and
:class:`~skduo.WeightedEnsembleClassifier` with skl2onnx; then
``skl2onnx.to_onnx(duo, X[:1].astype(np.float32))`` converts a fitted duo like
any classifier (outputs ``label`` and ``probabilities``; the usual ``zipmap``
option applies). ``import skduo`` never imports this module (nor skl2onnx).

The members must be models skl2onnx converts (they are converted by their own
converters, inside the duo's graph). Each member's logits are built as the
estimator builds them: ``decision_function`` outputs through the converter's
``raw_scores`` option (binary scores ``s`` as the logits ``(0, s)``),
``predict_proba`` (and ``predict_log_proba``) outputs by the logarithm of the
converted probabilities, exact zeros at the value the estimator uses
(``log`` of the smallest positive normal number of the member's output
dtype). Naive Bayes members, read through
``predict_log_proba``, cannot be converted: their log-probabilities reach
``-1e9``, which skl2onnx's float32 probabilities cannot hold (``-87`` is the
floor); fit the duo with ``response_method='predict_proba'`` for them to serve
it.

The graph computes in the input's float type (float32 by default), so
probabilities agree with ``predict_proba`` to float32 rounding. As for every
skl2onnx conversion, compare the converted model's outputs with the
estimator's on held-out data before serving it.
"""

try:
    import skl2onnx  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without skl2onnx only
    raise ImportError(
        "skduo.onnx requires skl2onnx (and onnxruntime to run the converted "
        "model): pip install skl2onnx onnxruntime"
    ) from exc

import numpy as np
from skl2onnx import update_registered_converter
from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
from skl2onnx.algebra.onnx_ops import (
    OnnxArgMax,
    OnnxConcat,
    OnnxEqual,
    OnnxGather,
    OnnxIdentity,
    OnnxLog,
    OnnxMul,
    OnnxSoftmax,
    OnnxSub,
    OnnxSum,
    OnnxWhere,
)
from skl2onnx.common.data_types import guess_numpy_type
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from skduo._estimators._baselines import (
    TemperatureScalingClassifier,
    WeightedEnsembleClassifier,
)
from skduo._estimators._duo import DuoClassifier
from skduo._outputs._member import column_map, member_classes
from skduo._vocabulary import RESPONSE_METHODS

__all__ = ["register_converters"]

#: log of the smallest positive normal float64: the duo's logit of a probability
#: of exactly 0 (:func:`skduo._outputs._logit_ops.proba_to_logits`).
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))

_ESTIMATORS = {
    DuoClassifier: "SkduoDuoClassifier",
    TemperatureScalingClassifier: "SkduoTemperatureScalingClassifier",
    WeightedEnsembleClassifier: "SkduoWeightedEnsembleClassifier",
}


def _unwrap(member):
    """``(transformers, final estimator)``: Pipelines split, FrozenEstimators removed.

    skl2onnx converts a Pipeline nested in another model's graph step by
    step only, so its steps are chained here.
    """
    steps = []
    while True:
        if isinstance(member, FrozenEstimator):
            member = member.estimator
        elif isinstance(member, Pipeline):
            steps.extend(
                s for _, s in member.steps[:-1] if s not in (None, "passthrough")
            )
            member = member.steps[-1][1]
        else:
            return steps, member


def _response(member, final, method, name):
    """``(method, zero logit)``: the output the duo reads, and log(0)'s value.

    Probabilities are converted (their logarithm); ``predict_log_proba`` of
    models other than naive Bayes is the logarithm of their probabilities. The
    zero logit is the estimator's: ``log`` of the smallest positive normal
    number of the member's output dtype (probabilities) or of float64
    (log-probabilities of ``-inf``).
    """
    if method == "auto":
        method = next((m for m in RESPONSE_METHODS if hasattr(member, m)), None)
    if method == "predict_log_proba":
        if type(final).__module__.startswith("sklearn.naive_bayes"):
            raise NotImplementedError(
                f"The {name} member ({type(final).__name__}) is read through "
                "predict_log_proba, whose values (down to -1e9) skl2onnx does not "
                "output: it outputs probabilities, whose float32 logarithm stops "
                "at -87. Fit the duo with response_method='predict_proba' for "
                "this member to convert it."
            )
        return "predict_proba", _LOG_TINY
    if method == "predict_proba":
        return method, _zero_logit(member)
    if method != "decision_function":
        raise NotImplementedError(
            f"The {name} member has no decision_function or predict_proba."
        )
    return method, None


def _zero_logit(member, dtype=np.float32):
    """log(tiny) of the dtype of the member's probabilities on float32 input."""
    out_dtype = np.dtype(np.float64)
    n_features = getattr(member, "n_features_in_", None)
    if n_features is not None:
        try:
            probe = member.predict_proba(np.zeros((1, n_features), dtype=dtype))
            if np.asarray(probe).dtype.kind == "f":
                out_dtype = np.asarray(probe).dtype
        except Exception:  # a member that cannot take a zero row: float64
            pass
    return float(np.log(np.finfo(out_dtype).tiny))


def _member_logits(
    member, name, method, classes, X, opv, dtype, scope, container, floor=None
):
    """An ONNX expression of the member's logits, columns in ``classes``.

    ``floor`` (the estimator's ``zero_floors_`` entry, if finite) is the logit
    of exact-zero probabilities, as in the estimator's predictions.
    """
    transformers, final = _unwrap(member)
    method, zero_logit = _response(member, final, method, name)
    if floor is not None:
        zero_logit = floor
    for step in transformers:
        X = OnnxSubEstimator(step, X, op_version=opv)
    options = {}
    for option, value in (("zipmap", False), ("raw_scores", True)):
        if option == "raw_scores" and method != "decision_function":
            continue
        if container.has_options(final, option):
            options[option] = value
    if method == "decision_function" and "raw_scores" not in options:
        raise NotImplementedError(
            f"The {name} member ({type(final).__name__}) is read through "
            "decision_function, but its skl2onnx converter has no 'raw_scores' "
            "option (it outputs probabilities only)."
        )
    if options:
        container.add_options(id(final), options)
        scope.add_options(id(final), options)
    sub = OnnxSubEstimator(final, X, op_version=opv)
    scores = sub[1]
    known = member_classes(member, name)
    if method == "decision_function":
        if len(known) == 2:
            # skl2onnx's raw scores of a binary model are (-s, s); the duo's
            # logits are (0, s)
            s = OnnxGather(
                scores, np.array([1], dtype=np.int64), axis=1, op_version=opv
            )
            scores = OnnxConcat(
                OnnxSub(s, s, op_version=opv), s, axis=1, op_version=opv
            )
    else:
        zero = np.array([0], dtype=dtype)
        log_p = OnnxLog(scores, op_version=opv)
        is_zero = OnnxEqual(scores, zero, op_version=opv)
        scores = OnnxWhere(
            is_zero, np.array([zero_logit], dtype=dtype), log_p, op_version=opv
        )
    columns = column_map(known, classes)
    if columns is not None:
        if (columns < 0).any():
            raise NotImplementedError(
                f"The {name} member does not know every class of the ensemble."
            )
        scores = OnnxGather(scores, columns.astype(np.int64), axis=1, op_version=opv)
    return scores


def _convert(scope, operator, container):
    ensemble = operator.raw_operator
    opv = container.target_opset
    X = operator.inputs[0]
    dtype = guess_numpy_type(X.type)
    if dtype != np.float64:
        dtype = np.float32
    named = ensemble._fitted_named_members()
    methods = ensemble._member_methods(len(named))
    uq_only = getattr(ensemble, "mode", None) == "uq_only"
    all_zero = not np.any(ensemble.weights_)
    terms, label_source = [], None
    floors = getattr(ensemble, "zero_floors_", None)
    if floors is None:
        floors = np.full(len(named), np.nan)
    for (name, member), method, w, floor in zip(
        named, methods, ensemble.weights_, floors
    ):
        is_large = uq_only and name == "large"
        if w == 0.0 and not is_large and not (all_zero and not terms):
            continue
        z = _member_logits(
            member,
            name,
            method,
            ensemble.classes_,
            X,
            opv,
            dtype,
            scope,
            container,
            float(floor) if np.isfinite(floor) else None,
        )
        terms.append(OnnxMul(z, np.array([w], dtype=dtype), op_version=opv))
        if is_large:
            label_source = z
    combined = terms[0] if len(terms) == 1 else OnnxSum(*terms, op_version=opv)
    if label_source is None:
        label_source = combined
    proba = OnnxSoftmax(
        combined, axis=1, op_version=opv, output_names=operator.outputs[1:]
    )
    classes = np.asarray(ensemble.classes_)
    classes = classes.astype(np.int64) if classes.dtype.kind in "iub" else classes
    index = OnnxArgMax(label_source, axis=1, keepdims=0, op_version=opv)
    label = OnnxIdentity(
        OnnxGather(classes, index, axis=0, op_version=opv),
        op_version=opv,
        output_names=operator.outputs[:1],
    )
    proba.add_to(scope, container)
    label.add_to(scope, container)


def register_converters():
    """Register skduo's estimators with skl2onnx (done by ``import skduo.onnx``).

    Registers a shape calculator and a converter for
    :class:`~skduo.DuoClassifier`, :class:`~skduo.TemperatureScalingClassifier`
    and :class:`~skduo.WeightedEnsembleClassifier` (options ``zipmap`` and
    ``nocl`` as for scikit-learn classifiers). Calling it again is harmless.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skl2onnx import to_onnx
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skduo import DuoClassifier
    >>> import skduo.onnx  # registers the converters
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> large = LogisticRegression(max_iter=500).fit(X[::2], y[::2])
    >>> small = LogisticRegression(C=0.05, max_iter=500).fit(X[::2], y[::2])
    >>> duo = DuoClassifier(large, small).fit(X[1::2], y[1::2])
    >>> onx = to_onnx(duo, X[:1], options={id(duo): {"zipmap": False}})
    >>> session = ort.InferenceSession(onx.SerializeToString())
    >>> label, proba = session.run(None, {"X": X[1::2]})
    >>> bool(np.abs(proba - duo.predict_proba(X[1::2])).max() < 1e-5)
    True
    """
    for estimator, alias in _ESTIMATORS.items():
        update_registered_converter(
            estimator,
            alias,
            calculate_linear_classifier_output_shapes,
            _convert,
            options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
            overwrite=True,
        )


register_converters()
