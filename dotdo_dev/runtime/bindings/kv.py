"""Local Workers KV: what worker code receives as `self.env.KV`, backed by a real SQLite file.

    await env.KV.put("k", "v", expirationTtl=120, metadata={"owner": "a"})  # or a JS-style options dict
    await env.KV.get("k")                   # "v"; get("k", "json"), get("k", type="arrayBuffer"), get(["a", "b"])
    await env.KV.getWithMetadata("k")       # {"value": "v", "metadata": {...}, "cacheStatus": None}
    await env.KV.list({"prefix": "k", "limit": 10, "cursor": ...})
    await env.KV.delete("k")

The API is KV's JavaScript API, because on Cloudflare Python calls through to it. Options are a dict
(JS style) or keyword arguments (Pyodide turns them into a trailing JS options object), not both.
Results cross the same boundary as on Cloudflare (`python_to_rpc` then `python_from_rpc`): dicts are
`JsDict`, and a JSON number with an integral value arrives as an int. Note that `listing.keys` is the
dict method: read the listed keys as `listing["keys"]`.

KV's rules and limits are enforced with KV's wording (`KVError`): keys are non-empty, not "." or
"..", at most 512 bytes of UTF-8; values (str or bytes) at most 25 MiB; metadata is JSON of at most
1024 bytes; `expirationTtl` is at least 60 seconds and `expiration` at least 60 seconds ahead (if both
are given, `expirationTtl` wins, as on KV); `cacheTtl` is at least 30 (and otherwise ignored: there
is one "edge location"). Expired keys are invisible to `get` and `list` and are purged lazily.
Listing is in order of the keys' UTF-8 bytes; cursors are opaque strings.

Stricter than Cloudflare on purpose, so that mistakes show locally: an unknown option (for example
`expiration_ttl=` instead of `expirationTtl=`, which the real JS API silently ignores) raises, as do
both an options dict and keyword arguments in one call, and a `list()` limit outside 1..1000.
Wrong Python types (a key that is not a str, a value that is not str or bytes) raise `TypeError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.rpc import python_from_rpc, python_to_rpc

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime.bindings.kind import BindingContext, ListKind
from dotdo_dev.runtime.sqlite import connect

__all__ = ["KVError", "KVKind", "KVNamespace", "KVNamespaceConfig"]

MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MIN_TTL = 60
MIN_CACHE_TTL = 30
MAX_LIST = 1000
MAX_BULK_KEYS = 100
GET_OPTIONS = {"type", "cacheTtl"}
PUT_OPTIONS = {"expiration", "expirationTtl", "metadata"}
LIST_OPTIONS = {"prefix", "limit", "cursor"}
TYPES = ("text", "json", "arrayBuffer", "stream")
_CURSOR_MAGIC = b"dotdo-kv:"


class KVError(Exception):
    """A KV call that Cloudflare would refuse (bad key, option, limit or cursor), in KV's words."""


