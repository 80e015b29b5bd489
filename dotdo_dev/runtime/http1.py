"""A lean HTTP/1.1 client for the platform's own hops: kept-alive connections, reused, nothing else.

Every call between local worker processes (the front door to the dispatcher, a service binding, an
RPC) is one HTTP/1.1 exchange over a Unix socket with a server we run (uvicorn). A general client
(httpx) spends 1.2-1.7 ms of CPU per call on things these hops never need (URL objects, cookies,
redirects, timeouts per phase, transports); this one writes the request in one buffer and reads the
answer with `readuntil`/`readexactly`: status line, headers, then a `Content-Length` body, a chunked
body, or a body to the end of a connection that says `close`.

`Pool(path)` keeps idle connections to one socket (or `host`/`port`) and reuses them. A connection
the server closed while idle fails on its next use before any answer arrives: the request is sent
once more on a new connection (the server never saw it), as general clients do. Failures:
`ConnectFailed` (nothing listens: no socket, or refused) and `ConnectionLost` (the server went away
during the exchange); both are `OSError`s.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import NamedTuple

#: A call may run as long as a worker works on it; the connection itself must come up quickly.
CONNECT_TIMEOUT = 10.0
CALL_TIMEOUT = 300.0
MAX_IDLE = 64  # idle connections kept per pool; more are closed once answered
_MAX_HEAD = 256 * 1024  # status line and headers


class ConnectFailed(OSError):
    """Nothing accepts connections there (no socket, connection refused, or no answer to connect in time)."""


class ConnectionLost(OSError):
    """The server closed or reset the connection before the answer was complete."""


class Reply(NamedTuple):
    """An answer: status, reason phrase, headers as sent (names lower-cased, in order), the whole body."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first value of header `name` (lower-case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Pool:
    """Kept-alive HTTP/1.1 connections to one Unix socket (`path`) or TCP address (`host`, `port`, connecting from
    the local address `source` if given); every request names `authority` as its Host (default: `worker`, or
    `host:port`)."""

    def __init__(
        self,
        path: str | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        authority: str | None = None,
        source: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        call_timeout: float = CALL_TIMEOUT,
    ) -> None:
        if (path is None) == (host is None):
            raise ValueError("give a Unix socket path or a host and port")
        self.path, self.host, self.port, self.source = path, host, port, source
        self.connect_timeout, self.call_timeout = connect_timeout, call_timeout
        self._idle: list[_Connection] = []
        self._host_header = authority or ("worker" if path is not None else f"{host}:{port}")
        self.closed = False

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes | None = None
    ) -> Reply:
        """Send one request (`target`: path and query) and return the whole answer."""
        head = _encode_head(method, target, self._host_header, headers or [], body)
        async with asyncio.timeout(self.call_timeout):
            while True:
                kept = bool(self._idle)  # a kept connection the server may have closed meanwhile
                connection = self._idle.pop() if kept else await self._connect()
                try:
                    reply, reusable = await _exchange(connection, head, body, method == "HEAD")
                except _Stale:
                    connection.close()
                    if kept:
                        continue  # the server never saw the request: send it on another connection
                    raise ConnectionLost("the server closed the connection without answering") from None
                except BaseException:
                    connection.close()
                    raise
                self._release(connection, reusable)
                return reply

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.path is not None:
                    reader, writer = await asyncio.open_unix_connection(self.path, limit=_MAX_HEAD)
                else:
                    local = (self.source, 0) if self.source else None
                    reader, writer = await asyncio.open_connection(
                        self.host, self.port, limit=_MAX_HEAD, local_addr=local
                    )
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"cannot connect to {self.path or f'{self.host}:{self.port}'}: {exc}") from None
        return _Connection(reader, writer)

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not self.closed and len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their answer is read."""
        self.closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class _Stale(Exception):
    """A connection that failed before a single byte of an answer: the request never reached the server."""


def _encode_head(method: str, target: str, host: str, headers: list[tuple[str, str]], body: bytes | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"host: {host}"]
    for name, value in headers:
        lower = name.lower()
        if lower in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        lines.append(f"content-length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _exchange(connection: _Connection, head: bytes, body: bytes | None, bodiless: bool) -> tuple[Reply, bool]:
    """Write the request, read the answer; (reply, whether the connection can carry another request).
    `bodiless`: the answer has no body whatever its headers say (the answer to a HEAD request)."""
    reader, writer = connection.reader, connection.writer
    try:
        writer.write(head + body if body else head)
        await writer.drain()
        status_line = await reader.readuntil(b"\r\n")
    except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError) as exc:
        if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
            raise ConnectionLost("the server closed the connection in its answer") from None
        raise _Stale from None
    except asyncio.LimitOverrunError:
        raise ConnectionLost("the server's status line is too long") from None
    try:
        return await _read_rest(reader, status_line, bodiless)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ConnectionLost(f"the server went away in its answer: {exc!r}") from None
    except asyncio.LimitOverrunError:
        raise ConnectionLost("the server's headers are too long") from None


async def _read_rest(reader: asyncio.StreamReader, status_line: bytes, bodiless: bool) -> tuple[Reply, bool]:
    parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ConnectionLost(f"not an HTTP/1.1 answer: {status_line[:80]!r}")
    status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
    raw = await reader.readuntil(b"\r\n\r\n")
    headers: list[tuple[str, str]] = []
    length: int | None = None
    chunked = close = False
    for line in raw.decode("latin-1").split("\r\n"):
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        headers.append((name, value))
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif name == "connection":
            close = "close" in value.lower()
    if bodiless or status in (204, 304) or 100 <= status < 200:
        body = b""
    elif chunked:
        body = await _read_chunked(reader)
    elif length is not None:
        body = await reader.readexactly(length)
    else:
        body, close = await reader.read(), True
    keep = not close and not parts[0].endswith("1.0")
    return Reply(status, reason, headers, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    pieces = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, if any
                pass
            return b"".join(pieces)
        pieces.append(await reader.readexactly(size))
        await reader.readexactly(2)
