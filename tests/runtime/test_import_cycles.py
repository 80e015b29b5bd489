"""dotdo_dev has no import cycle, not even one hidden behind an import inside a function.

The graph is built with `ast` from every `import` in dotdo_dev/**/*.py, at module level or inside a
function (a function-level import that closes a cycle only moves the cycle to run time); imports under
`if TYPE_CHECKING:` are left out, since they never run. With no cycle, modules import in any order;
every one is also imported in a fresh interpreter, so a module that cannot be imported at all fails.
"""

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import dotdo_dev

PACKAGE = Path(dotdo_dev.__file__).resolve().parent
#: `workers` is dotdo_dev/sdk/workers, put on the path by the venv (the local stand-in for Cloudflare's SDK).
ALIASES = {"workers": "dotdo_dev.sdk.workers"}
#: Modules that are not imported under CPython: the CLI's `python -m` entry, and the conformance
#: harness, which runs under Pyodide inside a worker bundle (it imports the bundle's `dotdo_handlers`).
NOT_IMPORTED_HERE = {"dotdo_dev.__main__", "dotdo_dev.conformance.conformance_harness"}


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package in `root`, by dotted name (a package by the name of its `__init__`)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(root: Path, package: str, aliases: dict[str, str] | None = None) -> dict[str, set[str]]:
    """For each module of the package, the modules of the package it imports (anywhere in its code)."""
    known = modules(root, package)
    aliases = aliases or {}

    def resolve(name: str) -> str | None:
        head, _, rest = name.partition(".")
        name = aliases[head] + (f".{rest}" if rest else "") if head in aliases else name
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        targets = set()
        for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(resolve(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = absolute(node, module, is_package=path.name == "__init__.py")
                for alias in node.names:  # `from pkg import sub` imports the submodule `pkg.sub`
                    sub = resolve(f"{base}.{alias.name}")
                    targets.add(sub if sub == f"{base}.{alias.name}" else resolve(base))
        graph[module] = targets - {None, module}
    return graph


def absolute(node: ast.ImportFrom, module: str, *, is_package: bool) -> str:
    """The module an `ImportFrom` reads from, with a relative one (`from .x import y`) made absolute."""
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of the tree but those only a type checker reads (`if TYPE_CHECKING:` bodies)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for branch in child.orelse:
                yield branch
                yield from runtime_nodes(branch)
            continue
        yield child
        yield from runtime_nodes(child)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (`[a, b, a]`), or None if it has none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if target in path:
                return [*path[path.index(target) :], target]
            if target not in done and (found := visit(target)):
                return found
        done.add(path.pop())
        return None

    for node in sorted(graph):
        if node not in done and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_among_dotdo_dev_modules():
    graph = import_graph(PACKAGE, "dotdo_dev", ALIASES)
    assert "dotdo_dev.runtime.bindings.durable_objects" in graph["dotdo_dev.runtime.bindings"]  # read as meant
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_check_sees_a_cycle_behind_a_function_level_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "def later():\n    from .sub.c import value\n    return value\n",
        "sub/__init__.py": "from . import c\n",
        "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\nvalue = 1\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    graph = import_graph(pkg, "pkg")
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.sub": {"pkg.sub.c"},
        "pkg.sub.c": set(),
    }
    assert find_cycle(graph) is None  # the import only a type checker sees is no cycle

    (pkg / "sub" / "c.py").write_text("value = 1\n\ndef f():\n    from pkg.a import b\n")
    assert find_cycle(import_graph(pkg, "pkg")) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]


FRESH_IMPORTS = textwrap.dedent(
    """
    import importlib, sys, traceback

    failed = []
    for name in sys.argv[1:]:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name + ": " + traceback.format_exc(limit=-3))
    print("\\n".join(failed))
    sys.exit(1 if failed else 0)
    """
)


def test_every_module_imports_in_a_fresh_interpreter():
    names = sorted(set(modules(PACKAGE, "dotdo_dev")) - NOT_IMPORTED_HERE)
    result = subprocess.run(
        [sys.executable, "-c", FRESH_IMPORTS, *names], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
