"""What Cloudflare checks in a script upload, checked before anything is stored.

`validate_upload(...)` turns the parts of a multipart upload into an `Upload`, or raises
`CloudflareError` naming the first problem: the metadata part (present, a JSON object, its fields'
types), the script name, the modules (`main_module` among the parts, content types, paths), the
compatibility date and flags (`python_workers` for a Python main module), each binding's shape by its
type, tags, the size limit, and the topology rule (a `service` binding must name an account-level
script: `resolves(service)` says whether one exists).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dotdo_dev.cloudflare_api.errors import (
    METADATA_INVALID,
    SCRIPT_INVALID,
    SCRIPT_NAME_INVALID,
    SCRIPT_TOO_LARGE,
    CloudflareError,
    service_binding_not_found,
)
from dotdo_dev.cloudflare_api.multipart import Part

MIB = 1024 * 1024
#: Cloudflare's Worker size limit (current limits page: 64 MiB, uncompressed); configurable.
DEFAULT_SIZE_LIMIT = 64 * MIB
DEFAULT_COMPATIBILITY_DATE = "2021-11-02"  # what Cloudflare uses when the metadata names none
MAX_TAGS = 8
#: Module part content types the upload API accepts (the API's schema for `files`).
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
_SCRIPT_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_BINDING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Upload:
    """A validated upload: its metadata (as sent) and its modules."""

    name: str
    metadata: dict[str, Any]
    modules: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (content type, bytes)

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.modules.values())


def check_script_name(name: str) -> None:
    if not _SCRIPT_NAME.match(name):
        raise CloudflareError(
            400,
            SCRIPT_NAME_INVALID,
            f"Script name '{name}' is invalid: use 1 to 63 lowercase letters (a-z), digits, '-' and '_', "
            "not starting or ending with '-'.",
        )


def _metadata_error(message: str) -> CloudflareError:
    return CloudflareError(400, METADATA_INVALID, message)


def _script_error(message: str) -> CloudflareError:
    return CloudflareError(400, SCRIPT_INVALID, message)


def validate_upload(
    name: str,
    parts: list[Part],
    *,
    resolves: Callable[[str], bool],
    size_limit: int = DEFAULT_SIZE_LIMIT,
) -> Upload:
    check_script_name(name)
    metadata = _metadata(parts)
    modules = _modules(parts)
    main = metadata.get("main_module")
    if "body_part" in metadata and main is None:
        raise _script_error("Service-worker uploads (body_part) are not supported here: send main_module.")
    if not isinstance(main, str) or not main:
        raise _metadata_error("metadata.main_module is required and must be the name of a module part.")
    if main not in modules:
        raise _script_error(f"main_module '{main}' is not among the uploaded parts (No such module \"{main}\").")
    flags = _compatibility(metadata)
    if main.endswith(".py"):
        if "python_workers" not in flags:
            raise _script_error("The 'python_workers' compatibility flag is required to use Python.")
        if modules[main][0] != "text/x-python":
            raise _script_error(f"Module '{main}' is Python and must be uploaded as text/x-python.")
    _tags(metadata)
    _keep_bindings(metadata)
    upload = Upload(name, metadata, modules)
    if upload.size > size_limit:
        raise CloudflareError(
            413, SCRIPT_TOO_LARGE, f"Your Worker exceeded the size limit of {_mib(size_limit)} ({_mib(upload.size)})."
        )
    bindings = _bindings(metadata)
    for binding in bindings:  # the topology rule last: every shape is known good by then
        if binding["type"] == "service" and not resolves(binding["service"]):
            raise service_binding_not_found(binding["name"], binding["service"])
    return upload


def _mib(size: int) -> str:
    return f"{size / MIB:g} MiB"


def _metadata(parts: list[Part]) -> dict[str, Any]:
    found = [p for p in parts if p.name == "metadata"]
    if not found:
        raise _metadata_error("The upload has no metadata part.")
    if len(found) > 1:
        raise _metadata_error("The upload has more than one metadata part.")
    try:
        metadata = json.loads(found[0].data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _metadata_error(f"The metadata part is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise _metadata_error("The metadata part must be a JSON object.")
    return metadata


def _modules(parts: list[Part]) -> dict[str, tuple[str, bytes]]:
    modules: dict[str, tuple[str, bytes]] = {}
    for part in parts:
        if part.name == "metadata":
            continue
        path = part.name
        if path.startswith("/") or "\\" in path or any(seg in ("", ".", "..") for seg in path.split("/")):
            raise _script_error(f"Module name '{path}' is not a relative path.")
        if path in modules:
            raise _script_error(f"Module '{path}' is uploaded twice.")
        if part.content_type is None:
            raise _script_error(f"Module '{path}' has no Content-Type.")
        if part.content_type not in MODULE_TYPES:
            raise _script_error(f"Module '{path}' has unsupported Content-Type '{part.content_type}'.")
        modules[path] = (part.content_type, part.data)
    if not modules:
        raise _script_error("At least one module must be present and referenced in the metadata as main_module.")
    return modules


def _compatibility(metadata: dict[str, Any]) -> list[str]:
    date = metadata.get("compatibility_date", DEFAULT_COMPATIBILITY_DATE)
    if not isinstance(date, str) or not _DATE.match(date):
        raise _script_error(f"compatibility_date {date!r} is not a date in the form YYYY-MM-DD.")
    try:
        parsed = dt.date.fromisoformat(date)
    except ValueError:
        raise _script_error(f"compatibility_date '{date}' is not a valid date.") from None
    if parsed > dt.datetime.now(dt.UTC).date():
        raise _script_error(f"compatibility_date '{date}' is in the future.")
    flags = metadata.get("compatibility_flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) and f for f in flags):
        raise _metadata_error("metadata.compatibility_flags must be a list of strings.")
    return flags


def _tags(metadata: dict[str, Any]) -> None:
    tags = metadata.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise _metadata_error("metadata.tags must be a list of strings.")
    if len(tags) > MAX_TAGS:
        raise _metadata_error(f"A script may have at most {MAX_TAGS} tags, not {len(tags)}.")
    for tag in tags:
        if "," in tag or "&" in tag:
            raise _metadata_error(f"Tag '{tag}' must not contain ',' or '&'.")


def _keep_bindings(metadata: dict[str, Any]) -> None:
    keep = metadata.get("keep_bindings", [])
    if not isinstance(keep, list) or not all(isinstance(k, str) and k in BINDING_CHECKS for k in keep):
        raise _metadata_error('metadata.keep_bindings must be a list of binding types (e.g. ["kv_namespace"]).')


# -- bindings ------------------------------------------------------------------------------------


def _bindings(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    bindings = metadata.get("bindings", [])
    if not isinstance(bindings, list):
        raise _metadata_error("metadata.bindings must be a list.")
    seen: set[str] = set()
    for index, binding in enumerate(bindings):
        if not isinstance(binding, dict):
            raise _script_error(f"Binding #{index} must be an object.")
        name = binding.get("name")
        if not isinstance(name, str) or not _BINDING_NAME.match(name):
            raise _script_error(f"Binding #{index} has no valid name (letters, digits and '_').")
        if name in seen:
            raise _script_error(f"Binding '{name}' is declared twice.")
        seen.add(name)
        kind = binding.get("type")
        check = BINDING_CHECKS.get(kind) if isinstance(kind, str) else None
        if check is None:
            raise _script_error(f"Binding '{name}' has unknown type {kind!r}.")
        problem = check(binding)
        if problem:
            raise _script_error(f"Binding '{name}' of type {kind}: {problem}.")
    return bindings


def _string(binding: dict[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = binding.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        return f"'{key}' must be a non-empty string"
    return None


def _service(b: dict[str, Any]) -> str | None:
    problem = _string(b, "service") or _string(b, "environment", optional=True)
    if problem:
        return problem
    entrypoint = b.get("entrypoint")
    if entrypoint is not None and (not isinstance(entrypoint, str) or not _IDENTIFIER.match(entrypoint)):
        return "'entrypoint' must be the name of an exported class"
    if "props" in b and not isinstance(b["props"], dict):
        return "'props' must be an object"
    return None


def _ratelimit(b: dict[str, Any]) -> str | None:
    namespace_id = b.get("namespace_id")
    if not isinstance(namespace_id, str) or not namespace_id.isdigit() or int(namespace_id) <= 0:
        return "'namespace_id' must be a positive integer as a string"
    simple = b.get("simple")
    if not isinstance(simple, dict):
        return "'simple' must be an object {limit, period}"
    limit, period = simple.get("limit"), simple.get("period")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        return "'simple.limit' must be a positive integer"
    if period not in (10, 60) or isinstance(period, bool):
        return "'simple.period' must be 10 or 60"
    return None


def _durable_object(b: dict[str, Any]) -> str | None:
    class_name = b.get("class_name")
    if not isinstance(class_name, str) or not _IDENTIFIER.match(class_name):
        return "'class_name' must be the name of a class"
    return _string(b, "script_name", optional=True) or _string(b, "environment", optional=True)


def _text(b: dict[str, Any]) -> str | None:
    return None if isinstance(b.get("text"), str) else "'text' must be a string"


def _json(b: dict[str, Any]) -> str | None:
    return None if "json" in b else "'json' is required"


BINDING_CHECKS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "service": _service,
    "d1": lambda b: _string(b, "id"),
    "kv_namespace": lambda b: _string(b, "namespace_id"),
    "queue": lambda b: _string(b, "queue_name"),
    "durable_object_namespace": _durable_object,
    "ratelimit": _ratelimit,
    "plain_text": _text,
    "secret_text": _text,
    "json": _json,
    "dispatch_namespace": lambda b: _string(b, "namespace"),
    "r2_bucket": lambda b: _string(b, "bucket_name"),
    "version_metadata": lambda b: None,
    "analytics_engine": lambda b: _string(b, "dataset"),
}
