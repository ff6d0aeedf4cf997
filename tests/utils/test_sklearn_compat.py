"""The private scikit-learn names skduo relies on still exist where expected.

skduo imports them in one module (``skduo.utils._sklearn_compat``); if a new
scikit-learn release moves one, this test fails with the name, before any user
fit does.
"""

import inspect

from skduo.utils import _sklearn_compat


def test_private_sklearn_names_are_importable_and_usable():
    from sklearn.linear_model import LogisticRegression

    assert callable(_sklearn_compat._fit_context(prefer_skip_nested_validation=True))
    for name in ("HasMethods", "Hidden", "Interval", "StrOptions", "_BaseComposition"):
        assert inspect.isclass(getattr(_sklearn_compat, name)), name
    assert _sklearn_compat.num_samples([[1], [2], [3]]) == 3
    assert _sklearn_compat.safe_indexing([10, 20, 30], [2, 0]) == [30, 10]
    assert _sklearn_compat.StrOptions({"a"}).is_satisfied_by("a")
    assert _sklearn_compat.HasMethods(["fit"]).is_satisfied_by(LogisticRegression())


def test_nothing_else_imports_private_sklearn_names():
    import ast
    import pathlib

    import skduo

    root = pathlib.Path(skduo.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "_sklearn_compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "sklearn"
            ):
                names = node.module.split(".") + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [p for a in node.names for p in a.name.split(".")]
                if not any(a.name.startswith("sklearn") for a in node.names):
                    continue
            else:
                continue
            if any(n.startswith("_") for n in names):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, offenders


def test_scoring_cache_reads_the_shared_dict_only():
    from functools import partial

    from sklearn.metrics import get_scorer

    shared = {}
    assert _sklearn_compat.scoring_cache(partial(print, shared)) is shared
    assert _sklearn_compat.scoring_cache(partial(print, None)) is None
    assert _sklearn_compat.scoring_cache(print) is None
    # scikit-learn's own scorers are of the class skduo's scorers extend
    assert isinstance(get_scorer("neg_log_loss"), _sklearn_compat.BaseScorer)
