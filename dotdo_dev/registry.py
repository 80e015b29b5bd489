"""Service manifests (`service.toml` beside each `wrangler.jsonc`) and the registries generated from them.

Each service owns its facts: where it lives on Cloudflare (`placement`), its gateway route (prefix,
permissions, public paths, rate class), the permissions it defines, what the built-in roles are
granted, its host aliases, and the tables it keeps through db. Nothing central lists services by
hand; three files are generated:

- `shared/registry.py`: `SERVICES` (every manifest, as data), read at run time by the gateway
  (routing table, and which services it reaches by binding), auth (`shared.permissions.ROLES`), the
  dispatcher (host aliases, and which services it reaches by binding) and db (the tables services
  keep in it, `[tables.<name>]`: workers/db/src/tables.py);
- the gateway's service bindings, in every environment of `workers/gateway/wrangler.jsonc`
  (the lines between the registry markers): one per account-level service with a `[gateway]` table;
- the dispatcher's service bindings, likewise in `dispatcher/wrangler.jsonc`: one per account-level
  service.

Each binding names the target Worker of its own environment: `wrangler deploy --env staging` uploads
a Worker as `<name>-staging` (`environment_name`), so the top level binds `"service": "auth"`
(production), `env.staging` binds `"auth-staging"` and `env.development` `"auth-development"`; the
suffix is the name of the env block the markers are in. `binding_problems` holds every
`wrangler.jsonc` to the same rule, hand-written bindings too.

`placement` (docs/architecture.md, deployment topology): `"account"` for the platform's own Workers
(an account-level Worker, reached through service bindings), `"namespace"` (the default, and what
`create-service` makes) for a service in the dispatch namespace `dotdo-<env>`, reached through a
`dispatch_namespaces` binding (`env.DISPATCHER.get(name)`, the gateway's `env.NAMESPACE.get(name)`).
On Cloudflare a service binding can only name an account-level Worker, and a namespace's `get` only
finds the namespace's scripts, so nothing binds a namespace service (`binding_problems`).

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
DISPATCHER_CONFIG = Path("dispatcher") / "wrangler.jsonc"
#: Where a service lives on Cloudflare: an account-level Worker, or a script in the dispatch namespace.
ACCOUNT, NAMESPACE = "account", "namespace"
PLACEMENTS = (ACCOUNT, NAMESPACE)
DEFAULT_PLACEMENT = NAMESPACE
#: The routed Worker: account-level always, and no one's binding target.
DISPATCHER = "dispatcher"
BINDINGS_BEGIN = "// registry: generated from each service.toml by `make registry`; do not edit"
BINDINGS_END = "// registry: end"

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_PERMISSION = re.compile(r"^[a-z][a-z0-9_-]{0,31}(:[a-z][a-z0-9_-]{0,31})?$")
_PUBLIC = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) /\S*$")
_RATE_CLASS = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_HOST = re.compile(r"^[^\s/:]{1,253}$")
ROLE_NAMES = ("user", "viewer")  # admin holds "*"
_TOP_KEYS = {"name", "description", "placement", "gateway", "permissions", "roles", "dispatcher", "tables"}
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
    #: `account` (an account-level Worker, reached through service bindings) or `namespace` (a script
    #: of the dispatch namespace `dotdo-<env>`, reached through `DISPATCHER.get(name)`).
    placement: str = DEFAULT_PLACEMENT
    #: None: not reachable through the gateway. Else `read`, `write` ("" = any authenticated
    #: caller), `rate_class`, `public` ("METHOD /path" reachable without a token).
    gateway: dict[str, Any] | None = None
    permissions: dict[str, str] = field(default_factory=dict)
    roles: dict[str, list[str]] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)

    @property
    def binding(self) -> str:
        """The name of a service binding to it: `order-history` -> `ORDER_HISTORY_SERVICE`."""
        return self.name.replace("-", "_").upper() + "_SERVICE"

    @property
    def account_level(self) -> bool:
        return self.placement == ACCOUNT

    @property
    def bound(self) -> bool:
        """Whether other Workers reach it through a service binding: account-level, and not the dispatcher."""
        return self.account_level and self.name != DISPATCHER

    def as_data(self) -> dict[str, Any]:
        """The manifest as `shared/registry.py` holds it: `binding` only for a service reached by one."""
        data: dict[str, Any] = {"name": self.name, "description": self.description, "placement": self.placement}
        if self.bound:
            data["binding"] = self.binding
        if self.gateway is not None:
            data["gateway"] = dict(self.gateway)
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
    placement = raw.get("placement", DEFAULT_PLACEMENT)
    if placement not in PLACEMENTS:
        raise fail(f"placement is {' or '.join(repr(p) for p in PLACEMENTS)}, not {placement!r}")
    if name == DISPATCHER and placement != ACCOUNT:
        raise fail(f"the dispatcher is the routed Worker: its placement is {ACCOUNT!r}")
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
        placement=placement,
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
        "(host aliases) and db (the tables services keep in it). `placement` says where a service lives on\n"
        "Cloudflare; `binding`, present for the account-level ones, is the service binding that reaches it\n"
        "(the others are reached through the dispatch namespace). A test fails while this file and the\n"
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


def gateway_bindings(manifests: list[Manifest]) -> list[Manifest]:
    """The services the gateway reaches through a service binding: account-level, with a `[gateway]` table."""
    return sorted((m for m in manifests if m.bound and m.gateway is not None), key=lambda m: m.binding)


def dispatcher_bindings(manifests: list[Manifest]) -> list[Manifest]:
    """The services the dispatcher reaches through a service binding: every account-level one but itself."""
    return sorted((m for m in manifests if m.bound), key=lambda m: m.binding)


def environment_name(name: str, environment: str | None) -> str:
    """The name of the Worker `name` deployed with `wrangler deploy --env <environment>`: wrangler names
    it `<name>-<environment>` (Cloudflare's docs, "Environments"); the top level (None) is `name`."""
    return f"{name}-{environment}" if environment else name


def config_blocks(raw: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """A parsed wrangler.jsonc's top level (None) and each `env.<name>` block, with their names."""
    envs = raw.get("env")
    blocks: list[tuple[str | None, dict[str, Any]]] = [(None, raw)]
    if isinstance(envs, dict):
        blocks += [(env, block) for env, block in envs.items() if isinstance(block, dict)]
    return blocks


def _replace_between_markers(text: str, where: Path | str, lines_for: Any) -> tuple[str, int]:
    """`text` with the lines between the i-th pair of registry markers replaced by `lines_for(i, indent)`;
    and how many pairs there are."""
    out: list[str] = []
    inside = False
    found = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == BINDINGS_BEGIN:
            if inside:
                raise ManifestError(f"{where}: a registry marker is not closed")
            inside, found = True, found + 1
            out.append(line)
            out += lines_for(found - 1, line[: len(line) - len(line.lstrip())])
            continue
        if stripped == BINDINGS_END:
            if not inside:
                raise ManifestError(f"{where}: '{BINDINGS_END}' without its beginning")
            inside = False
        elif inside:
            continue
        out.append(line)
    if inside:
        raise ManifestError(f"{where}: a registry marker is not closed")
    if not found:
        raise ManifestError(f"{where}: no '{BINDINGS_BEGIN}' marker in its services")
    return "".join(out), found


_PROBE = "registry-marker-"


def marker_environments(text: str, where: Path | str) -> list[str | None]:
    """The environment each pair of registry markers of a wrangler.jsonc is in, in order: None for the
    top level's `services`, `<e>` for those of `env.<e>`. Found by parsing the file with a probe binding
    between each pair; a pair anywhere else is refused."""
    probed, count = _replace_between_markers(
        text, where, lambda i, indent: [f'{indent}{{ "binding": "REGISTRY_PROBE", "service": "{_PROBE}{i}" }},\n']
    )
    try:
        raw = jsonc.loads(probed)
    except jsonc.JSONCError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    found: dict[int, str | None] = {}
    for env, block in config_blocks(raw if isinstance(raw, dict) else {}):
        services = block.get("services")
        for binding in services if isinstance(services, list) else []:
            service = binding.get("service") if isinstance(binding, dict) else None
            if isinstance(service, str) and service.startswith(_PROBE):
                found[int(service.removeprefix(_PROBE))] = env
    if sorted(found) != list(range(count)):
        raise ManifestError(
            f"{where}: registry markers belong in the `services` of the top level or of an `env.<name>` block"
        )
    return [found[i] for i in range(count)]


def render_bindings(text: str, bound: list[Manifest], where: Path | str) -> str:
    """A wrangler.jsonc (`where`, for messages) with the lines between every pair of registry markers
    replaced by one service binding per manifest of `bound`, naming the Worker of the markers'
    environment (`environment_name`: `auth` at the top level, `auth-staging` in `env.staging`)."""
    environments = marker_environments(text, where)

    def lines_for(i: int, indent: str) -> list[str]:
        env = environments[i]
        return [
            f'{indent}{{ "binding": "{m.binding}", "service": "{environment_name(m.name, env)}" }},\n' for m in bound
        ]

    result, _ = _replace_between_markers(text, where, lines_for)
    jsonc.loads(result)  # still valid JSONC
    return result


def render_gateway_bindings(text: str, manifests: list[Manifest]) -> str:
    """The gateway's wrangler.jsonc with its generated service bindings (`gateway_bindings`)."""
    return render_bindings(text, gateway_bindings(manifests), GATEWAY_CONFIG)


def render_dispatcher_bindings(text: str, manifests: list[Manifest]) -> str:
    """The dispatcher's wrangler.jsonc with its generated service bindings (`dispatcher_bindings`)."""
    return render_bindings(text, dispatcher_bindings(manifests), DISPATCHER_CONFIG)


def generated_files(root: Path) -> dict[Path, str]:
    """Each generated file and the text it should have."""
    manifests = read_manifests(root)
    files = {root / REGISTRY: render_registry(manifests)}
    for config, render in ((GATEWAY_CONFIG, render_gateway_bindings), (DISPATCHER_CONFIG, render_dispatcher_bindings)):
        if (root / config).is_file():
            files[root / config] = render((root / config).read_text(encoding="utf-8"), manifests)
    return files


def account_level(root: Path) -> list[str]:
    """The names of the account-level services (the dispatcher among them), from their manifests."""
    return [m.name for m in read_manifests(root) if m.account_level]


def declared_placement(config: Path) -> str | None:
    """The placement the manifest beside a worker's `wrangler.jsonc` declares (`config`: that file or its
    folder); None when the worker has no manifest that can be read. Lenient: for the local runtime,
    which must not fail on a manifest `make registry` would refuse."""
    folder = config if config.is_dir() else config.parent
    try:
        raw = tomllib.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    placement = raw.get("placement", DEFAULT_PLACEMENT)
    return placement if placement in PLACEMENTS else None


def worker_configs(root: Path) -> list[Path]:
    """Every worker's `wrangler.jsonc`: the dispatcher's and those under `workers/`."""
    found = [root / DISPATCHER_CONFIG, *sorted((root / "workers").glob("*/wrangler.jsonc"))]
    return [p for p in found if p.is_file()]


def binding_problems(root: Path) -> list[str]:
    """Service bindings, in any environment of any worker's wrangler.jsonc, that cannot work on
    Cloudflare or reach the Worker of another environment:

    - one naming a namespace service (by its name, or `<name>-<environment>`): a namespace script is
      reached through a `dispatch_namespaces` binding instead;
    - in `env.<e>`, one not naming `<target>-<e>`: `wrangler deploy --env <e>` uploads every Worker of
      that environment as `<name>-<e>` (`environment_name`), so a bare `auth` there is production's;
    - at the top level (production), one naming `<target>-<e>` for an environment `<e>` of these configs;
    - a worker with service bindings and without an `env.<e>` block that another worker has: built with
      `--env <e>`, wrangler would use its top level's bindings, which name production's Workers.
    """
    in_namespace = {m.name for m in read_manifests(root) if not m.account_level}
    configs: list[tuple[Path, dict[str, Any]]] = []
    for path in worker_configs(root):
        try:
            raw = jsonc.load(path)
        except (OSError, jsonc.JSONCError) as exc:
            raise ManifestError(f"{path}: {exc}") from None
        if isinstance(raw, dict):
            configs.append((path, raw))
    environments = sorted({env for _, raw in configs for env, _ in config_blocks(raw) if env is not None})
    problems = []
    for path, raw in configs:
        where = path.relative_to(root)
        blocks = config_blocks(raw)
        bindings = [(env, b) for env, block in blocks for b in block.get("services") or [] if isinstance(b, dict)]
        for env, binding in bindings:
            target = binding.get("service")
            if not isinstance(target, str):
                continue
            name = target.removesuffix(f"-{env}") if env else target
            label = f"{where} [{env or 'top'}]: service binding {binding.get('binding')!r} names {target!r}"
            # the environment whose Worker it names, by its suffix (None: production's)
            named = next((e for e in environments if target.endswith(f"-{e}")), None)
            base = target.removesuffix(f"-{named}") if named else target
            whose = f"the Worker of the {named} environment" if named else "production's Worker"
            if name in in_namespace:
                problems.append(
                    f"{label}, a service of the dispatch namespace; on Cloudflare a service binding "
                    "can only name an account-level Worker (reach it with a dispatch_namespaces binding: "
                    f"env.NAMESPACE.get({name!r}))"
                )
            elif env and named != env:
                problems.append(
                    f"{label}, {whose}; in env.{env} a binding names the Worker of that environment, "
                    f"{environment_name(base, env)!r} (wrangler deploy --env {env} names every Worker <name>-{env})"
                )
            elif not env and named:
                problems.append(f"{label}, {whose}; the top level is production and names {base!r}")
        if bindings:
            have = {env for env, _ in blocks}
            for env in environments:
                if env not in have:
                    problems.append(
                        f"{where}: no env.{env} block; built with --env {env}, wrangler would deploy the top "
                        f"level's service bindings, which name production's Workers (add env.{env} with "
                        f"its own bindings, each naming <target>-{env})"
                    )
    return problems


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
        problems = binding_problems(args.root)
    except ManifestError as exc:
        print(f"registry: {exc}")
        return 2
    for path in changed:
        print(f"registry: {path.relative_to(args.root)} {'is out of date' if args.check else 'written'}")
    for problem in problems:
        print(f"registry: {problem}")
    if args.check and changed:
        print("registry: run `make registry` to regenerate from the manifests")
    return 1 if problems or (args.check and changed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
