"""A worker's `wrangler.jsonc` (or `wrangler.json`, `wrangler.toml`), read the way wrangler reads it.

A folder's config is the first of `CONFIG_FILENAMES` it holds, wrangler's own order (`findWranglerConfig`
in wrangler's cli.js: `wrangler.json`, then `wrangler.jsonc`, then `wrangler.toml`); the JSON forms are
read as JSONC (comments and trailing commas allowed, as wrangler allows them), TOML with the standard
library's `tomllib`. The keys are the same in every format.

`load_worker(path)` returns a `WorkerConfig` holding the fields the local platform uses. Unknown
fields are kept in `raw` and otherwise ignored (wrangler itself warns about them; the wrangler test
fails on such warnings). Values of the wrong type raise `ConfigError` naming the file and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dotdo_dev import jsonc
from dotdo_dev.config_reader import ConfigError, ConfigReader
from dotdo_dev.dev_vars import declared_names
from dotdo_dev.registry import environment_name
from dotdo_dev.runtime.bindings import BINDING_KINDS
from dotdo_dev.runtime.bindings.not_provided import binding_names

__all__ = [
    "CONFIG_FILENAME",
    "CONFIG_FILENAMES",
    "LOCAL_ENVIRONMENT",
    "ConfigError",
    "WorkerConfig",
    "find_config",
    "load_local",
    "load_worker",
    "local_name",
    "missing_secrets",
    "read_dev_vars",
    "secrets_for",
]

CONFIG_FILENAME = "wrangler.jsonc"  # what this repository's workers use (and what generated ones get)
#: The config files wrangler looks for in a folder, in its order: the first one present is the config.
CONFIG_FILENAMES = ("wrangler.json", CONFIG_FILENAME, "wrangler.toml")
_TOML_LINE = re.compile(r"\(at line (\d+)")


#: Wrangler binding sections the local runtime does not provide, and what they are. A worker declaring one
#: runs, the platform naming them at its start, and each such `env.<NAME>` raises a clear
#: NotImplementedError when used (`runtime/bindings/not_provided.py`); building and deploying are unaffected.
NOT_PROVIDED_LOCALLY = {
    "analytics_engine_datasets": "Analytics Engine",
    "browser": "Browser Rendering",
    "hyperdrive": "Hyperdrive",
    "images": "Images",
    "mtls_certificates": "mTLS certificates",
    "pipelines": "Pipelines",
    "secrets_store_secrets": "Secrets Store",
    "send_email": "Email Routing's send_email",
    "unsafe": "unsafe bindings",
    "vectorize": "Vectorize",
    "version_metadata": "version metadata",
    "worker_loaders": "Worker Loaders",
}


def find_config(folder: str | Path) -> Path | None:
    """The config wrangler would read in `folder` (the first of `CONFIG_FILENAMES` there), or None."""
    for name in CONFIG_FILENAMES:
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def _read(path: Path) -> Any:
    """The parsed file: TOML for `.toml`, JSONC otherwise. ConfigError with the line where it can tell."""
    try:
        if path.suffix == ".toml":
            with path.open("rb") as fh:
                return tomllib.load(fh)
        return jsonc.load(path)
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except jsonc.JSONCError as exc:
        raise ConfigError(path, exc.reason, line=exc.line) from None
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        raise ConfigError(path, f"invalid TOML: {exc}", line=int(found.group(1)) if found else None) from None


@dataclass
class WorkerConfig:
    """The parts of a worker's `wrangler.jsonc` that the local platform acts on.

    Bindings are read by their kinds (`dotdo_dev.runtime.bindings.BINDING_KINDS`) into `bindings`,
    sections by name, each also an attribute: `config.d1_databases`, `config.kv_namespaces`,
    `config.queue_producers`, `config.queue_consumers`, `config.services`, `config.durable_objects`,
    `config.durable_object_classes` (created by `migrations`), `config.dispatch_namespaces`,
    `config.ratelimits`.
    """

    path: Path
    name: str
    main: str
    compatibility_date: str
    compatibility_flags: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    secrets_required: list[str] = field(default_factory=list)
    crons: list[str] = field(default_factory=list)
    #: Every binding kind's sections, by name: `{"d1_databases": [D1DatabaseConfig, ...], ...}`.
    bindings: dict[str, Any] = field(default_factory=dict)
    environment: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    #: Binding sections the local runtime does not provide (`NOT_PROVIDED_LOCALLY` keys): the binding names
    #: each declares, which `env` holds as `NotProvided` stand-ins (`runtime/bindings/not_provided.py`).
    not_provided: dict[str, list[str]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # Called only for a name that is not a field: a binding section, else the usual AttributeError.
        sections = self.__dict__.get("bindings", {})
        if name in sections:
            return sections[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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


def _non_inheritable() -> tuple[str, ...]:
    """Keys that wrangler does not inherit from the top level into an `env.<name>` block."""
    return ("vars", "secrets", *(key for kind in BINDING_KINDS for key in kind.keys))


def load_worker(path: str | Path, *, environment: str | None = None) -> WorkerConfig:
    """Read `path` (a config file, or a folder holding one: `find_config`) as wrangler would.

    With `environment`, the `env.<environment>` block is applied the way wrangler applies it:
    inheritable keys fall back to the top level, bindings and vars do not.
    """
    p = Path(path)
    if p.is_dir():
        found = find_config(p)
        if found is None:
            raise ConfigError(p, f"no worker config here (looked for {', '.join(CONFIG_FILENAMES)})")
        p = found
    raw = _read(p)
    if not isinstance(raw, dict):
        raise ConfigError(p, "the top level must be an object")
    merged = dict(raw)
    if environment:
        envs = raw.get("env") or {}
        block = envs.get(environment) if isinstance(envs, dict) else None
        if block is not None:
            if not isinstance(block, dict):
                raise ConfigError(p, "must be an object", key=f"env.{environment}")
            for key in _non_inheritable():
                merged.pop(key, None)
            merged.update(block)
            if "name" not in block and "name" in raw:
                merged["name"] = environment_name(raw["name"], environment)
    return _parse(p, merged, raw, environment)


LOCAL_ENVIRONMENT = "development"


def load_local(path: str | Path) -> WorkerConfig:
    """A worker's config for the local platform: its `env.development` block if it has one.

    Locally a worker keeps its own name (wrangler would call it `<name>-development`), and so does
    every worker it binds. On Cloudflare a service binding in `env.development` names the Worker of
    that environment, `auth-development` (`dotdo_dev.registry.environment_name`); here it reaches the
    local worker `auth` (`local_name`). This is the one place the local platform translates names: a
    config without an `env.development` block (the top level) is read as it is written.
    """
    config = load_worker(path)
    envs = config.raw.get("env")
    if isinstance(envs, dict) and LOCAL_ENVIRONMENT in envs:
        local = load_worker(path, environment=LOCAL_ENVIRONMENT)
        local.name = config.name
        local.bindings["services"] = [replace(s, service=local_name(s.service)) for s in local.services]
        return local
    return config


def local_name(name: str) -> str:
    """The local worker a service binding of `env.development` reaches: `auth-development` -> `auth`."""
    return name.removesuffix(f"-{LOCAL_ENVIRONMENT}")


def _parse(p: Path, d: dict[str, Any], raw: dict[str, Any], environment: str | None) -> WorkerConfig:
    r = ConfigReader(p)
    triggers = r.obj(d, "triggers")
    secrets = r.obj(d, "secrets")
    cfg = WorkerConfig(
        path=p.resolve(),
        name=r.string(d, "name", required=True),
        main=r.string(d, "main", required=d.get("assets") is None) or "",  # "": an assets-only Worker
        compatibility_date=r.string(d, "compatibility_date", required=True),
        compatibility_flags=r.strings(d, "compatibility_flags"),
        vars=r.obj(d, "vars"),
        secrets_required=r.strings(secrets, "required", prefix="secrets"),
        crons=r.strings(triggers, "crons", prefix="triggers"),
        environment=environment,
        raw=raw,
    )
    for kind in BINDING_KINDS:
        cfg.bindings.update(kind.parse(r, d))
    for kind in BINDING_KINDS:
        others = {*cfg.vars, *cfg.secrets_required}
        others.update(name for other in BINDING_KINDS if other is not kind for name in other.names(cfg.bindings))
        kind.validate(r, cfg.bindings, others)
    cfg.not_provided = {key: binding_names(key, d[key]) for key in NOT_PROVIDED_LOCALLY if d.get(key)}
    if not cfg.main and cfg.assets:
        return cfg  # an assets-only Worker: no script, no Python
    if not cfg.main.endswith(".py"):
        raise ConfigError(p, "a Python Worker's main module must be a .py file", key="main")
    if "python_workers" not in cfg.compatibility_flags:
        raise ConfigError(p, 'a Python Worker needs the "python_workers" flag', key="compatibility_flags")
    return cfg


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
