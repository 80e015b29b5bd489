"""A worker's `wrangler.jsonc`, read the way wrangler reads it: the one config for a worker.

`load_worker(path)` returns a `WorkerConfig` holding the fields the local platform uses. Unknown
fields are kept in `raw` and otherwise ignored (wrangler itself warns about them; the wrangler test
fails on such warnings). Values of the wrong type raise `ConfigError` naming the file and the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotdo_dev import jsonc
from dotdo_dev.dev_vars import declared_names

CONFIG_FILENAME = "wrangler.jsonc"

# Cloudflare's documented defaults and limits for queue consumers.
QUEUE_DEFAULT_BATCH_SIZE = 10
QUEUE_MAX_BATCH_SIZE = 100
QUEUE_DEFAULT_BATCH_TIMEOUT = 5.0
QUEUE_MAX_BATCH_TIMEOUT = 60.0
QUEUE_DEFAULT_MAX_RETRIES = 3
QUEUE_MAX_RETRIES = 100
# The Rate Limiting binding's windows: wrangler accepts no other period.
RATE_LIMIT_PERIODS = (10, 60)


class ConfigError(ValueError):
    """A `wrangler.jsonc` that is malformed or holds a value of the wrong type."""

    def __init__(self, path: str | Path, message: str, *, key: str | None = None, line: int | None = None) -> None:
        self.path = str(path)
        self.key = key
        self.line = line
        where = self.path if line is None else f"{self.path}:{line}"
        prefix = f"{where}: " + (f"{key}: " if key else "")
        super().__init__(prefix + message)


@dataclass(frozen=True)
class ServiceBindingConfig:
    binding: str
    service: str
    entrypoint: str | None = None


@dataclass(frozen=True)
class D1DatabaseConfig:
    binding: str
    database_name: str
    database_id: str


@dataclass(frozen=True)
class KVNamespaceConfig:
    binding: str
    id: str


@dataclass(frozen=True)
class QueueProducerConfig:
    binding: str
    queue: str
    delivery_delay: int = 0


@dataclass(frozen=True)
class QueueConsumerConfig:
    queue: str
    max_batch_size: int = QUEUE_DEFAULT_BATCH_SIZE
    max_batch_timeout: float = QUEUE_DEFAULT_BATCH_TIMEOUT
    max_retries: int = QUEUE_DEFAULT_MAX_RETRIES
    retry_delay: int = 0
    dead_letter_queue: str | None = None


@dataclass(frozen=True)
class DispatchNamespaceConfig:
    binding: str
    namespace: str


@dataclass(frozen=True)
class DurableObjectBindingConfig:
    name: str
    class_name: str
    script_name: str | None = None


@dataclass(frozen=True)
class RateLimitConfig:
    """A `ratelimits` binding: `limit` calls to `limit()` per key per `period` seconds, counted per namespace."""

    name: str
    namespace_id: str
    limit: int
    period: int


@dataclass
class WorkerConfig:
    """The parts of a worker's `wrangler.jsonc` that the local platform acts on."""

    path: Path
    name: str
    main: str
    compatibility_date: str
    compatibility_flags: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    secrets_required: list[str] = field(default_factory=list)
    services: list[ServiceBindingConfig] = field(default_factory=list)
    d1_databases: list[D1DatabaseConfig] = field(default_factory=list)
    kv_namespaces: list[KVNamespaceConfig] = field(default_factory=list)
    queue_producers: list[QueueProducerConfig] = field(default_factory=list)
    queue_consumers: list[QueueConsumerConfig] = field(default_factory=list)
    crons: list[str] = field(default_factory=list)
    dispatch_namespaces: list[DispatchNamespaceConfig] = field(default_factory=list)
    durable_objects: list[DurableObjectBindingConfig] = field(default_factory=list)
    #: Durable Object classes created by `migrations` (`new_sqlite_classes`, `new_classes`), minus deleted ones.
    durable_object_classes: list[str] = field(default_factory=list)
    ratelimits: list[RateLimitConfig] = field(default_factory=list)
    environment: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        """The worker's folder (where `wrangler.jsonc` lives)."""
        return self.path.parent

    @property
    def main_path(self) -> Path:
        return (self.directory / self.main).resolve()

    @property
    def module_root(self) -> Path:
        """The folder that Cloudflare treats as the root of the worker's Python modules."""
        return self.main_path.parent

    @property
    def main_module(self) -> str:
        """The importable name of the main module (`src/entry.py` -> `entry`)."""
        return self.main_path.stem


