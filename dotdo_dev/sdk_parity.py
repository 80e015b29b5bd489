"""Compare the local `workers` module with Cloudflare's real SDK, read from its wheel on PyPI, both ways.

The real SDK (`workers-runtime-sdk`) imports `js` and `pyodide.ffi`, so it cannot be imported
outside Pyodide; its source is parsed with `ast` instead. `Response` inherits part of its API from
Pyodide's `pyodide.http.FetchResponse` (package `pyodide-py`), which is parsed the same way.

The SDK's public surface, derived from the wheel:
* the names in `workers.__all__` (each followed to the module that defines it);
* the public definitions of the SDK's submodules that `__all__` does not re-export from
  (`workers.asgi`, `workers.wsgi`, `workers.gateway`, `workers.workflows`): their `__all__` or,
  without one, their top-level functions, classes and assignments not starting with `_`;
* the public top-level modules of the wheel (`asgi`);
* for each class among them, its public methods and properties (with its bases') and its
  annotated fields (a TypedDict's keys, a dataclass's fields).

Both directions are checked: every SDK name exists locally with the same shape (kind, async or not,
parameter names, kinds and defaults) or is listed as not provided in docs/local-runtime.md (the
table read by `documented_gaps`); a listed name that is provided locally or is not in the SDK is
a problem too; and every public name of the local module exists in the SDK.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
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

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "local-runtime.md"

# The classes the parity test always expects to find locally (the ones worker code builds on).
CLASSES = {
    "Request": ("workers/request.py", "Request"),
    "FetchResponse": ("workers/response.py", "FetchResponse"),
    "Response": ("workers/response.py", "Response"),
    "WorkerEntrypoint": ("workers/entrypoints.py", "WorkerEntrypoint"),
    "DurableObject": ("workers/entrypoints.py", "DurableObject"),
}
# Base classes outside the SDK wheel: dotted name as written in the SDK -> (wheel, file, class).
EXTERNAL_BASES = {"pyodide.http.FetchResponse": ("pyodide", "pyodide/http.py", "FetchResponse")}

# A row of the docs table: | `workers.name` | not provided | why |
_GAP_ROW = re.compile(r"^\|\s*`(?P<name>[\w.]+)`\s*\|\s*not provided\s*\|\s*(?P<why>[^|]*\S)\s*\|\s*$")


@dataclass(frozen=True)
class Member:
    """The shape of one function, method or property: what callers depend on."""

    kind: str  # "property" | "staticmethod" | "classmethod" | "method" | "function"
    is_async: bool
    params: tuple[tuple[str, str, bool], ...]  # (name, kind, has_default)

    def describe(self) -> str:
        parts = [f"{n}{'=' if d else ''}:{k}" for n, k, d in self.params]
        return f"{'async ' if self.is_async else ''}{self.kind}({', '.join(parts)})"


@dataclass(frozen=True)
class SdkName:
    """One public name of the SDK: where it is defined and what it is."""

    module: str  # file inside the wheel, e.g. "workers/blob.py"
    node: ast.AST | None  # its definition; None for a name given by a module `__getattr__`


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
    names = _all_names(module)
    if names is None:
        raise ValueError("no __all__ in module")
    return names


def documented_gaps(path: Path = DOCS) -> dict[str, str]:
    """The SDK names docs/local-runtime.md lists as not provided locally, with the reason given."""
    gaps: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _GAP_ROW.match(line.strip())
        if match:
            gaps[match["name"]] = match["why"]
    return gaps


# -- reading shapes from the wheel's source --------------------------------------------------------


def _all_names(module: ast.Module) -> set[str] | None:
    for node in module.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return {elt.value for elt in node.value.elts if isinstance(elt, ast.Constant)}  # type: ignore[attr-defined]
    return None


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


def _class_node(module: ast.Module, name: str) -> ast.ClassDef:
    for node in module.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise KeyError(f"class {name} not found")


def _is_public(name: str) -> bool:
    return not name.startswith("_") or name == "__init__"


class _Wheels:
    """The SDK wheel (and Pyodide's, for `FetchResponse`'s base), parsed on demand."""

    def __init__(self, sdk: Path, pyodide: Path) -> None:
        self.paths = {"sdk": sdk, "pyodide": pyodide}
        self._parsed: dict[tuple[str, str], ast.Module] = {}
        with zipfile.ZipFile(sdk) as zf:
            self.files = set(zf.namelist())

    def module(self, path: str, wheel: str = "sdk") -> ast.Module:
        key = (wheel, path)
        if key not in self._parsed:
            self._parsed[key] = read_source(self.paths[wheel], path)
        return self._parsed[key]

    def module_path(self, dotted: str, importer: str) -> str | None:
        """The wheel file of module `dotted` (absolute, or relative to the file `importer`)."""
        if dotted.startswith("."):
            level = len(dotted) - len(dotted.lstrip("."))
            base = importer.rsplit("/", level)[0]
            rest = dotted.lstrip(".")
            stem = f"{base}/{rest.replace('.', '/')}" if rest else base
        else:
            stem = dotted.replace(".", "/")
        for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
            if candidate in self.files:
                return candidate
        return None

    def resolve(self, path: str, name: str) -> SdkName:
        """Where `name`, as seen from module `path`, is defined (following `from .x import name`)."""
        module = self.module(path)
        for node in module.body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
                return SdkName(path, node)
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    return SdkName(path, node)
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        source = self.module_path("." * node.level + (node.module or ""), path)
                        if source is not None:
                            return self.resolve(source, alias.name)
        return SdkName(path, None)

    def members(self, name: SdkName) -> dict[str, Member]:
        """A class's public methods and properties, its own over its bases' (SDK and Pyodide ones)."""
        assert isinstance(name.node, ast.ClassDef)
        found: dict[str, Member] = {}
        for _, base_node, _ in self._bases(name.module, name.node):
            for item in base_node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _is_public(item.name):
                    found[item.name] = member_from_ast(item, in_class=True)
        return found

    def fields(self, name: SdkName) -> set[str]:
        """A class's annotated public fields (TypedDict keys, dataclass fields, declared attributes)."""
        assert isinstance(name.node, ast.ClassDef)
        out: set[str] = set()
        for _, node, _ in self._bases(name.module, name.node):
            for item in node.body:
                is_field = isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                if is_field and not item.target.id.startswith("_"):  # type: ignore[union-attr]
                    out.add(item.target.id)  # type: ignore[union-attr]
        return out

    def _bases(self, path: str, node: ast.ClassDef, wheel: str = "sdk") -> list[tuple[str, ast.ClassDef, str]]:
        """The class and its bases that the SDK or Pyodide define, the most basic first."""
        chain: list[tuple[str, ast.ClassDef, str]] = []
        for base in node.bases:
            dotted = ast.unparse(base)
            if dotted in EXTERNAL_BASES:
                other_wheel, other_path, other_class = EXTERNAL_BASES[dotted]
                other = _class_node(self.module(other_path, other_wheel), other_class)
                chain.extend(self._bases(other_path, other, other_wheel))
            elif isinstance(base, ast.Name) and wheel == "sdk":
                found = self.resolve(path, base.id)
                if isinstance(found.node, ast.ClassDef):
                    chain.extend(self._bases(found.module, found.node))
        chain.append((path, node, wheel))
        return chain

    def surface(self) -> dict[str, SdkName]:
        """Every public name of the SDK, qualified (`workers.Blob`, `workers.asgi.fetch`, `asgi`)."""
        init = "workers/__init__.py"
        names = {f"workers.{n}": self.resolve(init, n) for n in exported_names(self.module(init))}
        reexported = {name.module for name in names.values()}
        for path in sorted(self.files):
            if not path.endswith(".py") or path == init:
                continue
            parts = path[: -len(".py")].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if any(p.startswith("_") for p in parts):
                continue
            if len(parts) == 1:
                names[parts[0]] = SdkName(path, None)  # a top-level module, e.g. `asgi`
                continue
            if path in reexported or (parts[0] == "workers" and len(parts) > 2):
                continue
            qualified = ".".join(parts)
            for public in sorted(self._public_definitions(path)):
                names[f"{qualified}.{public}"] = self.resolve(path, public)
        return names

    def _public_definitions(self, path: str) -> set[str]:
        module = self.module(path)
        declared = _all_names(module)
        if declared is not None:
            return declared
        out: set[str] = set()
        for node in module.body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                out.add(node.name)
            elif isinstance(node, ast.Assign):
                out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        return {n for n in out if not n.startswith("_")}


