"""Local R2: what worker code receives as `self.env.BUCKET`, backed by a real SQLite file per bucket.

    obj = await env.BUCKET.put("a.txt", "hi", httpMetadata={"contentType": "text/plain"})
    body = await env.BUCKET.get("a.txt", {"range": {"offset": 0, "length": 1}})   # None if missing
    await body.text(); body.body; body.writeHttpMetadata(headers)
    await env.BUCKET.head("a.txt"); await env.BUCKET.delete(["a.txt", "b.txt"])
    await env.BUCKET.list({"prefix": "a", "delimiter": "/", "include": ["customMetadata"]})
    upload = await env.BUCKET.createMultipartUpload("big"); part = await upload.uploadPart(1, data)
    await upload.complete([part]); env.BUCKET.resumeMultipartUpload("big", upload_id)

The API is R2's JavaScript API (on Cloudflare Python calls through to it). Options are one dict (a
`to_js` object or a plain dict; `onlyIf`, `httpMetadata` and `range` may also be a `Headers`) or keyword
arguments, the trailing JS object Pyodide makes of them. An option another R2 call takes is ignored, as
on Cloudflare; a name no R2 call takes raises TypeError (Cloudflare ignores it silently). Results are
JavaScript objects as Pyodide shows them: attributes (`obj.key`, `obj.httpMetadata.contentType`),
`JsObject`s for plain objects, `JsArray`s for arrays, `JsDate` for dates; a missing object is None
(JavaScript `null`).

Storage: `<state>/r2/<bucket_name>.sqlite`, the metadata and the body of each object in one row (the
body as a BLOB), multipart parts in a table of their own. One file per bucket, like KV and D1, and a
put is one transaction: metadata and body cannot disagree after a crash and no orphan files are left.
A range is read with `substr()`, without loading the whole body. SQLite's default length limit makes
1,000,000,000 bytes the largest local object (R2: 5 GiB a put, 5 TiB multipart); larger ones are
refused with R2's "exceeds the maximum allowed object size".

Errors are `R2Error`s (a JavaScript `Error` as under Pyodide) with the message workerd gives:
`"<method>: <R2's message> (<code>)"`, for example `put: The specified object name is not valid.
(10020)`. Limits enforced: keys at most 1024 bytes of UTF-8; custom metadata at most 8192 bytes (keys
and values, R2's documented metadata size; miniflare allows 2048); one checksum algorithm per put; list
limit 1..1000; delete at most 1000 keys; part numbers 1..10000; every part but the last at least 5 MiB
and all of them the same size, the last one no larger; a single put at most 5 GiB less 5 MiB.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import email.utils
import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from js._builtins import JSON, JsDate
from pyodide._values import JsArray, JsBuffer, JsException, JsObject

from dotdo_dev.config_reader import ConfigReader
from dotdo_dev.runtime.bindings.kind import BindingContext, ListKind
from dotdo_dev.runtime.sqlite import connect

__all__ = [
    "R2Bucket",
    "R2BucketConfig",
    "R2Error",
    "R2Kind",
    "R2MultipartUpload",
    "R2Object",
    "R2ObjectBody",
]

MAX_KEY_BYTES = 1024
MAX_METADATA_BYTES = 8192
MAX_PUT_BYTES = 5 * 1024**3 - 5 * 1024**2
MAX_LOCAL_BYTES = 1_000_000_000
MAX_LIST = 1000
MAX_DELETE = 1000
MAX_PARTS = 10_000
MIN_PART_BYTES = 5 * 1024 * 1024
HASHES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
STORAGE_CLASSES = ("Standard", "InfrequentAccess")
PUT_OPTIONS = {"onlyIf", "httpMetadata", "customMetadata", "storageClass", "ssecKey", *HASHES}
GET_OPTIONS = {"onlyIf", "range", "ssecKey"}
LIST_OPTIONS = {"limit", "prefix", "cursor", "delimiter", "startAfter", "include"}
MULTIPART_OPTIONS = {"httpMetadata", "customMetadata", "storageClass", "ssecKey"}
ALL_OPTIONS = PUT_OPTIONS | GET_OPTIONS | LIST_OPTIONS | MULTIPART_OPTIONS
HTTP_FIELDS = {
    "contentType": "content-type",
    "contentLanguage": "content-language",
    "contentDisposition": "content-disposition",
    "contentEncoding": "content-encoding",
    "cacheControl": "cache-control",
    "cacheExpiry": "expires",
}
_CURSOR_MAGIC = b"dotdo-r2:"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY, version TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    uploaded INTEGER NOT NULL, http_metadata TEXT NOT NULL, custom_metadata TEXT NOT NULL,
    checksums TEXT NOT NULL, storage_class TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, key TEXT NOT NULL, http_metadata TEXT NOT NULL,
    custom_metadata TEXT NOT NULL, storage_class TEXT NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL,
    body BLOB NOT NULL, PRIMARY KEY (upload_id, part_number));
"""
_COLUMNS = "key, version, size, etag, uploaded, http_metadata, custom_metadata, checksums, storage_class"


