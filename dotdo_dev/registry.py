"""Service manifests (`service.toml` beside each `wrangler.jsonc`) and the registries generated from them.

Each service owns its facts: its gateway route (prefix, permissions, public paths, rate class),
the permissions it defines, what the built-in roles are granted, its host aliases, and the tables
it keeps through db. Nothing central lists services by hand; two files are generated:

- `shared/registry.py`: `SERVICES` (every manifest, as data), read at run time by the gateway
  (routing table), auth (`shared.permissions.ROLES`), the dispatcher (host aliases) and db (the
  tables services keep in it, `[tables.<name>]`: workers/db/src/tables.py);
- the gateway's service bindings, in every environment of `workers/gateway/wrangler.jsonc`
  (the lines between the registry markers).

    python -m dotdo_dev registry          # write them (make registry; create-service does it too)
    python -m dotdo_dev registry --check  # exit 1 if they disagree with the manifests (a test runs it)
"""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotdo_dev import jsonc
from shared.records import declared_table

MANIFEST = "service.toml"
REGISTRY = Path("shared") / "registry.py"
GATEWAY_CONFIG = Path("workers") / "gateway" / "wrangler.jsonc"
BINDINGS_BEGIN = "// registry: generated from each service.toml by `make registry`; do not edit"
BINDINGS_END = "// registry: end"

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_PERMISSION = re.compile(r"^[a-z][a-z0-9_-]{0,31}(:[a-z][a-z0-9_-]{0,31})?$")
_PUBLIC = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) /\S*$")
_RATE_CLASS = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_HOST = re.compile(r"^[^\s/:]{1,253}$")
ROLE_NAMES = ("user", "viewer")  # admin holds "*"
_TOP_KEYS = {"name", "description", "gateway", "permissions", "roles", "dispatcher", "tables"}
_GATEWAY_KEYS = {"read", "write", "rate_class", "public"}
#: The names db's own schema uses (workers/db/src/migrations.py: its tables, indexes, the search index and
#: its shadow tables and triggers) and SQLite's: no service's table may take them. A test of db's holds
#: this to the objects of db's database.
DB_OWN_TABLES = ("things", "relationships", "audit_log", "_migrations")
DB_OWN_PREFIXES = ("things_", "relationships_", "audit_log_", "sqlite_")


class ManifestError(ValueError):
    """A manifest that cannot be read, or manifests that contradict each other."""


@dataclass(frozen=True)
class Manifest:
    """One service's facts, read from its `service.toml`."""

    name: str
    folder: Path
    description: str = ""
    #: None: not reachable through the gateway. Else `read`, `write` ("" = any authenticated
    #: caller), `rate_class`, `public` ("METHOD /path" reachable without a token).
    gateway: dict[str, Any] | None = None
    permissions: dict[str, str] = field(default_factory=dict)
    roles: dict[str, list[str]] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)

    @property
    def binding(self) -> str:
        """The binding the gateway reaches it by: `order-history` -> `ORDER_HISTORY_SERVICE`."""
        return self.name.replace("-", "_").upper() + "_SERVICE"

    def as_data(self) -> dict[str, Any]:
        """The manifest as `shared/registry.py` holds it."""
        data: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.gateway is not None:
            data["gateway"] = self.gateway | {"binding": self.binding}
        data["permissions"] = dict(self.permissions)
        data["roles"] = {role: list(grants) for role, grants in self.roles.items()}
        data["aliases"] = list(self.aliases)
        if self.tables:
            data["tables"] = self.tables
        return data