# Keys that wrangler does not inherit from the top level into an `env.<name>` block.
_NON_INHERITABLE = (
    "vars",
    "services",
    "d1_databases",
    "kv_namespaces",
    "queues",
    "dispatch_namespaces",
    "durable_objects",
    "ratelimits",
    "secrets",
)


def load_worker(path: str | Path, *, environment: str | None = None) -> WorkerConfig:
    """Read `path` (a `wrangler.jsonc` or the folder holding one) as wrangler would.

    With `environment`, the `env.<environment>` block is applied the way wrangler applies it:
    inheritable keys fall back to the top level, bindings and vars do not.
    """
    p = Path(path)
    if p.is_dir():
        p = p / CONFIG_FILENAME
    try:
        raw = jsonc.load(p)
    except FileNotFoundError:
        raise ConfigError(p, "file not found") from None
    except jsonc.JSONCError as exc:
        raise ConfigError(p, exc.reason, line=exc.line) from None
    if not isinstance(raw, dict):
        raise ConfigError(p, "the top level must be an object")
    merged = dict(raw)
    if environment:
        envs = raw.get("env") or {}
        block = envs.get(environment) if isinstance(envs, dict) else None
        if block is not None:
            if not isinstance(block, dict):
                raise ConfigError(p, "must be an object", key=f"env.{environment}")
            for key in _NON_INHERITABLE:
                merged.pop(key, None)
            merged.update(block)
            if "name" not in block and "name" in raw:
                merged["name"] = f"{raw['name']}-{environment}"
    return _parse(p, merged, raw, environment)


LOCAL_ENVIRONMENT = "development"


def load_local(path: str | Path) -> WorkerConfig:
    """A worker's config for the local platform: its `env.development` block if it has one.

    Locally a worker keeps its own name (wrangler would call it `<name>-development`).
    """
    config = load_worker(path)
    envs = config.raw.get("env")
    if isinstance(envs, dict) and LOCAL_ENVIRONMENT in envs:
        local = load_worker(path, environment=LOCAL_ENVIRONMENT)
        local.name = config.name
        return local
    return config