class R2Error(JsException):
    """An R2 call R2 refuses: a JavaScript `Error` whose message is `<method>: <reason> (<code>)`."""

    def __init__(self, method: str, reason: str, code: int) -> None:
        super().__init__("Error", f"{method}: {reason} ({code})")
        self.code = code


def _invalid_name(method: str) -> R2Error:
    return R2Error(method, "The specified object name is not valid.", 10020)


def _too_large(method: str) -> R2Error:
    return R2Error(method, "Your proposed upload exceeds the maximum allowed object size.", 100100)


def _no_upload(method: str) -> R2Error:
    return R2Error(method, "The specified multipart upload does not exist.", 10024)


class R2Checksums:
    """`object.checksums`: the hex digests R2 knows (`md5` for a single put, and the one a put gave);
    the others are None (JavaScript `undefined`); `toJSON()` gives the known ones."""

    def __init__(self, digests: Mapping[str, str]) -> None:
        self._digests = dict(digests)

    def __getattr__(self, name: str) -> str | None:
        digests = self.__dict__.get("_digests", {})
        if name in HASHES:
            return digests.get(name)
        raise AttributeError(name)

    def toJSON(self) -> JsObject:
        return JsObject(self._digests)

    def __repr__(self) -> str:
        return f"R2Checksums({self._digests})"


class R2Object:
    """Metadata of an object (what `head()`, `put()` and `list()` give; `get()` when `onlyIf` fails)."""

    def __init__(
        self,
        row: tuple[Any, ...],
        *,
        include: tuple[str, ...] = ("httpMetadata", "customMetadata"),
        whole: bool = False,
    ) -> None:
        key, version, size, etag, uploaded, http, custom, checksums, storage_class = row[:9]
        self.key: str = key
        self.version: str = version
        self.size: int = size
        self.etag: str = etag
        self.httpEtag: str = f'"{etag}"'
        self.uploaded: JsDate = JsDate.fromtimestamp(uploaded / 1000, tz=datetime.UTC)
        http_metadata = json.loads(http)
        if "cacheExpiry" in http_metadata:
            http_metadata["cacheExpiry"] = JsDate.fromtimestamp(http_metadata["cacheExpiry"] / 1000, tz=datetime.UTC)
        self.httpMetadata = JsObject(http_metadata if "httpMetadata" in include else {})
        self.customMetadata = JsObject(json.loads(custom) if "customMetadata" in include else {})
        self.checksums = R2Checksums(json.loads(checksums))
        self.storageClass: str = storage_class
        #: `{offset, length}` read by a get (the whole object for head and a failed onlyIf), else None.
        self.range: JsObject | None = JsObject({"offset": 0, "length": size}) if whole else None

    def writeHttpMetadata(self, headers: Any) -> None:
        """Set the object's HTTP metadata on `headers` (a `js.Headers`, or any object with `set`)."""
        for name, header in HTTP_FIELDS.items():
            value = dict.get(self.httpMetadata, name)
            if value is None:
                continue
            if name == "cacheExpiry":
                value = email.utils.format_datetime(value.astimezone(datetime.UTC), usegmt=True)
            if hasattr(headers, "set"):
                headers.set(header, value)
            else:
                headers[header] = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r} size={self.size} etag={self.etag}>"


