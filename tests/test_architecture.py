"""The package's layout: no import circle, and imports only point down.

Walks the source of every module of ``skduo`` (module-level and deferred
imports alike, with :mod:`ast`; nothing is imported) and builds the graph of
its imports of other ``skduo`` modules. The layers are those of
``docs/developers.rst``.
"""

import ast
import pathlib

import skduo

ROOT = pathlib.Path(skduo.__file__).parent

#: Layer of each part of the package (the longest matching prefix decides).
LAYERS = {
    "skduo._vocabulary": 0,
    "skduo.utils": 0,
    "skduo._fit": 1,
    "skduo._outputs": 2,
    "skduo.metrics": 3,
    "skduo._estimators": 4,
    "skduo._arrays": 4,
    "skduo": 5,  # the package itself, the CLI, torch, evaluation, onnx
}


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name):
    """The module that ``import name`` executes last (its deepest module)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(name, path):
    """The skduo modules that module ``name`` imports (anywhere in its body)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import submodule` imports the submodule
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                for a in node.names
            ]
        else:
            continue
        found.update(_resolve(t) for t in targets if t.split(".")[0] == "skduo")
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name):
    prefix = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def _cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_known_imports():
    # the walker itself: a deferred import and a `from package import module`
    assert "skduo._fit._compiled" in GRAPH["skduo._fit._objective"]
    assert "skduo._outputs._torch" in GRAPH["skduo._outputs._member"]
    assert "skduo._estimators._duo" in GRAPH["skduo"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]
    ]


def test_no_import_circle():
    assert _cycles(GRAPH) == []


def test_imports_point_down():
    upward = sorted(
        f"{name} (layer {_layer(name)}) imports {target} (layer {_layer(target)})"
        for name, targets in GRAPH.items()
        for target in targets
        if _layer(target) > _layer(name)
    )
    assert upward == []


def test_no_module_getattr():
    # re-exports resolved at run time hide circles from the reader
    offenders = [
        name
        for name, path in MODULES.items()
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
            for node in ast.parse(path.read_text()).body
        )
    ]
    assert offenders == []