def _parse(p: Path, d: dict[str, Any], raw: dict[str, Any], environment: str | None) -> WorkerConfig:
    r = _Reader(p)
    queues = r.obj(d, "queues")
    triggers = r.obj(d, "triggers")
    secrets = r.obj(d, "secrets")
    durable = r.obj(d, "durable_objects")
    cfg = WorkerConfig(
        path=p.resolve(),
        name=r.string(d, "name", required=True),
        main=r.string(d, "main", required=True),
        compatibility_date=r.string(d, "compatibility_date", required=True),
        compatibility_flags=r.strings(d, "compatibility_flags"),
        vars=r.obj(d, "vars"),
        secrets_required=r.strings(secrets, "required", prefix="secrets"),
        environment=environment,
        raw=raw,
    )
    for i, item in enumerate(r.objs(d, "services")):
        k = f"services[{i}]"
        cfg.services.append(
            ServiceBindingConfig(
                binding=r.string(item, "binding", required=True, prefix=k),
                service=r.string(item, "service", required=True, prefix=k),
                entrypoint=r.string(item, "entrypoint", prefix=k),
            )
        )
    for i, item in enumerate(r.objs(d, "d1_databases")):
        k = f"d1_databases[{i}]"
        binding = r.string(item, "binding", required=True, prefix=k)
        name = r.string(item, "database_name", prefix=k) or binding
        cfg.d1_databases.append(
            D1DatabaseConfig(
                binding=binding, database_name=name, database_id=r.string(item, "database_id", prefix=k) or name
            )
        )
    for i, item in enumerate(r.objs(d, "kv_namespaces")):
        k = f"kv_namespaces[{i}]"
        binding = r.string(item, "binding", required=True, prefix=k)
        cfg.kv_namespaces.append(KVNamespaceConfig(binding=binding, id=r.string(item, "id", prefix=k) or binding))
    for i, item in enumerate(r.objs(queues, "producers", prefix="queues")):
        k = f"queues.producers[{i}]"
        cfg.queue_producers.append(
            QueueProducerConfig(
                binding=r.string(item, "binding", required=True, prefix=k),
                queue=r.string(item, "queue", required=True, prefix=k),
                delivery_delay=r.number(item, "delivery_delay", 0, prefix=k, maximum=43200),
            )
        )
    for i, item in enumerate(r.objs(queues, "consumers", prefix="queues")):
        k = f"queues.consumers[{i}]"
        cfg.queue_consumers.append(
            QueueConsumerConfig(
                queue=r.string(item, "queue", required=True, prefix=k),
                max_batch_size=int(
                    r.number(
                        item,
                        "max_batch_size",
                        QUEUE_DEFAULT_BATCH_SIZE,
                        prefix=k,
                        minimum=1,
                        maximum=QUEUE_MAX_BATCH_SIZE,
                    )
                ),
                max_batch_timeout=float(
                    r.number(
                        item,
                        "max_batch_timeout",
                        QUEUE_DEFAULT_BATCH_TIMEOUT,
                        prefix=k,
                        maximum=QUEUE_MAX_BATCH_TIMEOUT,
                    )
                ),
                max_retries=int(
                    r.number(item, "max_retries", QUEUE_DEFAULT_MAX_RETRIES, prefix=k, maximum=QUEUE_MAX_RETRIES)
                ),
                retry_delay=int(r.number(item, "retry_delay", 0, prefix=k, maximum=43200)),
                dead_letter_queue=r.string(item, "dead_letter_queue", prefix=k),
            )
        )
    cfg.crons = r.strings(triggers, "crons", prefix="triggers")
    for i, item in enumerate(r.objs(d, "dispatch_namespaces")):
        k = f"dispatch_namespaces[{i}]"
        cfg.dispatch_namespaces.append(
            DispatchNamespaceConfig(
                binding=r.string(item, "binding", required=True, prefix=k),
                namespace=r.string(item, "namespace", required=True, prefix=k),
            )
        )
    for i, item in enumerate(r.objs(durable, "bindings", prefix="durable_objects")):
        k = f"durable_objects.bindings[{i}]"
        cfg.durable_objects.append(
            DurableObjectBindingConfig(
                name=r.string(item, "name", required=True, prefix=k),
                class_name=r.string(item, "class_name", required=True, prefix=k),
                script_name=r.string(item, "script_name", prefix=k),
            )
        )
    for i, item in enumerate(r.objs(d, "migrations")):
        k = f"migrations[{i}]"
        r.string(item, "tag", required=True, prefix=k)
        for key in ("new_sqlite_classes", "new_classes"):
            cfg.durable_object_classes += r.strings(item, key, prefix=k)
        for gone in r.strings(item, "deleted_classes", prefix=k):
            if gone in cfg.durable_object_classes:
                cfg.durable_object_classes.remove(gone)
    for i, binding in enumerate(cfg.durable_objects):
        if binding.script_name is None and binding.class_name not in cfg.durable_object_classes:
            raise ConfigError(
                p,
                f"class {binding.class_name!r} is bound but no migration creates it "
                '(add {"tag": "v1", "new_sqlite_classes": ["' + binding.class_name + '"]} to "migrations")',
                key=f"durable_objects.bindings[{i}].class_name",
            )
    cfg.ratelimits = _ratelimits(r, d)
    _unique_binding_names(p, cfg)
    if not cfg.main.endswith(".py"):
        raise ConfigError(p, "a Python Worker's main module must be a .py file", key="main")
    if "python_workers" not in cfg.compatibility_flags:
        raise ConfigError(p, 'a Python Worker needs the "python_workers" flag', key="compatibility_flags")
    return cfg


def _ratelimits(r: _Reader, d: dict[str, Any]) -> list[RateLimitConfig]:
    """`ratelimits`, validated as wrangler validates them, and stricter where Cloudflare's docs are:
    `namespace_id` is a string holding a positive integer, `simple.limit` a positive integer."""
    found = []
    for i, item in enumerate(r.objs(d, "ratelimits")):
        k = f"ratelimits[{i}]"
        name = r.string(item, "name", required=True, prefix=k)
        namespace_id = r.string(item, "namespace_id", required=True, prefix=k)
        if not namespace_id.isascii() or not namespace_id.isdigit() or int(namespace_id) < 1:
            raise r._fail(
                f"{k}.namespace_id", f'must be a string holding a positive integer ("1001"), not {namespace_id!r}'
            )
        simple = item.get("simple")
        if not isinstance(simple, dict):
            raise r._fail(f"{k}.simple", 'is required: {"limit": <requests>, "period": 10 or 60}')
        unknown = sorted(set(simple) - {"limit", "period"})
        if unknown:
            raise r._fail(f"{k}.simple", f"unexpected fields {unknown} (only limit and period)")
        limit = simple.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise r._fail(f"{k}.simple.limit", f"must be a positive integer, not {limit!r}")
        period = simple.get("period")
        if isinstance(period, bool) or period not in RATE_LIMIT_PERIODS:
            raise r._fail(f"{k}.simple.period", f"must be either 10 or 60, not {period!r}")
        found.append(RateLimitConfig(name=name, namespace_id=namespace_id, limit=limit, period=int(period)))
    return found