class R2ObjectBody(R2Object):
    """An object with its body (what `get()` gives): `body` (bytes locally, a ReadableStream on Cloudflare),
    `range` (`{offset, length}`), and the one-time readers `text()`, `json()`, `arrayBuffer()`, `bytes()`,
    `blob()`."""

    def __init__(self, row: tuple[Any, ...], body: bytes, offset: int) -> None:
        super().__init__(row)
        self._body = body
        self.range = JsObject({"offset": offset, "length": len(body)})
        self.bodyUsed = False

    @property
    def body(self) -> bytes:
        """The body's bytes: pass it to `js.Response.new(obj.body, ...)` or `workers.Response(obj.body)`."""
        return self._body

    def _read(self) -> bytes:
        if self.bodyUsed:
            raise JsException("TypeError", "Body has already been used. It can only be used once.")
        self.bodyUsed = True
        return self._body

    async def arrayBuffer(self) -> JsBuffer:
        return JsBuffer(self._read())

    async def bytes(self) -> JsBuffer:
        return JsBuffer(self._read())

    async def text(self) -> str:
        return self._read().decode("utf-8", errors="replace")

    async def json(self) -> Any:
        return JSON.parse(await self.text())

    async def blob(self) -> Any:
        from workers import Blob

        return Blob([self._read()], content_type=dict.get(self.httpMetadata, "contentType") or "")


class R2MultipartUpload:
    """A multipart upload (`createMultipartUpload` / `resumeMultipartUpload`): `key`, `uploadId`,
    `uploadPart(partNumber, value)`, `complete(parts)`, `abort()`."""

    def __init__(self, bucket: R2Bucket, key: str, upload_id: str) -> None:
        self._bucket = bucket
        self.key = key
        self.uploadId = upload_id

    def __repr__(self) -> str:
        return f"<R2MultipartUpload {self.key!r} {self.uploadId}>"

    def _open(self, method: str) -> tuple[Any, ...]:
        row = self._bucket._conn.execute(
            "SELECT http_metadata, custom_metadata, storage_class FROM uploads "
            "WHERE upload_id = ? AND key = ? AND state = 'open'",
            (self.uploadId, self.key),
        ).fetchone()
        if row is None:
            raise _no_upload(method)
        return row

    async def uploadPart(self, partNumber: int, value: Any, *args: Any, **kwargs: Any) -> JsObject:
        """Store part `partNumber` (1..10000); returns `{partNumber, etag}` for `complete()`."""
        _options(args, kwargs, {"ssecKey"})
        if isinstance(partNumber, bool) or not isinstance(partNumber, int) or not 1 <= partNumber <= MAX_PARTS:
            raise R2Error("uploadPart", f"Part number must be an integer between 1 and {MAX_PARTS}.", 10001)
        data = await _read_value(value, "uploadPart")
        if len(data) > MAX_PUT_BYTES or len(data) > MAX_LOCAL_BYTES:
            raise _too_large("uploadPart")
        self._open("uploadPart")
        etag = hashlib.md5(data).hexdigest()  # noqa: S324 - R2's part etag is the MD5 of the part
        self._bucket._conn.execute(
            "INSERT OR REPLACE INTO parts (upload_id, part_number, etag, size, body) VALUES (?, ?, ?, ?, ?)",
            (self.uploadId, partNumber, etag, len(data), data),
        )
        return JsObject({"partNumber": partNumber, "etag": etag})

    async def abort(self) -> None:
        """Abandon the upload and its parts. Aborting one already aborted or completed does nothing."""
        conn = self._bucket._conn
        row = conn.execute("SELECT state FROM uploads WHERE upload_id = ? AND key = ?", (self.uploadId, self.key))
        state = row.fetchone()
        if state is None:
            raise _no_upload("abortMultipartUpload")
        if state[0] != "open":
            return
        with _transaction(conn):
            conn.execute("UPDATE uploads SET state = 'aborted' WHERE upload_id = ?", (self.uploadId,))
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))

    async def complete(self, uploadedParts: Any) -> R2Object:
        """Join the listed parts (`[{partNumber, etag}, ...]`, in any order) into the object `key`."""
        method = "completeMultipartUpload"
        if not isinstance(uploadedParts, list):
            raise TypeError("complete() takes a list of {partNumber, etag} objects")
        wanted: dict[int, str] = {}
        for part in uploadedParts:
            props = _props(part, "uploaded part")
            number, etag = props.get("partNumber"), props.get("etag")
            if not isinstance(number, int) or not isinstance(etag, str):
                raise TypeError("each uploaded part needs a partNumber (int) and an etag (str)")
            if number in wanted:
                raise R2Error(method, "We encountered an internal error. Please try again.", 10001)
            wanted[number] = etag
        http, custom, storage_class = self._open(method)
        conn = self._bucket._conn
        stored = {
            number: (etag, size)
            for number, etag, size in conn.execute(
                "SELECT part_number, etag, size FROM parts WHERE upload_id = ?", (self.uploadId,)
            )
        }
        numbers = sorted(wanted)
        for number in numbers:
            if number not in stored or stored[number][0] != wanted[number]:
                raise R2Error(method, "One or more of the specified parts could not be found.", 10025)
        sizes = [stored[n][1] for n in numbers]
        if any(size < MIN_PART_BYTES for size in sizes[:-1]):
            raise R2Error(method, "Your proposed upload is smaller than the minimum allowed object size.", 10011)
        if len(set(sizes[:-1])) > 1 or (len(sizes) > 1 and sizes[-1] > sizes[0]):
            raise R2Error(method, "There was a problem with the multipart upload.", 10048)
        total = sum(sizes)
        if total > MAX_LOCAL_BYTES:
            raise _too_large(method)
        digest = hashlib.md5(b"".join(bytes.fromhex(wanted[n]) for n in numbers)).hexdigest()  # noqa: S324
        etag = f"{digest}-{len(numbers)}"
        with _transaction(conn):
            body = b"".join(
                conn.execute(
                    "SELECT body FROM parts WHERE upload_id = ? AND part_number = ?", (self.uploadId, n)
                ).fetchone()[0]
                for n in numbers
            )
            row = self._bucket._store(self.key, body, etag, http, custom, "{}", storage_class)
            conn.execute("UPDATE uploads SET state = 'completed' WHERE upload_id = ?", (self.uploadId,))
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (self.uploadId,))
        return R2Object(row)