def read_manifest(path: Path) -> Manifest:
    """Parse and check one `service.toml`; `ManifestError` naming the file and the problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: {exc}") from None

    def fail(message: str) -> ManifestError:
        return ManifestError(f"{path}: {message}")

    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 40:
        raise fail(f"name must be lower-case words joined by '-' (1-40 characters), not {name!r}")
    if name != path.parent.name:
        raise fail(f"name {name!r} differs from its folder {path.parent.name!r}")
    gateway = raw.get("gateway")
    if gateway is not None:
        if not isinstance(gateway, dict) or set(gateway) - _GATEWAY_KEYS:
            raise fail(f"[gateway] takes {sorted(_GATEWAY_KEYS)}")
        gateway = {
            "read": gateway.get("read", f"{name}:read"),
            "write": gateway.get("write", f"{name}:write"),
            "rate_class": gateway.get("rate_class", "default"),
            "public": sorted(gateway.get("public", [])),
        }
        for key in ("read", "write"):
            if not isinstance(gateway[key], str) or (gateway[key] and not _PERMISSION.fullmatch(gateway[key])):
                raise fail(f'[gateway] {key} must be a permission or "", not {gateway[key]!r}')
        if not isinstance(gateway["rate_class"], str) or not re.fullmatch(
            r"[a-z][a-z0-9_]{0,31}", gateway["rate_class"]
        ):
            raise fail(f"[gateway] rate_class must be a lower-case word, not {gateway['rate_class']!r}")
        bad = [p for p in gateway["public"] if not isinstance(p, str) or not _PUBLIC.fullmatch(p)]
        if bad:
            raise fail(f'[gateway] public entries look like "GET /path", not {bad}')
    permissions = raw.get("permissions", {})
    if not isinstance(permissions, dict) or not all(isinstance(v, str) for v in permissions.values()):
        raise fail("[permissions] maps each permission to its description")
    for permission in permissions:
        if not _PERMISSION.fullmatch(permission):
            raise fail(f"[permissions] {permission!r} is not a permission (resource or resource:action)")
    roles = raw.get("roles", {})
    if not isinstance(roles, dict) or set(roles) - set(ROLE_NAMES):
        raise fail(f"[roles] grants to the built-in roles {list(ROLE_NAMES)} only (admin holds everything)")
    for role, grants in roles.items():
        if not isinstance(grants, list) or not all(isinstance(g, str) for g in grants):
            raise fail(f"[roles] {role} is a list of permissions")
        undefined = [g for g in grants if g not in permissions]
        if undefined:
            raise fail(f"[roles] {role} is granted {undefined}, which [permissions] does not define")
    aliases = (raw.get("dispatcher") or {}).get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and _HOST.fullmatch(a) for a in aliases):
        raise fail("[dispatcher] aliases is a list of host names")
    tables = _tables(name, raw.get("tables", {}), fail)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise fail("description must be a string")
    return Manifest(
        name=name,
        folder=path.parent,
        description=description,
        gateway=gateway,
        permissions=dict(permissions),
        roles={role: list(grants) for role, grants in roles.items()},
        aliases=[a.lower() for a in aliases],
        tables=tables,
    )


def _tables(service: str, raw: Any, fail: Any) -> dict[str, Any]:
    """The `[tables.<name>]` a service keeps in db (prefix, columns, required), checked and as the
    registry holds them; `fail(message)` makes the error naming the manifest."""
    if not isinstance(raw, dict):
        raise fail("[tables] maps each table name to its declaration ([tables.<name>]: prefix, columns, required)")
    own = service.replace("-", "_") + "_"
    tables: dict[str, Any] = {}
    for name, declaration in raw.items():
        if name in DB_OWN_TABLES or name.startswith(DB_OWN_PREFIXES):
            raise fail(f"[tables.{name}]: {name!r} is a name of db's own schema; name the table {own}<something>")
        if not name.startswith(own) or len(name) == len(own):
            raise fail(f"[tables.{name}]: a table's name starts with its service's name and '_', e.g. {own}items")
        try:
            spec = declared_table(name, declaration)
        except ValueError as exc:
            raise fail(f"[tables.{name}] {exc}") from None
        tables[name] = {"prefix": spec.prefix, "columns": dict(spec.columns), "required": sorted(spec.required)}
    return tables


def manifest_paths(root: Path) -> list[Path]:
    """Every service's manifest: `workers/*/service.toml` and the dispatcher's."""
    return sorted((root / "workers").glob(f"*/{MANIFEST}")) + sorted(root.glob(f"dispatcher/{MANIFEST}"))


def read_manifests(root: Path) -> list[Manifest]:
    """All manifests, checked against each other: one owner per permission, alias and table."""
    manifests = [read_manifest(path) for path in manifest_paths(root)]
    owners: dict[tuple[str, str], str] = {}
    for manifest in manifests:
        facts = [("service", manifest.name)]
        facts += [("permission", p) for p in manifest.permissions]
        facts += [("alias", a) for a in manifest.aliases]
        facts += [("table", t) for t in manifest.tables]
        for fact in facts:
            other = owners.setdefault(fact, manifest.name)
            if other != manifest.name:
                raise ManifestError(f"{fact[0]} {fact[1]!r} is declared by both {other} and {manifest.name}")
    return manifests


def render_registry(manifests: list[Manifest]) -> str:
    """The source of `shared/registry.py`."""
    services = {m.name: m.as_data() for m in sorted(manifests, key=lambda m: m.name)}
    return (
        "# ruff: noqa: E501\n"
        '"""Every service\'s manifest (`service.toml`), as data. Generated by `make registry`: do not edit.\n\n'
        "Read by the gateway (its routing table), `shared.permissions` (the roles), the dispatcher\n"
        "(host aliases) and db (the tables services keep in it). A test fails while this file and the\n"
        "manifests disagree.\n"
        '"""\n\n'
        "from typing import Any\n\n"
        f"SERVICES: dict[str, dict[str, Any]] = {python_literal(services)}\n"
    )