# -- reading shapes from the local module ----------------------------------------------------------


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


def _own_classes(cls: type) -> list[type]:
    """`cls` and the bases of it that the local SDK defines (not `object`, `MutableMapping`, `Enum`...)."""
    package = cls.__module__.split(".")[0]
    return [k for k in reversed(cls.__mro__) if k is cls or k.__module__.split(".")[0] in (package, "workers")]


def public_members(cls: type) -> dict[str, Any]:
    """Public methods and properties a local class defines or inherits from our own base classes."""
    names: dict[str, Any] = {}
    for klass in _own_classes(cls):
        generated_init = dataclasses.is_dataclass(klass) or getattr(klass, "_is_protocol", False)
        for name, value in vars(klass).items():
            if not _is_public(name) or (name == "__init__" and generated_init):
                continue
            if isinstance(value, property | staticmethod | classmethod) or inspect.isfunction(value):
                names[name] = klass
    return names


def public_fields(cls: type) -> set[str]:
    """Annotated public fields of a local class and of our own base classes."""
    out: set[str] = set()
    for klass in _own_classes(cls):
        out.update(n for n in vars(klass).get("__annotations__", {}) if not n.startswith("_"))
    return out


def _local(local_module: Any, qualified: str) -> tuple[bool, Any]:
    """(found, object) for a qualified SDK name, looked up in the local module (or its submodules)."""
    parts = qualified.split(".")
    if parts[0] != "workers":
        try:
            return True, importlib.import_module(qualified)
        except ImportError:
            return False, None
    obj = local_module
    for i, part in enumerate(parts[1:], start=1):
        if i == 1 and len(parts) > 2 and not hasattr(obj, part) and hasattr(obj, "__name__"):
            try:  # a submodule not imported yet, e.g. `workers.wsgi`
                importlib.import_module(f"{obj.__name__}.{part}")
            except ImportError:
                return False, None
        if i == 1 and len(parts) == 2 and part not in getattr(obj, "__all__", ()):
            return False, None
        try:
            obj = getattr(obj, part)
        except (AttributeError, RuntimeError):
            return False, None
    return True, obj