class R2Bucket:
    """An R2 bucket stored in the SQLite file at `path`; `clock` gives the time in unix seconds."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._conn = connect(self.path)
        self._conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"<R2Bucket {self.path.stem}>"

    # -- objects -----------------------------------------------------------------------------------------
    async def head(self, key: str) -> R2Object | None:
        """The object's metadata, or None if there is no such object."""
        row = self._row(_check_key(key, "head"))
        return None if row is None else R2Object(row, whole=True)

    async def get(self, key: str, *args: Any, **kwargs: Any) -> R2ObjectBody | R2Object | None:
        """The object with its body; None if missing; the object without a body if `onlyIf` fails.

        Options: `onlyIf` (`{etagMatches, etagDoesNotMatch, uploadedBefore, uploadedAfter,
        secondsGranularity}` or a `Headers` with If-Match/If-None-Match/If-Modified-Since/
        If-Unmodified-Since), `range` (`{offset, length}`, `{offset}`, `{length}`, `{suffix}` or a
        `Headers` with a Range header)."""
        options = _options(args, kwargs, GET_OPTIONS)
        row = self._row(_check_key(key, "get"))
        if row is None:
            return None
        if "onlyIf" in options and not _holds(_conditional(options["onlyIf"]), row):
            return R2Object(row, whole=True)
        offset, length = _range(options.get("range"), row[2])
        body = self._conn.execute(
            "SELECT substr(body, ?, ?) FROM objects WHERE key = ?", (offset + 1, length, key)
        ).fetchone()[0]
        return R2ObjectBody(row, bytes(body or b""), offset)

    async def put(self, key: str, value: Any, *args: Any, **kwargs: Any) -> R2Object | None:
        """Store `value` (str, bytes, a `Blob`, None, or an async iterable of bytes) under `key`.

        Returns the new object, or None when `onlyIf` does not hold. Options: `httpMetadata` (an
        `R2HTTPMetadata` dict or a `Headers`), `customMetadata` ({str: str}), one of `md5`, `sha1`,
        `sha256`, `sha384`, `sha512` (hex or bytes, checked against the body), `onlyIf`,
        `storageClass` ("Standard" or "InfrequentAccess")."""
        options = _options(args, kwargs, PUT_OPTIONS)
        _check_key(key, "put")
        data = await _read_value(value, "put")
        hashes = [name for name in HASHES if name in options]
        if len(hashes) > 1:
            raise JsException("TypeError", "You cannot specify multiple hashing algorithms.")
        http = _http_metadata(options.get("httpMetadata"))
        custom = _custom_metadata(options.get("customMetadata"), "put")
        storage_class = _storage_class(options.get("storageClass"), "put")
        if len(data) > MAX_PUT_BYTES or len(data) > MAX_LOCAL_BYTES:
            raise _too_large("put")
        checksums = {"md5": hashlib.md5(data).hexdigest()}  # noqa: S324 - R2's etag is the MD5
        for name in hashes:
            expected = _digest(options[name], name)
            actual = hashlib.new(name, data).hexdigest()
            if expected != actual:
                algorithm = HASHES[name]
                raise R2Error(
                    "put",
                    f"The {algorithm} checksum you specified did not match what we received.\n"
                    f"You provided a {algorithm} checksum with value: {expected}\n"
                    f"Actual {algorithm} was: {actual}",
                    10037,
                )
            checksums[name] = actual
        conn = self._conn
        with _transaction(conn):
            if "onlyIf" in options:
                current = self._row(key)
                if not _holds(_conditional(options["onlyIf"]), current):
                    return None
            row = self._store(key, data, checksums["md5"], http, custom, json.dumps(checksums), storage_class)
        return R2Object(row)

    async def delete(self, keys: str | list[str]) -> None:
        """Delete one key or a list of up to 1000; missing keys are not an error."""
        names = keys if isinstance(keys, list) else [keys]
        if len(names) > MAX_DELETE:
            raise R2Error("delete", f"You can delete at most {MAX_DELETE} keys in one call.", 10001)
        for name in names:
            _check_key(name, "delete")
        with _transaction(self._conn):
            self._conn.executemany("DELETE FROM objects WHERE key = ?", [(name,) for name in names])

    async def list(self, *args: Any, **kwargs: Any) -> JsObject:
        """`{objects, truncated, cursor?, delimitedPrefixes}` in the UTF-8 byte order of the keys.

        Options: `prefix`, `limit` (1..1000, default 1000), `cursor`, `delimiter`, `startAfter`, `include`
        (`["httpMetadata", "customMetadata"]`: without it listed objects carry neither)."""
        options = _options(args, kwargs, LIST_OPTIONS)
        limit = options.get("limit", MAX_LIST)
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not 1 <= limit <= MAX_LIST:
            raise R2Error("list", f"MaxKeys params must be positive integer <= {MAX_LIST}.", 10022)
        limit = int(limit)
        prefix = _string(options.get("prefix", ""), "prefix")
        delimiter = _string(options.get("delimiter", ""), "delimiter")
        include = tuple(options.get("include") or ())
        for name in include:
            if name not in ("httpMetadata", "customMetadata"):
                raise JsException("TypeError", f"Unknown include value '{name}'.")
        after = max(_decode_cursor(options.get("cursor")), _string(options.get("startAfter", ""), "startAfter"))
        objects: list[R2Object] = []
        prefixes: list[str] = []
        last = ""
        truncated = False
        cursor_rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM objects WHERE key > ? AND substr(key, 1, ?) = ? ORDER BY key",  # noqa: S608
            (after, len(prefix), prefix),
        )
        for row in cursor_rows:
            key = row[0]
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    rolled = key[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == rolled:
                        continue
                    if len(objects) + len(prefixes) == limit:
                        truncated = True
                        break
                    prefixes.append(rolled)
                    last = rolled + "\U0010ffff"  # a cursor past every key under the rolled-up prefix
                    continue
            if len(objects) + len(prefixes) == limit:
                truncated = True
                break
            objects.append(R2Object(row, include=include))
            last = key
        result: dict[str, Any] = {"objects": JsArray(objects), "truncated": truncated}
        if truncated:
            result["cursor"] = _encode_cursor(last)
        result["delimitedPrefixes"] = JsArray(prefixes)
        return JsObject(result)

    # -- multipart -----------------------------------------------------------------------------------------
    async def createMultipartUpload(self, key: str, *args: Any, **kwargs: Any) -> R2MultipartUpload:
        """Start a multipart upload of `key`. Options: `httpMetadata`, `customMetadata`, `storageClass`."""
        options = _options(args, kwargs, MULTIPART_OPTIONS)
        _check_key(key, "createMultipartUpload")
        http = _http_metadata(options.get("httpMetadata"))
        custom = _custom_metadata(options.get("customMetadata"), "createMultipartUpload")
        storage_class = _storage_class(options.get("storageClass"), "createMultipartUpload")
        upload_id = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode("ascii").rstrip("=")
        self._conn.execute(
            "INSERT INTO uploads (upload_id, key, http_metadata, custom_metadata, storage_class, state) "
            "VALUES (?, ?, ?, ?, ?, 'open')",
            (upload_id, key, http, custom, storage_class),
        )
        return R2MultipartUpload(self, key, upload_id)

    def resumeMultipartUpload(self, key: str, uploadId: str) -> R2MultipartUpload:
        """The upload `uploadId` of `key`, not checked until it is used (as on R2)."""
        _check_key(key, "resumeMultipartUpload")
        if not isinstance(uploadId, str):
            raise TypeError(f"uploadId must be a str, not {type(uploadId).__name__}")
        return R2MultipartUpload(self, key, uploadId)

    # -- internals -----------------------------------------------------------------------------------------
    def _row(self, key: str) -> tuple[Any, ...] | None:
        return self._conn.execute(f"SELECT {_COLUMNS} FROM objects WHERE key = ?", (key,)).fetchone()  # noqa: S608

    def _store(
        self, key: str, body: bytes, etag: str, http: str, custom: str, checksums: str, storage_class: str
    ) -> tuple[Any, ...]:
        row = (key, uuid.uuid4().hex, len(body), etag, math.floor(self.clock() * 1000), http, custom, checksums)
        row = (*row, storage_class)
        self._conn.execute(
            f"INSERT OR REPLACE INTO objects ({_COLUMNS}, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (*row, body),
        )
        return row


# -- helpers -------------------------------------------------------------------------------------------
class _transaction:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: Any, *rest: Any) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def _props(value: Any, what: str) -> dict[str, Any]:
    """The properties of a JS-style object (a dict or a `to_js` object)."""
    if isinstance(value, dict):
        return {str(k): v for k, v in dict.items(value)}
    raise TypeError(f"{what} must be an object (a dict), not {type(value).__name__}")


