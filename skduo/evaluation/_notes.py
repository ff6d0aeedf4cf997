"""What went wrong quietly during a zoo evaluation, once per model, in words.

The fits and the scoring of :func:`skduo.evaluation.evaluate_zoo` run under
:class:`Notes`, which records the warnings they raise with the models they
concern, instead of letting hundreds of copies reach the user (one per duo,
naming ``val_logits[1]`` and a source line). :meth:`Notes.lines` states each
condition once per model (or once for a set of fits), in the report's words;
:func:`check_test_accuracy` adds the check for test rows out of order.
"""

import re
import warnings
from contextlib import contextmanager

import numpy as np

__all__ = []  # private module

_MEMBER = re.compile(r"\b(?:val_)?logits\[(\d+)\]|\b[Mm]ember (\d+)\b")

#: Plain-language statement of a warning category (by class name).
_PHRASES = {
    "SeparationWarning": (
        "the validation rows are separated (every one classified correctly with a "
        "margin), so the weight fit has no finite minimiser: its weights stop at "
        "the fit's tolerance and its probabilities are over-confident; a larger or "
        "harder validation set fixes it"
    ),
    "ConvergenceWarning": "the weight fit stopped before reaching its tolerance",
}


def _named(message, members):
    def repl(match):
        index = int(match.group(1) or match.group(2))
        return members[index] if index < len(members) else match.group(0)

    return _MEMBER.sub(repl, message)


def _phrase(category, message):
    if category in _PHRASES:
        return _PHRASES[category]
    if "look like probabilities" in message:
        return (
            "its arrays look like probabilities but are used as logits (wrong "
            "predictions): pass --outputs proba (outputs='proba'), or save logits"
        )
    text = message.strip()
    return text[0].lower() + text[1:] if text else category


class Notes:
    """Warnings recorded per subject (a model, or a set of fitted members)."""

    def __init__(self, models):
        self.models = list(models)
        self.records = {}  # (subject tuple, category, phrase) -> count
        self.extra = []

    @contextmanager
    def capture(self, members):
        members = tuple(members)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            message = _named(str(w.message), members)
            category = w.category.__name__
            named = [
                m for m in members if re.search(rf"(?<!\w){re.escape(m)}\b", message)
            ]
            subject = (named[0],) if len(members) > 1 and len(named) == 1 else members
            if category in _PHRASES:
                message = ""  # one statement per category and subject
            key = (subject, category, _phrase(category, message))
            self.records[key] = self.records.get(key, 0) + 1

    def add(self, text):
        """A note in the report's words (not from a warning)."""
        self.extra.append(text)

    def lines(self):
        """Each condition once: per model, then per set of fits, then the rest."""
        singles = {}
        combos = {}
        for (subject, category, phrase), count in self.records.items():
            if len(subject) == 1:
                singles.setdefault((subject[0], category, phrase), 0)
                singles[(subject[0], category, phrase)] += count
            else:
                combos.setdefault((category, phrase), []).append(subject)
        out = []
        for name in self.models:
            for (model, category, phrase), _ in singles.items():
                if model != name:
                    continue
                also = [
                    s
                    for (c, p), subjects in combos.items()
                    if c == category and p == phrase
                    for s in subjects
                    if name in s
                ]
                tail = f" (also in {len(also)} combinations with it)" if also else ""
                out.append(f"{name}: {phrase}{tail}.")
        for (category, phrase), subjects in combos.items():
            left = [
                s
                for s in subjects
                if not any((m, category, phrase) in singles for m in s)
            ]
            if not left:
                continue
            names = [" + ".join(s) for s in left]
            shown = ", ".join(names[:4]) + (
                f" and {len(names) - 4} more" if len(names) > 4 else ""
            )
            fits = "fit" if len(names) == 1 else f"{len(names)} fits"
            out.append(f"{shown} ({fits}): {phrase}.")
        return out + self.extra


def check_test_accuracy(zoo):
    """Notes for models whose test accuracy is at chance while validation's is not.

    A model is flagged when its validation accuracy is at least 0.2 above
    chance (the majority class's share) and its test accuracy has lost at
    least three quarters of that margin, while some other model's has not:
    its test rows are likely not in the order of the labels. When every model
    collapses so, the test labels are named instead.
    """
    y_val, y_test = zoo.labels["val"], zoo.labels["test"]
    chance_val = np.bincount(y_val).max() / len(y_val)
    chance_test = np.bincount(y_test).max() / len(y_test)
    collapsed, fine = [], []
    for name, model in zoo.models.items():
        acc_val = float(np.mean(model.logits["val"].argmax(axis=1) == y_val))
        acc_test = float(np.mean(model.logits["test"].argmax(axis=1) == y_test))
        margin = acc_val - chance_val
        if margin >= 0.2 and acc_test - chance_test <= 0.25 * margin:
            collapsed.append((name, acc_val, acc_test))
        elif margin >= 0.2:
            fine.append(name)
    if collapsed and fine:
        return [
            f"{name}: test accuracy {acc_test:.3f} is at chance ({chance_test:.3f}) "
            f"while its validation accuracy is {acc_val:.3f} and other models' test "
            "accuracy is not: are its test rows in the order of the test labels?"
            for name, acc_val, acc_test in collapsed
        ]
    if collapsed and len(collapsed) > 1:
        return [
            f"Every model's test accuracy is at chance ({chance_test:.3f}) while "
            "validation accuracy is not: are the test labels in the order of the "
            "test rows?"
        ]
    return []


def check_temperature(zoo, fitted):
    """Notes for models that temperature scaling leaves far under-confident.

    A few errors made with extreme confidence (e.g. naive Bayes
    log-probabilities) can drive the fitted temperature so high that the
    model's mean confidence on validation falls far below its accuracy; every
    duo with it as the large model is then compared with a nearly uniform
    predictor, against which metrics that are not proper scores (ECE,
    correctness AUROC) improve even with a noise sidekick (their verdicts are
    gated by NLL or Brier, see :mod:`skduo.evaluation._significance`).
    Flagged when the gap is above 0.3.
    """
    y = zoo.labels["val"]
    out = []
    for name, model in zoo.models.items():
        ens = fitted.get(("temperature", (name,)))
        if ens is None:
            continue
        # the probability of the arg-max, in row blocks (no n x K copy)
        conf = float(np.mean(ens.confidence(model.logits["val"])))
        # the model's own predictions (a weight of 0 would make every row a tie)
        acc = float(np.mean(model.logits["val"].argmax(axis=1) == y))
        if acc - conf > 0.3:
            out.append(
                f"{name}: temperature-scaled, its mean validation confidence is "
                f"{conf:.2f} at accuracy {acc:.2f} (a few extremely confident "
                "errors force its temperature up): duos with it as the large "
                "model are compared with a nearly uniform predictor, against "
                "which ECE and correctness AUROC improve even with a noise "
                "sidekick while accuracy drops (their verdicts need NLL or Brier "
                "to agree)."
            )
    return out
