"""The package's layers point one way: a module imports only its own layer's modules and those below.

    foundation (errors, config, text)  <-  intents  <-  nlu  <-  speech  <-  daemon | server  <-  cli

Every import counts, at the top of a module or inside a function (those run
too, just later); only `if TYPE_CHECKING:` blocks, which never run, are left
out. The daemon and the server are peers and never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "assistant"

LAYERS = [
    ("foundation", ["assistant.errors", "assistant.config", "assistant.text"]),
    ("intents", ["assistant.intents"]),
    ("nlu", ["assistant.nlu", "assistant"]),  # the package itself is the public surface of the runtime: Parser and its results
    ("speech", ["assistant.speech"]),
    ("daemon", ["assistant.daemon"]),
    ("server", ["assistant.server", "assistant.client"]),
    ("cli", ["assistant.cli", "assistant.__main__"]),
]
RANK = {"foundation": 0, "intents": 1, "nlu": 2, "speech": 3, "daemon": 4, "server": 4, "cli": 5}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    """The layer whose most specific prefix names the module."""
    best, length = None, -1
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = layer, len(prefix)
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best


def _runs(node: ast.AST) -> bool:
    """False for `if TYPE_CHECKING:` blocks."""
    return not (isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")


def imports_of(module: str) -> set[str]:
    """The `assistant` modules a module imports, wherever in it (a name imported from a package counts as its submodule when it is one)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    stack: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while stack:
        node = stack.pop()
        stack.extend(child for child in ast.iter_child_nodes(node) if _runs(child))
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    mine = layer_of(module)
    wrong = sorted(f"{target} ({layer_of(target)})" for target in GRAPH[module]
                   if RANK[layer_of(target)] > RANK[mine] or (RANK[layer_of(target)] == RANK[mine] and layer_of(target) != mine))
    assert not wrong, f"{module} ({mine}) imports upward or sideways: {', '.join(wrong)}"


def test_no_import_cycles():
    """Tarjan's strongly connected components: any with more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
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
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_walker_sees_imports_inside_functions():
    """The check is only as good as its reading: a function-level import of a higher layer is caught."""
    assert "assistant.nlu.train" in GRAPH["assistant.cli.nlu"]  # imported inside cmd_train
    assert layer_of("assistant.nlu.store") == "nlu" and layer_of("assistant") == "nlu" and layer_of("assistant.client") == "server"