def _options(args: tuple[Any, ...], kwargs: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """One options object, positional or as keyword arguments; None-valued options count as absent.

    An option of another R2 call is ignored, as Cloudflare ignores it (Cloudflare's 17-r2 example passes
    its put options to `uploadPart`); a name no R2 call takes raises, where Cloudflare would ignore it
    silently too, so that a misspelt option (`custom_metadata`) shows locally."""
    if len(args) > 1:
        raise TypeError(f"expected at most one options argument, got {len(args)}")
    if args and args[0] is not None and kwargs:
        raise TypeError("pass options either as a dict or as keyword arguments, not both")
    options = _props(args[0], "options") if args and args[0] is not None else dict(kwargs)
    unknown = sorted(set(options) - ALL_OPTIONS)
    if unknown:
        raise TypeError(
            f"unknown R2 option(s) {', '.join(map(repr, unknown))}; this call takes {', '.join(sorted(allowed))} "
            "(Cloudflare's camelCase names; Cloudflare would silently ignore the others)"
        )
    return {name: value for name, value in options.items() if value is not None and name in allowed}


def _check_key(key: Any, method: str) -> str:
    if not isinstance(key, str):
        raise TypeError(f"R2 keys are strings, not {type(key).__name__}")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise TypeError(f"R2 key {key!r} is not valid Unicode text (it holds a lone surrogate)") from None
    if size > MAX_KEY_BYTES:
        raise _invalid_name(method)
    return key


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"R2 list() {name} must be a str, not {type(value).__name__}")
    return value


