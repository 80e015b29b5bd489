"""auth's modules import each other at the top only, and without a cycle.

A cycle hidden behind an import inside a function (`users` -> `sessions` -> `users`, until ending a
user's sessions moved to `revocation`) works until the order of imports changes; and an import
inside a handler runs again on the first request of every isolate, outside the memory snapshot.
"""

import ast

from conftest import ROOT

SRC = ROOT / "src"
OWN = {path.stem for path in SRC.glob("*.py")}


def _imported(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names} & OWN
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return {node.module.split(".")[0]} & OWN
    return set()


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """Each module's top-level imports of auth's own modules, and every import of one below the top."""
    graph, late = {}, []
    for path in sorted(SRC.glob("*.py")):
        tree = ast.parse(path.read_text())
        top = set().union(*(_imported(node) for node in tree.body))
        nested = set().union(*(_imported(node) for node in ast.walk(tree))) - top
        graph[path.stem] = top
        late += [f"{path.stem} imports {name} inside a function" for name in sorted(nested)]
    return graph, late


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            found = visit(imported, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [])
        if found:
            return found
    return None


def test_no_module_imports_another_inside_a_function():
    _, late = _graph()
    assert late == []


def test_the_modules_form_no_cycle():
    graph, _ = _graph()
    assert graph["users"] >= {"revocation", "store"}
    assert "sessions" not in graph["users"]
    assert _cycle(graph) is None


def test_the_checks_see_a_cycle_and_a_late_import():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse("import store\n\ndef f():\n    import sessions\n")
    assert set().union(*(_imported(n) for n in ast.walk(tree))) - _imported(tree.body[0]) == {"sessions"}
