"""Workers KV on a local SQLite file, with KV's API, limits and expiry.

    await env.KV.put("k", "v", expirationTtl=120, metadata={"owner": "a"})   # or a JS-style options dict
    await env.KV.get("k")                    # "v" (text), or get("k", "json") / get("k", {"type": "arrayBuffer"})
    await env.KV.getWithMetadata("k")        # {"value": "v", "metadata": {...}, "cacheStatus": None}
    await env.KV.list({"prefix": "k", "limit": 10, "cursor": ...})
    await env.KV.delete("k")

Stricter than Cloudflare on purpose: an unknown option (`expiration_ttl=` instead of
`expirationTtl=`, which the real JS API would silently ignore) raises, so the mistake shows locally.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workers import python_from_rpc

from dotdo_dev.runtime.sqlite import connect

MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MIN_TTL = 60
MAX_LIST = 1000
GET_OPTIONS = {"type", "cacheTtl"}
PUT_OPTIONS = {"expiration", "expirationTtl", "metadata"}
LIST_OPTIONS = {"prefix", "limit", "cursor"}
TYPES = {"text", "json", "arrayBuffer", "stream"}


class KVError(Exception):
    """A KV call that Cloudflare would refuse (bad key, value, option or cursor)."""


def _options(args: tuple[Any, ...], kwargs: dict[str, Any], allowed: set[str], shorthand: str | None) -> dict[str, Any]:
    if len(args) > 1:
        raise TypeError("expected at most one options argument")
    options: dict[str, Any] = {}
    if args:
        if isinstance(args[0], str) and shorthand:
            options[shorthand] = args[0]
        elif isinstance(args[0], dict):
            options.update(args[0])
        elif args[0] is not None:
            raise TypeError(f"options must be a dict, not {type(args[0]).__name__}")
    options.update(kwargs)
    unknown = set(options) - allowed
    if unknown:
        raise KVError(
            f"unknown KV option(s) {sorted(unknown)}; allowed: {sorted(allowed)} (Cloudflare's camelCase names)"
        )
    return options


def _check_key(key: Any) -> str:
    if not isinstance(key, str):
        raise KVError(f"KV keys are strings, not {type(key).__name__}")
    if key in ("", ".", ".."):
        raise KVError(f"Invalid key name {key!r}: keys cannot be empty, '.' or '..'")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise KVError(f"KV key is longer than {MAX_KEY_BYTES} bytes")
    return key


class KVNamespace:
    """A KV namespace binding backed by the SQLite file at `path`; `clock` gives unix seconds."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._conn = connect(self.path)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expiration REAL, metadata TEXT)"
        )

    def __repr__(self) -> str:
        return f"<KVNamespace {self.path.name}>"

    def _row(self, key: str) -> tuple[bytes, float | None, str | None] | None:
        row = self._conn.execute("SELECT value, expiration, metadata FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        if row[1] is not None and row[1] <= self.clock():
            self._conn.execute("DELETE FROM kv WHERE key = ? AND expiration <= ?", (key, self.clock()))
            return None
        return row

    @staticmethod
    def _decode(value: bytes, kind: str) -> Any:
        if kind == "text":
            return value.decode("utf-8", errors="replace")
        if kind == "json":
            return python_from_rpc(json.loads(value))
        if kind == "arrayBuffer":
            return bytes(value)
        raise NotImplementedError("KV get type 'stream' is not supported by the local runtime; use 'arrayBuffer'")

    def _type(self, options: dict[str, Any]) -> str:
        kind = options.get("type", "text")
        if kind not in TYPES:
            raise KVError(f"Unknown response type {kind!r}; use one of {sorted(TYPES)}")
        return kind

    async def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
        options = _options(args, kwargs, GET_OPTIONS, "type")
        kind = self._type(options)
        row = self._row(_check_key(key))
        return None if row is None else self._decode(row[0], kind)

    async def getWithMetadata(self, key: str, *args: Any, **kwargs: Any) -> Any:
        options = _options(args, kwargs, GET_OPTIONS, "type")
        kind = self._type(options)
        row = self._row(_check_key(key))
        if row is None:
            return python_from_rpc({"value": None, "metadata": None, "cacheStatus": None})
        metadata = json.loads(row[2]) if row[2] is not None else None
        return python_from_rpc({"value": self._decode(row[0], kind), "metadata": metadata, "cacheStatus": None})

    async def put(self, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        _check_key(key)
        options = _options(args, kwargs, PUT_OPTIONS, None)
        if isinstance(value, str):
            data = value.encode("utf-8")
        elif isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
        else:
            raise TypeError(f"KV put() takes a string or bytes value, not {type(value).__name__} (use json.dumps)")
        if len(data) > MAX_VALUE_BYTES:
            raise KVError(f"KV value is larger than {MAX_VALUE_BYTES} bytes")
        now = self.clock()
        expiration = None
        if options.get("expirationTtl") is not None:
            ttl = options["expirationTtl"]
            if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl < MIN_TTL:
                raise KVError(f"Invalid expiration_ttl of {ttl!r}. Expiration TTL must be at least {MIN_TTL}.")
            expiration = now + float(ttl)
        if options.get("expiration") is not None:
            at = options["expiration"]
            if isinstance(at, bool) or not isinstance(at, int | float) or at < now + MIN_TTL:
                raise KVError(
                    f"Invalid expiration of {at!r}. Expiration times must be at least {MIN_TTL} seconds in the future."
                )
            expiration = float(at)
        metadata = None
        if options.get("metadata") is not None:
            try:
                metadata = json.dumps(options["metadata"], separators=(",", ":"))
            except (TypeError, ValueError):
                raise KVError("KV metadata must be JSON-serializable") from None
            if len(metadata.encode("utf-8")) > MAX_METADATA_BYTES:
                raise KVError(f"KV metadata is larger than {MAX_METADATA_BYTES} bytes once serialized")
        self._conn.execute(
            "INSERT INTO kv (key, value, expiration, metadata) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration, "
            "metadata = excluded.metadata",
            (key, data, expiration, metadata),
        )

    async def delete(self, key: str) -> None:
        self._conn.execute("DELETE FROM kv WHERE key = ?", (_check_key(key),))

    async def list(self, *args: Any, **kwargs: Any) -> Any:
        options = _options(args, kwargs, LIST_OPTIONS, None)
        prefix = options.get("prefix") or ""
        limit = options.get("limit", MAX_LIST)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise KVError(f"Invalid key_count_limit of {limit!r}: must be between 1 and {MAX_LIST}")
        after = ""
        cursor = options.get("cursor")
        if cursor:
            try:
                after = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError, AttributeError):
                raise KVError("Invalid cursor") from None
            if not after:
                raise KVError("Invalid cursor")
        now = self.clock()
        # Keys compare by UTF-8 bytes, as Cloudflare orders them.
        rows = self._conn.execute(
            "SELECT key, expiration, metadata FROM kv WHERE (expiration IS NULL OR expiration > ?) "
            "AND CAST(key AS BLOB) > CAST(? AS BLOB) AND substr(key, 1, length(?)) = ? "
            "ORDER BY CAST(key AS BLOB) LIMIT ?",
            (now, after, prefix, prefix, limit + 1),
        ).fetchall()
        keys = []
        for key, expiration, metadata in rows[:limit]:
            entry: dict[str, Any] = {"name": key}
            if expiration is not None:
                entry["expiration"] = int(expiration)
            if metadata is not None:
                entry["metadata"] = json.loads(metadata)
            keys.append(entry)
        result: dict[str, Any] = {"keys": keys, "list_complete": len(rows) <= limit, "cacheStatus": None}
        if len(rows) > limit:
            result["cursor"] = base64.urlsafe_b64encode(keys[-1]["name"].encode("utf-8")).decode()
        return python_from_rpc(result)