async def _read_value(value: Any, method: str) -> bytes:
    """The bytes of a put or part value: what workerd takes (string, ArrayBuffer(View), Blob, stream, null)."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogatepass")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    from workers import Blob

    if isinstance(value, Blob):
        return value._data
    if hasattr(value, "__aiter__"):  # a stream of chunks
        chunks = []
        async for chunk in value:
            chunks.append(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk))
        return b"".join(chunks)
    if callable(getattr(value, "bytes", None)) and hasattr(value, "body_used"):  # a workers Request/Response
        return bytes(await value.bytes())
    raise JsException(
        "TypeError",
        f"Failed to execute '{method}' on 'R2Bucket': parameter 2 is not of type "
        f"'ReadableStream or ArrayBuffer or ArrayBufferView or string or Blob' (got {type(value).__name__}).",
    )


def _is_headers(value: Any) -> bool:
    return not isinstance(value, dict) and callable(getattr(value, "get", None))


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    return None if value is None else str(value)


def _http_metadata(value: Any) -> str:
    """The stored JSON of `httpMetadata` (a dict of R2HTTPMetadata fields, or a `Headers`)."""
    if value is None:
        return "{}"
    stored: dict[str, Any] = {}
    if _is_headers(value):
        for name, header in HTTP_FIELDS.items():
            text = _header(value, header)
            if text is None:
                continue
            if name == "cacheExpiry":
                try:
                    stored[name] = math.floor(email.utils.parsedate_to_datetime(text).timestamp() * 1000)
                except (TypeError, ValueError):
                    continue
            else:
                stored[name] = text
        return json.dumps(stored)
    for name, field in _props(value, "httpMetadata").items():
        if field is None:
            continue
        if name not in HTTP_FIELDS:
            raise TypeError(f"unknown httpMetadata field {name!r}; allowed: {', '.join(HTTP_FIELDS)}")
        if name == "cacheExpiry":
            stored[name] = _ms(field, "httpMetadata.cacheExpiry")
        elif isinstance(field, str):
            stored[name] = field
        else:
            raise TypeError(f"httpMetadata.{name} must be a str, not {type(field).__name__}")
    return json.dumps(stored)


def _custom_metadata(value: Any, method: str) -> str:
    if value is None:
        return "{}"
    custom = _props(value, "customMetadata")
    size = 0
    for name, field in custom.items():
        if not isinstance(field, str):
            raise TypeError(f"customMetadata values are strings; {name!r} is {type(field).__name__}")
        size += len(name.encode("utf-8")) + len(field.encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise R2Error(method, "Your metadata headers exceed the maximum allowed metadata size.", 10012)
    return json.dumps(custom)


def _storage_class(value: Any, method: str) -> str:
    if value is None:
        return "Standard"
    if value not in STORAGE_CLASSES:
        raise R2Error(method, f"Invalid storage class {value!r}: use Standard or InfrequentAccess.", 10040)
    return value


def _digest(value: Any, name: str) -> str:
    """A checksum option as lower-case hex (given as hex or as bytes)."""
    size = hashlib.new(name).digest_size
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    elif isinstance(value, str):
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
    else:
        raise TypeError(f"{name} must be a hex string or bytes, not {type(value).__name__}")
    if len(raw) != size:
        raise JsException("TypeError", f"{HASHES[name]} is {size} bytes, not {len(raw)}.")
    return raw.hex()


def _ms(value: Any, what: str) -> int:
    """Milliseconds since the epoch from a Date / datetime (naive is UTC) or a number of milliseconds."""
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return math.floor(moment.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return math.floor(value)
    raise TypeError(f"{what} must be a Date (datetime), not {type(value).__name__}")


@dataclass
class _Conditional:
    matches: list[str] | None = None
    not_matches: list[str] | None = None
    before: int | None = None
    after: int | None = None
    seconds: bool = False


def _etags(text: Any) -> list[str]:
    """An etag list as R2 reads it: comma-separated, quotes and `W/` optional, `*` for any."""
    if not isinstance(text, str):
        raise TypeError(f"an etag condition must be a str, not {type(text).__name__}")
    tags = []
    for part in text.split(","):
        tag = part.strip().removeprefix("W/").strip('"')
        if tag:
            tags.append(tag)
    return tags


def _conditional(value: Any) -> _Conditional:
    if _is_headers(value):
        cond = _Conditional(seconds=True)  # HTTP dates have whole seconds
        if (text := _header(value, "if-match")) is not None:
            cond.matches = _etags(text)
        if (text := _header(value, "if-none-match")) is not None:
            cond.not_matches = _etags(text)
        for header, field in (("if-modified-since", "after"), ("if-unmodified-since", "before")):
            if (text := _header(value, header)) is not None:
                with contextlib.suppress(TypeError, ValueError):  # an unreadable date is ignored, as in HTTP
                    setattr(cond, field, math.floor(email.utils.parsedate_to_datetime(text).timestamp() * 1000))
        return cond
    props = _props(value, "onlyIf")
    unknown = set(props) - {"etagMatches", "etagDoesNotMatch", "uploadedBefore", "uploadedAfter", "secondsGranularity"}
    if unknown:
        raise TypeError(f"unknown onlyIf field(s) {', '.join(sorted(unknown))}")
    cond = _Conditional(seconds=bool(props.get("secondsGranularity")))
    if props.get("etagMatches") is not None:
        cond.matches = _etags(props["etagMatches"])
    if props.get("etagDoesNotMatch") is not None:
        cond.not_matches = _etags(props["etagDoesNotMatch"])
    if props.get("uploadedBefore") is not None:
        cond.before = _ms(props["uploadedBefore"], "onlyIf.uploadedBefore")
    if props.get("uploadedAfter") is not None:
        cond.after = _ms(props["uploadedAfter"], "onlyIf.uploadedAfter")
    return cond


def _holds(cond: _Conditional, row: tuple[Any, ...] | None) -> bool:
    """Whether the conditions hold for the object `row` (None: no object), in HTTP's order of precedence:
    an If-Match that holds overrides If-Unmodified-Since, an If-None-Match given overrides If-Modified-Since."""
    if row is None:
        return cond.matches is None and cond.after is None
    etag, uploaded = row[3], row[4]

    def cut(ms: int) -> int:
        return ms // 1000 * 1000 if cond.seconds else ms

    match = cond.matches is None or "*" in cond.matches or etag in cond.matches
    none_match = cond.not_matches is None or not ("*" in cond.not_matches or etag in cond.not_matches)
    modified = cond.after is None or cut(cond.after) < cut(uploaded) or cond.not_matches is not None
    unmodified = cond.before is None or cut(uploaded) < cut(cond.before) or cond.matches is not None
    return match and none_match and modified and unmodified


def _range(value: Any, size: int) -> tuple[int, int]:
    """(offset, length) of a get's `range` option over an object of `size` bytes."""
    if value is None:
        return 0, size
    if _is_headers(value):
        text = _header(value, "range")
        if text is None:
            return 0, size
        return _range_header(text, size)
    props = _props(value, "range")
    offset, length, suffix = props.get("offset"), props.get("length"), props.get("suffix")
    for name, number in (("offset", offset), ("length", length), ("suffix", suffix)):
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)):
            raise TypeError(f"range.{name} must be a number, not {type(number).__name__}")
    if suffix is not None:
        if offset is not None or length is not None:
            raise JsException("TypeError", "Suffix is incompatible with offset and length.")
        if suffix <= 0:
            raise R2Error("get", "The requested range is not satisfiable", 10039)
        suffix = min(int(suffix), size)
        return size - suffix, suffix
    offset = 0 if offset is None else int(offset)
    length = size - offset if length is None else int(length)
    if offset < 0 or offset > size or length <= 0:
        raise R2Error("get", "The requested range is not satisfiable", 10039)
    return offset, min(length, size - offset)


