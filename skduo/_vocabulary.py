"""The names skduo's public API uses for one concept each, in one place.

Estimators, the array API, the metrics, the evaluation toolkit and the command
line all take these spellings from here, so that a mode or a confidence score
is written the same way everywhere (and a new one is added once).
"""

import warnings

__all__ = [
    "CONFIDENCES",
    "DUO_MODES",
    "ENSEMBLE_MODES",
    "FIT_MODES",
    "OUTPUT_KINDS",
    "RESPONSE_METHODS",
    "check_confidence",
]

#: ``mode`` of :class:`~skduo.DuoClassifier` and :func:`~skduo.fit_duo`.
DUO_MODES = ("asymmetric", "unweighted", "uq_only")

#: ``mode`` of :class:`~skduo.WeightedEnsembleClassifier`: one learned weight
#: per member, or pool-then-calibrate (a deep ensemble).
ENSEMBLE_MODES = ("learned", "pooled")

#: Every ``mode`` a :class:`~skduo.LogitEnsemble` can hold: how its weights were
#: fitted (``'temperature'``: one member temperature-scaled).
FIT_MODES = ("temperature", *DUO_MODES, *ENSEMBLE_MODES)

#: Confidence scores of a prediction (selective metrics, ``LogitEnsemble``, the
#: evaluation toolkit and the CLI): probability of the predicted class, its
#: margin over the runner-up, minus the entropy of the probabilities.
CONFIDENCES = ("msp", "margin", "neg_entropy")

#: What saved arrays of model outputs hold (``outputs`` of the array API, the
#: evaluation toolkit and ``python -m skduo evaluate --outputs``): ``'auto'``
#: recognises probabilities and log-probabilities (and takes their logarithm,
#: with a warning), the other values declare it.
OUTPUT_KINDS = ("auto", "logits", "proba", "log_proba")

#: Member methods whose outputs become logits (``response_method``).
RESPONSE_METHODS = ("decision_function", "predict_log_proba", "predict_proba")

#: Spellings kept for one release, mapped to their replacement.
_DEPRECATED_CONFIDENCES = {"entropy": "neg_entropy"}


def check_confidence(confidence, what="confidence", allowed=CONFIDENCES):
    """``confidence`` as one of ``allowed``; ``'entropy'`` warns and maps.

    Parameters
    ----------
    confidence : str
        A confidence name.
    what : str, default='confidence'
        The parameter's name, for messages.
    allowed : tuple of str, default=CONFIDENCES
        Accepted names.

    Returns
    -------
    str
        The canonical name.
    """
    if confidence in _DEPRECATED_CONFIDENCES:
        new = _DEPRECATED_CONFIDENCES[confidence]
        warnings.warn(
            f"{what}={confidence!r} is deprecated and will be removed in the next "
            f"release; use {what}={new!r} (the same score: minus the entropy).",
            FutureWarning,
            stacklevel=3,
        )
        confidence = new
    if confidence not in allowed:
        raise ValueError(f"{what} must be one of {allowed}; got {confidence!r}.")
    return confidence