def _unique_binding_names(p: Path, cfg: WorkerConfig) -> None:
    """A rate limit binding's name is used by no other binding, var or required secret.

    Stricter than wrangler 4.164, whose duplicate-name check misses `ratelimits` (it reads `binding`
    fields; a rate limit is named by `name`): two bindings of one name cannot both be in `env`."""
    others = [
        *cfg.vars,
        *cfg.secrets_required,
        *(s.binding for s in cfg.services),
        *(d.binding for d in cfg.d1_databases),
        *(k.binding for k in cfg.kv_namespaces),
        *(q.binding for q in cfg.queue_producers),
        *(n.binding for n in cfg.dispatch_namespaces),
        *(o.name for o in cfg.durable_objects),
    ]
    seen: set[str] = set()
    for i, limiter in enumerate(cfg.ratelimits):
        if limiter.name in seen or limiter.name in others:
            raise ConfigError(
                p,
                f"{limiter.name} is assigned to more than one binding (names must be unique)",
                key=f"ratelimits[{i}].name",
            )
        seen.add(limiter.name)


class _Reader:
    """Typed access to config values, with errors that name the file and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.path, message, key=key)

    @staticmethod
    def _key(prefix: str | None, key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    def string(self, d: dict[str, Any], key: str, *, required: bool = False, prefix: str | None = None) -> Any:
        value = d.get(key)
        if value is None:
            if required:
                raise self._fail(self._key(prefix, key), "is required")
            return None
        if not isinstance(value, str) or (required and not value):
            raise self._fail(self._key(prefix, key), f"must be a non-empty string, not {value!r}")
        return value

    def strings(self, d: dict[str, Any], key: str, *, prefix: str | None = None) -> list[str]:
        value = d.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(self._key(prefix, key), "must be a list of strings")
        return list(value)

    def obj(self, d: dict[str, Any], key: str, *, prefix: str | None = None) -> dict[str, Any]:
        value = d.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._fail(self._key(prefix, key), "must be an object")
        return value

    def objs(self, d: dict[str, Any], key: str, *, prefix: str | None = None) -> list[dict[str, Any]]:
        value = d.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self._fail(self._key(prefix, key), "must be a list of objects")
        return value

    def number(
        self,
        d: dict[str, Any],
        key: str,
        default: float,
        *,
        prefix: str | None = None,
        minimum: float = 0,
        maximum: float | None = None,
    ) -> Any:
        value = d.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(self._key(prefix, key), f"must be a number, not {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            raise self._fail(self._key(prefix, key), f"must be between {minimum} and {maximum}, not {value!r}")
        return value


def read_dev_vars(path: str | Path) -> dict[str, str]:
    """Read a `.dev.vars` file (dotenv syntax: `KEY=value`, `#` comments, optional quotes)."""
    p = Path(path)
    if not p.is_file():
        return {}
    values: dict[str, str] = {}
    for number, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, value = stripped.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            # The message names the line, never the value: it may be a secret.
            raise ConfigError(p, "expected KEY=value", line=number)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def secrets_for(config: WorkerConfig, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Secrets for a worker: its `.dev.vars` (or `.dev.vars.<env>`), then the process environment.

    The environment supplies a value for any secret the worker declares (in `secrets.required`, in
    `.dev.vars` or in `.dev.vars.example`) and overrides the file; plain `vars` come from
    `wrangler.jsonc` only, as in wrangler.
    """
    environ = dict(os.environ if environ is None else environ)
    directory = config.directory
    dev_vars = directory / ".dev.vars"
    if config.environment and (directory / f".dev.vars.{config.environment}").is_file():
        dev_vars = directory / f".dev.vars.{config.environment}"
    values = read_dev_vars(dev_vars)
    for name in {*values, *config.secrets_required, *declared_names(directory)}:
        if name in environ:
            values[name] = environ[name]
    return values


def missing_secrets(config: WorkerConfig, secrets: dict[str, str]) -> list[str]:
    """Names in `secrets.required` that have no value."""
    return [name for name in config.secrets_required if name not in secrets]