# -- the comparison --------------------------------------------------------------------------------


def compare(local_module: Any, cache: Path, not_provided: dict[str, str] | None = None) -> list[str]:
    """Every difference between the local module and the real SDK, as readable lines.

    `not_provided` (default: the table of docs/local-runtime.md) names the SDK names deliberately
    missing locally, with why.
    """
    gaps = documented_gaps() if not_provided is None else not_provided
    wheels = _Wheels(download(SDK_PACKAGE, SDK_VERSION, cache), download(PYODIDE_PACKAGE, PYODIDE_VERSION, cache))
    surface = wheels.surface()
    problems: list[str] = []
    for name in sorted(set(local_module.__all__) - {q.split(".", 1)[1] for q in surface if q.startswith("workers.")}):
        problems.append(f"workers.{name}: exported locally but not by the real SDK")
    for qualified, sdk_name in sorted(surface.items()):
        found, obj = _local(local_module, qualified)
        if not found:
            if qualified not in gaps:
                problems.append(f"{qualified}: in the real SDK but neither provided locally nor listed as not provided")
            continue
        if qualified in gaps:
            problems.append(f"{qualified}: listed as not provided but provided locally")
        problems.extend(_compare_definition(wheels, qualified, sdk_name, obj, gaps))
    for listed in sorted(set(gaps) - set(surface) - _member_names(wheels, surface)):
        problems.append(f"{listed}: listed as not provided but not in the real SDK {SDK_VERSION}")
    return problems


def _member_names(wheels: _Wheels, surface: dict[str, SdkName]) -> set[str]:
    out: set[str] = set()
    for qualified, sdk_name in surface.items():
        if isinstance(sdk_name.node, ast.ClassDef):
            out.update(f"{qualified}.{m}" for m in wheels.members(sdk_name))
            out.update(f"{qualified}.{f}" for f in wheels.fields(sdk_name))
    return out


def _compare_definition(
    wheels: _Wheels, qualified: str, sdk_name: SdkName, obj: Any, gaps: dict[str, str]
) -> list[str]:
    node = sdk_name.node
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        if not callable(obj):
            return [f"{qualified}: a function in the real SDK, not locally"]
        mine, theirs = member_from_object(None, qualified, obj), member_from_ast(node, in_class=False)
        return [] if mine == theirs else [f"{qualified}: local {mine.describe()} != real {theirs.describe()}"]
    if isinstance(node, ast.ClassDef):
        if not isinstance(obj, type):
            return [f"{qualified}: a class in the real SDK, not locally"]
        return _compare_class(wheels, qualified, sdk_name, obj, gaps)
    return []  # an assignment (type alias, constant) or a name a module `__getattr__` gives: existence is enough


def _compare_class(wheels: _Wheels, qualified: str, sdk_name: SdkName, cls: type, gaps: dict[str, str]) -> list[str]:
    problems: list[str] = []
    real = wheels.members(sdk_name)
    mine = public_members(cls)
    for member, owner in sorted(mine.items()):
        theirs = real.get(member)
        local_shape = member_from_object(owner, member, None)
        if theirs is None:
            problems.append(f"{qualified}.{member}: not in the real SDK")
        elif local_shape != theirs:
            problems.append(f"{qualified}.{member}: local {local_shape.describe()} != real {theirs.describe()}")
    for member in sorted(set(real) - set(mine)):
        name = f"{qualified}.{member}"
        if name not in gaps:
            problems.append(f"{name}: in the real SDK but neither provided locally nor listed as not provided")
    for member in sorted(set(mine) & set(real)):
        if f"{qualified}.{member}" in gaps:
            problems.append(f"{qualified}.{member}: listed as not provided but provided locally")
    real_fields, my_fields = wheels.fields(sdk_name), public_fields(cls)
    for field in sorted(real_fields - my_fields):
        if f"{qualified}.{field}" not in gaps:
            problems.append(f"{qualified}.{field}: a field in the real SDK but not locally")
    for field in sorted(my_fields - real_fields):
        problems.append(f"{qualified}.{field}: a field locally but not in the real SDK")
    return problems