def python_literal(value: Any, indent: str = "") -> str:
    """`value` (JSON-like data) as Python source laid out as `ruff format` leaves it (one item a line)."""
    inner = indent + "    "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = "".join(f"{inner}{python_literal(str(k))}: {python_literal(v, inner)},\n" for k, v in value.items())
        return "{\n" + items + indent + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return "[\n" + "".join(f"{inner}{python_literal(v, inner)},\n" for v in value) + indent + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    raise ManifestError(f"cannot write {type(value).__name__} into the registry")


def render_gateway_bindings(text: str, manifests: list[Manifest]) -> str:
    """The gateway's wrangler.jsonc with the lines between every pair of registry markers regenerated."""
    bindings = [m for m in sorted(manifests, key=lambda m: m.binding) if m.gateway is not None]
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    inside = False
    found = 0
    for line in lines:
        stripped = line.strip()
        if stripped == BINDINGS_BEGIN:
            if inside:
                raise ManifestError(f"{GATEWAY_CONFIG}: a registry marker is not closed")
            inside, found = True, found + 1
            out.append(line)
            indent = line[: len(line) - len(line.lstrip())]
            out += [f'{indent}{{ "binding": "{m.binding}", "service": "{m.name}" }},\n' for m in bindings]
            continue
        if stripped == BINDINGS_END:
            if not inside:
                raise ManifestError(f"{GATEWAY_CONFIG}: '{BINDINGS_END}' without its beginning")
            inside = False
        elif inside:
            continue
        out.append(line)
    if inside:
        raise ManifestError(f"{GATEWAY_CONFIG}: a registry marker is not closed")
    if not found:
        raise ManifestError(f"{GATEWAY_CONFIG}: no '{BINDINGS_BEGIN}' marker in its services")
    result = "".join(out)
    jsonc.loads(result)  # still valid JSONC
    return result


def generated_files(root: Path) -> dict[Path, str]:
    """Each generated file and the text it should have."""
    manifests = read_manifests(root)
    files = {root / REGISTRY: render_registry(manifests)}
    gateway = root / GATEWAY_CONFIG
    if gateway.is_file():
        files[gateway] = render_gateway_bindings(gateway.read_text(encoding="utf-8"), manifests)
    return files


def sync(root: Path, *, check: bool = False) -> list[Path]:
    """Write the generated files (or, with `check`, only compare); the files that were (or would be) changed."""
    changed = []
    for path, text in generated_files(root).items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            changed.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    return changed


def describe(root: Path) -> str:
    """The manifests as JSON, for people and scripts (`python -m dotdo_dev registry --show`)."""
    return json.dumps({m.name: m.as_data() for m in read_manifests(root)}, indent=2, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    """`python -m dotdo_dev.registry [--check | --show]`: write, check or show the generated registries."""
    parser = argparse.ArgumentParser(prog="python -m dotdo_dev.registry", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file disagrees with the manifests")
    parser.add_argument("--show", action="store_true", help="print every manifest as JSON")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (default: here)")
    args = parser.parse_args(argv)
    try:
        if args.show:
            print(describe(args.root))
            return 0
        changed = sync(args.root, check=args.check)
    except ManifestError as exc:
        print(f"registry: {exc}")
        return 2
    for path in changed:
        print(f"registry: {path.relative_to(args.root)} {'is out of date' if args.check else 'written'}")
    if args.check and changed:
        print("registry: run `make registry` to regenerate from the manifests")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
