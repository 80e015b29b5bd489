"""Compare the local `workers` module with Cloudflare's real SDK, read from its wheel on PyPI.

The real SDK (`workers-runtime-sdk`) imports `js` and `pyodide.ffi`, so it cannot be imported
outside Pyodide; its source is parsed with `ast` instead. `Response` inherits part of its API from
Pyodide's `pyodide.http.FetchResponse` (package `pyodide-py`), which is parsed the same way.

Every public name the local module exports must exist in the real SDK, and every public method or
property of a local class must have the same kind (property, static, async or not) and the same
parameters (names, kinds, which have defaults) as the real one.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SDK_PACKAGE = "workers-runtime-sdk"
SDK_VERSION = "1.9.5"
PYODIDE_PACKAGE = "pyodide-py"
PYODIDE_VERSION = "0.25.1"

# local name -> (module file inside the wheel, class or function name)
CLASSES = {
    "Request": ("workers/request.py", "Request"),
    "FetchResponse": ("workers/response.py", "FetchResponse"),
    "Response": ("workers/response.py", "Response"),
    "WorkerEntrypoint": ("workers/entrypoints.py", "WorkerEntrypoint"),
    "DurableObject": ("workers/entrypoints.py", "DurableObject"),
}
FUNCTIONS = {
    "fetch": ("workers/fetch.py", "fetch"),
    "handler": ("workers/entrypoints.py", "handler"),
    "python_to_rpc": ("workers/rpc.py", "python_to_rpc"),
    "python_from_rpc": ("workers/rpc.py", "python_from_rpc"),
}
# Base classes outside the SDK: SDK class -> (wheel, file, class).
BASES = {"FetchResponse": ("pyodide", "pyodide/http.py", "FetchResponse")}


@dataclass(frozen=True)
class Member:
    """The shape of one function, method or property: what callers depend on."""

    kind: str  # "property" | "staticmethod" | "classmethod" | "method"
    is_async: bool
    params: tuple[tuple[str, str, bool], ...]  # (name, kind, has_default)

    def describe(self) -> str:
        parts = [f"{n}{'=' if d else ''}:{k}" for n, k, d in self.params]
        return f"{'async ' if self.is_async else ''}{self.kind}({', '.join(parts)})"


def download(package: str, version: str, cache: Path) -> Path:
    """The wheel of `package==version`, downloaded once into `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    stem = package.replace("-", "_")
    found = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    if not found:
        subprocess.run(  # noqa: S603 - pip of this interpreter, fixed arguments
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"),
                *("--disable-pip-version-check", "-d", str(cache), f"{package}=={version}"),
            ],
            check=True,
        )
        found = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    if not found:
        raise FileNotFoundError(f"{package}=={version} wheel not found after download")
    return found[0]


def read_source(wheel: Path, member: str) -> ast.Module:
    with zipfile.ZipFile(wheel) as zf:
        return ast.parse(zf.read(member).decode("utf-8"), filename=f"{wheel.name}/{member}")


def exported_names(module: ast.Module) -> set[str]:
    for node in module.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return {elt.value for elt in node.value.elts if isinstance(elt, ast.Constant)}  # type: ignore[attr-defined]
    raise ValueError("no __all__ in module")


def _params_from_ast(args: ast.arguments, drop_first: bool) -> tuple[tuple[str, str, bool], ...]:
    out: list[tuple[str, str, bool]] = []
    positional = [*args.posonlyargs, *args.args]
    n_defaults = len(args.defaults)
    for i, a in enumerate(positional):
        kind = "positional_only" if i < len(args.posonlyargs) else "positional_or_keyword"
        out.append((a.arg, kind, i >= len(positional) - n_defaults))
    if args.vararg:
        out.append((args.vararg.arg, "var_positional", False))
    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append((a.arg, "keyword_only", d is not None))
    if args.kwarg:
        out.append((args.kwarg.arg, "var_keyword", False))
    return tuple(out[1:] if drop_first and out else out)


def _decorators(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for d in node.decorator_list:
        if isinstance(d, ast.Name):
            names.add(d.id)
        elif isinstance(d, ast.Attribute):
            names.add(d.attr)
    return names


def member_from_ast(node: ast.FunctionDef | ast.AsyncFunctionDef, *, in_class: bool) -> Member:
    decorators = _decorators(node)
    if "property" in decorators:
        kind = "property"
    elif "staticmethod" in decorators:
        kind = "staticmethod"
    elif "classmethod" in decorators:
        kind = "classmethod"
    else:
        kind = "method" if in_class else "function"
    drop = in_class and kind in ("method", "classmethod", "property")
    params = () if kind == "property" else _params_from_ast(node.args, drop)
    return Member(kind, isinstance(node, ast.AsyncFunctionDef), params)


def class_members(module: ast.Module, name: str) -> dict[str, Member]:
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return {
                item.name: member_from_ast(item, in_class=True)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    raise KeyError(f"class {name} not found")


def function_member(module: ast.Module, name: str) -> Member:
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return member_from_ast(node, in_class=False)
    raise KeyError(f"function {name} not found")


def member_from_object(owner: type | None, name: str, obj: Any) -> Member:
    """The same shape, read from a live local object."""
    raw = inspect.getattr_static(owner, name) if owner is not None else obj
    if isinstance(raw, property):
        return Member("property", False, ())
    if isinstance(raw, staticmethod):
        kind, func = "staticmethod", raw.__func__
    elif isinstance(raw, classmethod):
        kind, func = "classmethod", raw.__func__
    else:
        kind, func = ("method" if owner is not None else "function"), raw
    func = inspect.unwrap(func)
    params = []
    for p in inspect.signature(func).parameters.values():
        params.append((p.name, p.kind.name.lower(), p.default is not inspect.Parameter.empty))
    if kind in ("method", "classmethod") and params:
        params = params[1:]
    return Member(kind, inspect.iscoroutinefunction(func), tuple(params))


def public_members(cls: type) -> dict[str, Any]:
    """Public methods and properties a local class defines or inherits from our own base classes."""
    names: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") and name != "__init__":
                continue
            if isinstance(value, property | staticmethod | classmethod) or inspect.isfunction(value):
                names[name] = klass
    return names


def compare(local_module: Any, cache: Path) -> list[str]:
    """Every difference between the local module and the real SDK, as readable lines."""
    sdk = download(SDK_PACKAGE, SDK_VERSION, cache)
    pyodide = download(PYODIDE_PACKAGE, PYODIDE_VERSION, cache)
    wheels = {"sdk": sdk, "pyodide": pyodide}
    problems: list[str] = []
    real_all = exported_names(read_source(sdk, "workers/__init__.py"))
    for name in sorted(set(local_module.__all__) - real_all):
        problems.append(f"workers.{name}: exported locally but not by the real SDK")
    for local_name, (path, real_name) in CLASSES.items():
        real = class_members(read_source(sdk, path), real_name)
        base = BASES.get(real_name)
        if real_name == "Response":
            real = {**class_members(read_source(sdk, "workers/response.py"), "FetchResponse"), **real}
            base = BASES["FetchResponse"]
        if base:
            wheel, base_path, base_class = base
            real = {**class_members(read_source(wheels[wheel], base_path), base_class), **real}
        cls = getattr(local_module, local_name)
        for member, owner in sorted(public_members(cls).items()):
            mine = member_from_object(owner, member, None)
            theirs = real.get(member)
            if theirs is None:
                problems.append(f"workers.{local_name}.{member}: not in the real SDK")
            elif mine != theirs:
                problems.append(f"workers.{local_name}.{member}: local {mine.describe()} != real {theirs.describe()}")
    for local_name, (path, real_name) in FUNCTIONS.items():
        mine = member_from_object(None, local_name, getattr(local_module, local_name))
        theirs = function_member(read_source(sdk, path), real_name)
        if mine != theirs:
            problems.append(f"workers.{local_name}: local {mine.describe()} != real {theirs.describe()}")
    return problems