class KVNamespace:
    """A KV namespace stored in the SQLite file at `path`; `clock` gives the time in unix seconds."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._conn = connect(self.path)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expiration REAL, metadata TEXT)"
        )
        self._conn.execute("CREATE INDEX IF NOT EXISTS kv_expiration ON kv (expiration)")

    def __repr__(self) -> str:
        return f"<KVNamespace {self.path.name}>"

    async def get(self, key: str | list[str], *args: Any, **kwargs: Any) -> Any:
        """The value of `key` (None if missing or expired), as `type`: "text" (str, the default),
        "json" (parsed), "arrayBuffer" (bytes). `get([k1, k2, ...])` returns `{key: value or None}`.

        `type` may be given positionally (`get(k, "json")`), as options (`get(k, {"type": "json",
        "cacheTtl": 60})`) or as keywords (`get(k, type="json")`)."""
        kind = self._read_options("get", args, kwargs)
        if isinstance(key, list):
            return self._get_many(key, kind, with_metadata=False)
        row = self._row(_check_key(key, "GET"))
        return None if row is None else _to_worker(_decode(row[0], kind, key))

    async def getWithMetadata(self, key: str | list[str], *args: Any, **kwargs: Any) -> Any:
        """`{"value": ..., "metadata": ... or None, "cacheStatus": None}`; options as for `get()`.

        With a list of keys: `{key: {"value": ..., "metadata": ...} or None}`."""
        kind = self._read_options("getWithMetadata", args, kwargs)
        if isinstance(key, list):
            return self._get_many(key, kind, with_metadata=True)
        row = self._row(_check_key(key, "GET"))
        if row is None:
            return _to_worker({"value": None, "metadata": None, "cacheStatus": None})
        value, _, metadata = row
        return _to_worker(
            {
                "value": _decode(value, kind, key),
                "metadata": None if metadata is None else json.loads(metadata),
                "cacheStatus": None,
            }
        )

    async def put(self, key: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        """Store `value` (str or bytes) under `key`. Options: `expiration` (unix seconds),
        `expirationTtl` (seconds from now, at least 60), `metadata` (JSON, at most 1024 bytes)."""
        _check_key(key, "PUT")
        options = _options(args, kwargs, PUT_OPTIONS, None)
        if isinstance(value, str):
            try:
                data = value.encode("utf-8")
            except UnicodeEncodeError:
                raise TypeError("KV put() value is not valid Unicode text (it holds a lone surrogate)") from None
        elif isinstance(value, bytes):
            data = bytes(value)
        else:
            hint = "bytes(value)" if isinstance(value, bytearray | memoryview) else "json.dumps(value)"
            raise TypeError(
                "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values; "
                f"got {type(value).__name__} (store {hint})"
            )
        if len(data) > MAX_VALUE_BYTES:
            raise KVError(f"KV PUT failed: 413 Value length of {len(data)} exceeds limit of {MAX_VALUE_BYTES}.")
        now = self.clock()
        expiration = _expiration(options, now)
        metadata = _metadata(options.get("metadata"))
        self._conn.execute("DELETE FROM kv WHERE expiration <= ?", (now,))  # lazy purge
        self._conn.execute(
            "INSERT INTO kv (key, value, expiration, metadata) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration, "
            "metadata = excluded.metadata",
            (key, data, expiration, metadata),
        )

    async def delete(self, key: str) -> None:
        """Remove `key`; removing a missing key is not an error."""
        self._conn.execute("DELETE FROM kv WHERE key = ?", (_check_key(key, "DELETE"),))

    async def list(self, *args: Any, **kwargs: Any) -> Any:
        """Keys in UTF-8 byte order: `{"keys": [{"name", "expiration"?, "metadata"?}], "list_complete":
        bool, "cursor": str (only when not complete), "cacheStatus": None}`.

        Options: `prefix`, `limit` (1..1000, default 1000), `cursor` (from the previous page)."""
        options = _options(args, kwargs, LIST_OPTIONS, None)
        prefix = options.get("prefix") or ""
        if not isinstance(prefix, str):
            raise TypeError(f"KV list() prefix must be a str, not {type(prefix).__name__}")
        _check_length(prefix, "GET")
        limit = options.get("limit")
        limit = MAX_LIST if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise KVError(
                f"KV GET failed: 400 Invalid key_count_limit of {limit!r}. "
                f"Please specify an integer between 1 and {MAX_LIST}."
            )
        after = _decode_cursor(options.get("cursor"))
        # TEXT compares by its UTF-8 bytes (BINARY collation), which is Cloudflare's order.
        rows = self._conn.execute(
            "SELECT key, expiration, metadata FROM kv WHERE (expiration IS NULL OR expiration > ?) "
            "AND key > ? AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
            (self.clock(), after, len(prefix), prefix, limit + 1),
        ).fetchall()
        keys = []
        for name, expiration, metadata in rows[:limit]:
            entry: dict[str, Any] = {"name": name}
            if expiration is not None:
                entry["expiration"] = int(expiration)
            if metadata is not None:
                entry["metadata"] = json.loads(metadata)
            keys.append(entry)
        result: dict[str, Any] = {"keys": keys, "list_complete": len(rows) <= limit}
        if len(rows) > limit:
            result["cursor"] = _encode_cursor(keys[-1]["name"])
        result["cacheStatus"] = None
        return _to_worker(result)

    # -- internals ---------------------------------------------------------------------------------
    def _read_options(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        options = _options(args, kwargs, GET_OPTIONS, "type")
        kind = options.get("type")
        kind = "text" if kind is None else kind
        if kind not in TYPES:
            raise KVError('Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".')
        if kind == "stream":
            raise NotImplementedError(
                f'KV {method}(type="stream") is not supported by the local runtime; use type="arrayBuffer"'
            )
        cache_ttl = options.get("cacheTtl")
        bad_number = isinstance(cache_ttl, bool) or not isinstance(cache_ttl, int | float)
        if cache_ttl is not None and (bad_number or cache_ttl < MIN_CACHE_TTL):
            raise KVError(
                f"KV GET failed: 400 Invalid cache_ttl of {cache_ttl!r}. Cache TTL must be at least {MIN_CACHE_TTL}."
            )
        return kind

    def _row(self, key: str) -> tuple[bytes, float | None, str | None] | None:
        now = self.clock()
        row = self._conn.execute("SELECT value, expiration, metadata FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None or (row[1] is not None and row[1] <= now):
            return None
        return row

    def _get_many(self, keys: list[Any], kind: str, *, with_metadata: bool) -> Any:
        if kind not in ("text", "json"):
            raise KVError(f'KV GET_BULK failed: 400 "{kind}" is not a valid type. Use "json" or "text"')
        if not 1 <= len(keys) <= MAX_BULK_KEYS:
            raise KVError(
                f"KV GET_BULK failed: 400 You can request between 1 and {MAX_BULK_KEYS} keys, got {len(keys)}"
            )
        found: dict[str, Any] = {}
        for key in keys:
            row = self._row(_check_key(key, "GET_BULK"))
            if row is None:
                found[key] = None
                continue
            value = _decode(row[0], kind, key)
            if with_metadata:
                value = {"value": value, "metadata": None if row[2] is None else json.loads(row[2])}
            found[key] = value
        return _to_worker(found)


# -- helpers -------------------------------------------------------------------------------------------
def _options(args: tuple[Any, ...], kwargs: dict[str, Any], allowed: set[str], shorthand: str | None) -> dict[str, Any]:
    """Options given JS style (one positional dict, or a string for `shorthand`) or as keyword arguments.

    Unknown names raise `KVError`: Cloudflare would silently ignore them. Options that are None count
    as not given."""
    if len(args) > 1:
        raise TypeError(f"expected at most one options argument, got {len(args)}")
    if args and kwargs and args[0] is not None:
        raise TypeError(
            "pass options either as a dict or as keyword arguments, not both "
            "(on Cloudflare the keyword arguments would be ignored)"
        )
    options: dict[str, Any] = dict(kwargs)
    if args and args[0] is not None:
        given = args[0]
        if shorthand and isinstance(given, str):
            options = {shorthand: given}
        elif isinstance(given, Mapping):
            options = dict(given)
        else:
            raise TypeError(f"options must be a dict, not {type(given).__name__}")
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise KVError(
            f"unknown option(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))} "
            "(Cloudflare's camelCase names; Cloudflare would silently ignore the others)"
        )
    options = {name: value for name, value in options.items() if value is not None}
    return python_to_rpc(options)  # what Cloudflare receives; TypeError for what cannot cross


def _check_key(key: Any, method: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"KV keys are strings, not {type(key).__name__}")
    if key == "":
        raise KVError("Key name cannot be empty.")
    if key in (".", ".."):
        raise KVError(f'"{key}" is not allowed as a key name.')
    _check_length(key, method)
    return key


def _check_length(key: str, method: str) -> None:
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise TypeError(f"KV key {key!r} is not valid Unicode text (it holds a lone surrogate)") from None
    if size > MAX_KEY_BYTES:
        raise KVError(
            f"KV {method} failed: 414 UTF-8 encoded length of {size} exceeds key length limit of {MAX_KEY_BYTES}."
        )


def _expiration(options: dict[str, Any], now: float) -> int | None:
    """The absolute expiration (unix seconds) the options ask for, checked as KV checks it."""
    for name in ("expirationTtl", "expiration"):
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise TypeError(f"KV put() {name} must be a number of seconds, not {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise KVError(f"KV PUT failed: 400 Invalid {name} of {value}.")
    seconds = math.floor(now)
    if options.get("expirationTtl") is not None:
        ttl = options["expirationTtl"]
        if int(ttl) <= 0:
            raise KVError(f"KV PUT failed: 400 Invalid expiration_ttl of {ttl}. Please specify integer greater than 0.")
        if int(ttl) < MIN_TTL:
            raise KVError(
                f"KV PUT failed: 400 Invalid expiration_ttl of {ttl}. Expiration TTL must be at least {MIN_TTL}."
            )
        return seconds + int(ttl)
    if options.get("expiration") is not None:
        at = int(options["expiration"])
        if at <= seconds:
            raise KVError(
                f"KV PUT failed: 400 Invalid expiration of {options['expiration']}. Please specify integer greater "
                "than the current number of seconds since the UNIX epoch."
            )
        if at < seconds + MIN_TTL:
            raise KVError(
                f"KV PUT failed: 400 Invalid expiration of {options['expiration']}. "
                f"Expiration times must be at least {MIN_TTL} seconds in the future."
            )
        return at
    return None


def _metadata(metadata: Any) -> str | None:
    if metadata is None:
        return None
    try:
        text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise KVError(f"KV put() metadata must be JSON-serializable: {exc}") from None
    size = len(text.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise KVError(f"KV PUT failed: 413 Metadata length of {size} exceeds limit of {MAX_METADATA_BYTES}.")
    return text


def _decode(value: bytes, kind: str, key: str) -> Any:
    if kind == "arrayBuffer":
        return bytes(value)
    text = value.decode("utf-8", errors="replace")
    if kind == "text":
        return text
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise ValueError(f"KV get({key!r}, type='json'): the value is not valid JSON: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _encode_cursor(last_key: str) -> str:
    return base64.urlsafe_b64encode(_CURSOR_MAGIC + last_key.encode("utf-8")).decode("ascii")


def _decode_cursor(cursor: Any) -> str:
    """The key a cursor continues after ("" for no cursor)."""
    if cursor is None or cursor == "":
        return ""
    if isinstance(cursor, str):
        try:
            raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
            if raw.startswith(_CURSOR_MAGIC):
                return raw.removeprefix(_CURSOR_MAGIC).decode("utf-8")
        except (ValueError, binascii.Error, UnicodeError):
            pass
    raise KVError(f"KV GET failed: 400 Invalid cursor {cursor!r}: pass the cursor of the previous list() result")


def _to_worker(value: Any) -> Any:
    """What worker code receives on Cloudflare: the value as it comes back from JavaScript."""
    return python_from_rpc(python_to_rpc(value))


# -- the binding kind: `kv_namespaces` in wrangler.jsonc --------------------------------------------


@dataclass(frozen=True)
class KVNamespaceConfig:
    """A `kv_namespaces` entry; `id` defaults to the binding."""

    binding: str
    id: str


class KVKind(ListKind):
    """`kv_namespaces`: `env.<binding>` is a `KVNamespace` on `<state>/kv/<id>.sqlite`."""

    key = "kv_namespaces"
    state_folder = "kv"

    def entry(self, reader: ConfigReader, item: dict[str, Any], where: str) -> KVNamespaceConfig:
        binding = reader.string(item, "binding", required=True, prefix=where)
        return KVNamespaceConfig(binding=binding, id=reader.string(item, "id", prefix=where) or binding)

    def binding(self, entry: KVNamespaceConfig, context: BindingContext) -> KVNamespace:
        return KVNamespace(self.state_file(context.state, entry.id), clock=context.clock)
