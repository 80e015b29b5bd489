"""A deploy bundle: the build step's output (`dotdo build`, `dotdo_dev/build.py`) as a tar.gz.

    bundle = bundles.parse(data)       # 400 BAD_BUNDLE / BUNDLE_TOO_LARGE naming the problem
    bundle.metadata["main_module"], bundle.modules["entry.py"], bundle.content_type("entry.py")

The archive holds the modules (paths relative to its root: `entry.py`, `python_modules/...`) and
`metadata.json` beside them: `main_module`, `compatibility_date`, `compatibility_flags`, `bindings` in
the shapes of Cloudflare's upload API, and `modules` [{name, type}]. Everything is checked here, before
anything is uploaded: a bundle that passes is one Cloudflare's upload API can be sent.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from shared.errors import BadRequest

MIB = 1024 * 1024
#: Cloudflare's Worker size limit (uncompressed, the current limits page), for the archive and for its contents.
MAX_BUNDLE_BYTES = 64 * MIB
MAX_MODULES = 10_000
#: Files of the build's outdir that are not modules (dotdo_dev.build.NOT_MODULES).
NOT_MODULES = frozenset({"metadata.json", "README.md"})
#: The part content types Cloudflare's upload API takes for a module.
MODULE_TYPES = frozenset(
    {
        "application/javascript+module",
        "text/javascript+module",
        "application/javascript",
        "text/javascript",
        "text/x-python",
        "text/x-python-requirement",
        "application/wasm",
        "text/plain",
        "application/octet-stream",
        "application/source-map",
    }
)
#: Binding type -> the fields it must carry besides `type` and `name` (Cloudflare's upload API shapes).
BINDING_FIELDS: dict[str, tuple[str, ...]] = {
    "plain_text": ("text",),
    "secret_text": ("text",),
    "json": ("json",),
    "service": ("service",),
    "d1": ("id",),
    "kv_namespace": ("namespace_id",),
    "r2_bucket": ("bucket_name",),
    "queue": ("queue_name",),
    "durable_object_namespace": ("class_name",),
    "dispatch_namespace": ("namespace",),
    "ratelimit": ("namespace_id", "simple"),
    "analytics_engine": ("dataset",),
    "ai": (),
    "version_metadata": (),
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BINDING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def bad(message: str) -> BadRequest:
    return BadRequest(message, code="BAD_BUNDLE")


@dataclass
class Bundle:
    metadata: dict[str, Any]
    modules: dict[str, bytes] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    @property
    def main_module(self) -> str:
        return self.metadata["main_module"]

    def content_type(self, name: str) -> str:
        """The part's content type: what metadata.json says, else wrangler's rule (`.py` is text/x-python)."""
        return self.types.get(name) or module_type(name)


def module_type(name: str) -> str:
    if name.startswith("python_modules/workers/") and name.endswith((".js", ".mjs")):
        return "application/javascript+module"
    if name.startswith("python_modules/"):
        return "application/octet-stream"
    return "text/x-python" if name.endswith(".py") else "application/octet-stream"


def too_large(size: int) -> BadRequest:
    return BadRequest(
        f"The bundle is {size / MIB:.1f} MiB; Cloudflare takes at most {MAX_BUNDLE_BYTES // MIB} MiB",
        code="BUNDLE_TOO_LARGE",
    )


def parse(data: bytes) -> Bundle:
    """The bundle in `data` (a tar.gz), checked; else 400 naming the problem."""
    if not data:
        raise bad("The bundle is empty: send the build output as a tar.gz (tar -czf bundle.tgz -C dist/<svc> .)")
    if len(data) > MAX_BUNDLE_BYTES:
        raise too_large(len(data))
    files = _read_tar(data)
    if "metadata.json" not in files:
        raise bad("The bundle has no metadata.json at its root (the build step writes it beside the modules)")
    try:
        metadata = json.loads(files.pop("metadata.json"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"metadata.json is not JSON: {exc}") from None
    for name in NOT_MODULES:
        files.pop(name, None)
    bundle = Bundle(_check_metadata(metadata), files)
    if not files:
        raise bad("The bundle holds no modules")
    if bundle.main_module not in files:
        raise bad(f"The main module {bundle.main_module!r} named in metadata.json is not in the bundle")
    for entry in metadata.get("modules") or []:
        if entry["name"] not in files:
            raise bad(f"metadata.json lists the module {entry['name']!r}, which is not in the bundle")
        bundle.types[entry["name"]] = entry["type"]
    return bundle


def _read_tar(data: bytes) -> dict[str, bytes]:
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 - closed below
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise bad(f"The bundle is not a tar.gz archive ({type(exc).__name__})") from None
    files: dict[str, bytes] = {}
    total = 0
    try:
        with archive:
            for member in archive:
                if member.isdir():
                    continue
                if not member.isfile():
                    raise bad(f"The bundle holds {member.name!r}, which is not a regular file (links are refused)")
                name = _module_name(member.name)
                total += member.size
                if total > MAX_BUNDLE_BYTES:
                    raise too_large(total)
                if len(files) >= MAX_MODULES:
                    raise bad(f"The bundle holds more than {MAX_MODULES} files")
                if name in files:
                    raise bad(f"The bundle holds {name!r} twice")
                extracted = archive.extractfile(member)
                files[name] = extracted.read() if extracted else b""
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise bad(f"The bundle is not a readable tar.gz archive ({type(exc).__name__})") from None
    if not files:
        raise bad("The bundle archive holds no files")
    return files


def _module_name(raw: str) -> str:
    path = PurePosixPath(raw)
    if raw.startswith("/") or ".." in path.parts or "\\" in raw:
        raise bad(f"The bundle holds {raw!r}: paths must be relative, inside the bundle")
    name = "/".join(part for part in path.parts if part not in ("", "."))
    if not name:
        raise bad(f"The bundle holds an entry without a name ({raw!r})")
    return name


def _check_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise bad("metadata.json must be a JSON object")
    main = metadata.get("main_module")
    if not isinstance(main, str) or not main:
        raise bad("metadata.json has no main_module")
    date = metadata.get("compatibility_date")
    if not isinstance(date, str) or not _DATE.fullmatch(date):
        raise bad("metadata.json: compatibility_date must be a date (YYYY-MM-DD)")
    flags = metadata.get("compatibility_flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise bad("metadata.json: compatibility_flags must be a list of strings")
    if main.endswith(".py") and "python_workers" not in flags:
        raise bad("metadata.json: a Python main module needs the compatibility flag python_workers")
    bindings = metadata.get("bindings", [])
    if not isinstance(bindings, list):
        raise bad("metadata.json: bindings must be a list")
    names: set[str] = set()
    for index, binding in enumerate(bindings):
        _check_binding(index, binding)
        if binding["name"] in names:
            raise bad(f"metadata.json: the binding name {binding['name']!r} is used twice")
        names.add(binding["name"])
    modules = metadata.get("modules", [])
    if not isinstance(modules, list):
        raise bad("metadata.json: modules must be a list of {name, type}")
    for entry in modules:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise bad("metadata.json: each of modules is {name, type}")
        if entry.get("type") not in MODULE_TYPES:
            kind = entry.get("type")
            raise bad(f"metadata.json: module {entry['name']!r} has a type Cloudflare does not take: {kind!r}")
    return metadata


def _check_binding(index: int, binding: Any) -> None:
    if not isinstance(binding, dict):
        raise bad(f"metadata.json: bindings[{index}] must be an object")
    kind, name = binding.get("type"), binding.get("name")
    if not isinstance(name, str) or not _BINDING_NAME.fullmatch(name):
        raise bad(f"metadata.json: bindings[{index}] needs a name (letters, digits, _)")
    if kind not in BINDING_FIELDS:
        raise bad(f"metadata.json: binding {name!r} has a type the deploy API does not know: {kind!r}")
    missing = [f for f in BINDING_FIELDS[kind] if binding.get(f) in (None, "")]
    if missing:
        raise bad(f"metadata.json: the {kind} binding {name!r} needs {', '.join(missing)}")
