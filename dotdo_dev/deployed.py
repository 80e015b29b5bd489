"""Scripts uploaded to the Cloudflare API stand-in, laid out for the local platform to run.

    folder = lay_out(bundle_dir, name="orders", into=state_root / "cloudflare-api" / "run")
    # folder / "wrangler.jsonc": what LocalPlatform starts, like any worker

An upload (`dotdo_dev.cloudflare_api`) is kept content-addressed as `bundles/<etag>/metadata.json` and
`modules/<path>`: the modules exactly as the deploy worker sent them. To run it under CPython, this
module writes a folder per (script, bundle):

    run/<name>-<etag[:16]>/
        wrangler.jsonc   from the upload's metadata: main module, compatibility date and flags, and
                         each binding back in wrangler's shape (plain_text/json -> vars, service ->
                         services, d1 -> d1_databases, ...)
        .dev.vars        the upload's secret_text bindings (0600), if any
        src -> ../../bundles/<etag>/modules      the uploaded modules, the module root
        lib/<package> -> the upload's first-party packages (python_modules/shared, ...)

`lib/` goes first on the worker's `PYTHONPATH` (`PYTHONPATH_ENTRY`): the uploaded `shared/` is the one
that runs, not the repository's. Third-party packages (pydantic, httpx, ...) are Pyodide builds in the
upload and cannot load in CPython: the local environment's copies run in their place, as for every
local worker. Cloudflare's `workers` SDK is the local stand-in, likewise.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

#: Files and folders of python_modules/ that are Cloudflare's SDK (the local stand-in replaces them).
SDK_ENTRIES = ("workers", "asgi.py", "asgi")
SDK_PREFIX = "_workers_sdk"
#: The distribution this repository installs (its `shared` package is first-party in an upload).
OWN_DISTRIBUTION = "dotdo-workers"


class LayoutError(ValueError):
    """The upload cannot be run locally; the message says why (the upload itself stays stored)."""


def third_party_packages() -> frozenset[str]:
    """Import names that installed distributions other than this repository provide."""
    names = set()
    for name, distributions in importlib_metadata.packages_distributions().items():
        if any(d.lower().replace("_", "-") != OWN_DISTRIBUTION for d in distributions):
            names.add(name)
    return frozenset(names)


def first_party(python_modules: Path, third_party: frozenset[str] | None = None) -> list[str]:
    """Top-level entries of an upload's `python_modules/` that are the service's own packages.

    Left out: dist-info folders, the SDK's files, `.pth` files and whatever an installed third-party
    distribution provides (its CPython build runs instead).
    """
    if not python_modules.is_dir():
        return []
    third_party = third_party_packages() if third_party is None else third_party
    found = []
    for entry in sorted(python_modules.iterdir()):
        name = entry.name
        stem = name[:-3] if name.endswith(".py") else name
        if name.endswith((".dist-info", ".pth")) or name in SDK_ENTRIES or name.startswith(SDK_PREFIX):
            continue
        if name == "__pycache__" or stem in third_party:
            continue
        if entry.is_dir() or name.endswith(".py"):
            found.append(name)
    return found


#: What an environment block holds: wrangler carries none of these into an environment.
ENVIRONMENT_KEYS = (
    "vars",
    "services",
    "d1_databases",
    "kv_namespaces",
    "queues",
    "durable_objects",
    "ratelimits",
    "dispatch_namespaces",
)


def wrangler_config(
    name: str, metadata: dict[str, Any], *, environment: str | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """(wrangler.jsonc as a dict, secrets) for an upload's metadata part.

    With `environment` (the one the upload's namespace serves, e.g. `development`), the vars and
    bindings are written into `env.<environment>` as well: an upload built for that environment binds
    that environment's Workers (`auth-development`), and `config.load_local` reads them from there as
    it reads every worker's development block (translating `auth-development` to the local `auth`).
    """
    config: dict[str, Any] = {
        "name": name,
        "main": f"src/{metadata['main_module']}",
        "compatibility_date": metadata.get("compatibility_date", "2026-11-01"),
        "compatibility_flags": list(metadata.get("compatibility_flags", [])),
        "workers_dev": False,
    }
    secrets: dict[str, str] = {}
    lists: dict[str, list[dict[str, Any]]] = {}

    def add(key: str, item: dict[str, Any]) -> None:
        lists.setdefault(key, []).append(item)

    for binding in metadata.get("bindings", []):
        kind, binding_name = binding["type"], binding["name"]
        if kind == "plain_text":
            config.setdefault("vars", {})[binding_name] = binding["text"]
        elif kind == "json":
            config.setdefault("vars", {})[binding_name] = binding["json"]
        elif kind == "secret_text":
            secrets[binding_name] = binding["text"]
        elif kind == "service":
            service = {"binding": binding_name, "service": binding["service"]}
            if binding.get("entrypoint"):
                service["entrypoint"] = binding["entrypoint"]
            add("services", service)
        elif kind == "d1":
            add("d1_databases", {"binding": binding_name, "database_name": binding["id"], "database_id": binding["id"]})
        elif kind == "kv_namespace":
            add("kv_namespaces", {"binding": binding_name, "id": binding["namespace_id"]})
        elif kind == "queue":
            config.setdefault("queues", {}).setdefault("producers", []).append(
                {"binding": binding_name, "queue": binding["queue_name"]}
            )
        elif kind == "durable_object_namespace":
            config.setdefault("durable_objects", {}).setdefault("bindings", []).append(
                {"name": binding_name, "class_name": binding["class_name"]}
            )
        elif kind == "ratelimit":
            add(
                "ratelimits",
                {"name": binding_name, "namespace_id": binding["namespace_id"], "simple": dict(binding["simple"])},
            )
        elif kind == "dispatch_namespace":
            add("dispatch_namespaces", {"binding": binding_name, "namespace": binding["namespace"]})
        else:
            raise LayoutError(f"the local platform cannot run a binding of type {kind!r} ({binding_name})")
    config.update(lists)
    if environment is not None:
        config["env"] = {environment: {key: config[key] for key in ENVIRONMENT_KEYS if key in config}}
    return config, secrets


def run_folder(into: Path, name: str, etag: str) -> Path:
    return into / f"{name}-{etag[:16]}"


def lay_out(bundle_dir: Path, *, name: str, into: Path, environment: str | None = None) -> Path:
    """The run folder of the upload kept in `bundle_dir` (made once; the bundle never changes), its
    config written for `environment` (`wrangler_config`)."""
    folder = run_folder(into, name, bundle_dir.name)
    config_path = folder / "wrangler.jsonc"
    if config_path.is_file():
        return folder
    metadata = json.loads((bundle_dir / "metadata.json").read_text())
    config, secrets = wrangler_config(name, metadata, environment=environment)
    staging = folder.with_name(f".{folder.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)  # left by a start that died half-way
    staging.mkdir(mode=0o700, parents=True)
    (staging / "src").symlink_to(bundle_dir.resolve() / "modules")
    lib = staging / "lib"
    lib.mkdir(mode=0o700)
    python_modules = bundle_dir / "modules" / "python_modules"
    for entry in first_party(python_modules):
        (lib / entry).symlink_to((python_modules / entry).resolve())
    if secrets:
        if any("\n" in value or "\r" in value for value in secrets.values()):
            raise LayoutError("the local platform cannot run a secret_text binding whose text spans lines")
        fd = os.open(staging / ".dev.vars", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:  # quoted: .dev.vars takes the text between the quotes as it is
            fh.writelines(f'{key}="{value}"\n' for key, value in secrets.items())
    (staging / "wrangler.jsonc").write_text(json.dumps(config, indent=2) + "\n")
    try:
        staging.rename(folder)
    except OSError:  # laid out meanwhile by another start of the same bundle
        if not config_path.is_file():
            raise
    return folder


def python_path(folder: Path) -> str:
    """What goes first on `PYTHONPATH` for the worker in `folder`: its first-party packages."""
    return str(folder / "lib")