def _range_header(text: str, size: int) -> tuple[int, int]:
    """A single `bytes=` range; several ranges or an unreadable header read the whole object."""
    unit, _, spec = text.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return 0, size
    start, dash, end = spec.strip().partition("-")
    try:
        if not dash:
            return 0, size
        if start == "":
            suffix = min(int(end), size)
            return size - suffix, suffix
        first = int(start)
        last = size - 1 if end == "" else min(int(end), size - 1)
    except ValueError:
        return 0, size
    if first >= size or last < first:
        raise R2Error("get", "The requested range is not satisfiable", 10039)
    return first, last - first + 1


def _encode_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(_CURSOR_MAGIC + after.encode("utf-8")).decode("ascii")


def _decode_cursor(cursor: Any) -> str:
    if cursor is None or cursor == "":
        return ""
    if isinstance(cursor, str):
        try:
            raw = base64.urlsafe_b64decode(cursor.encode("ascii"))
            if raw.startswith(_CURSOR_MAGIC):
                return raw.removeprefix(_CURSOR_MAGIC).decode("utf-8")
        except (ValueError, UnicodeError):
            pass
    raise R2Error("list", "The cursor is not valid: pass the cursor of the previous list() result.", 10001)


# -- the binding kind: `r2_buckets` in wrangler.jsonc ------------------------------------------------------


@dataclass(frozen=True)
class R2BucketConfig:
    """An `r2_buckets` entry; `bucket_name` defaults to the binding."""

    binding: str
    bucket_name: str


class R2Kind(ListKind):
    """`r2_buckets`: `env.<binding>` is an `R2Bucket` on `<state>/r2/<bucket_name>.sqlite`."""

    key = "r2_buckets"
    state_folder = "r2"

    def entry(self, reader: ConfigReader, item: dict[str, Any], where: str) -> R2BucketConfig:
        binding = reader.string(item, "binding", required=True, prefix=where)
        return R2BucketConfig(binding=binding, bucket_name=reader.string(item, "bucket_name", prefix=where) or binding)

    def binding(self, entry: R2BucketConfig, context: BindingContext) -> R2Bucket:
        return R2Bucket(self.state_file(context.state, entry.bucket_name), clock=context.clock)
