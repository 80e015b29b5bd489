"""Calls from one local worker process to another: RPC, fetch and cron, over a Unix socket per worker.

Every worker process of a local platform listens on `<sockets_dir>/<worker name>.sock`. A call
carries the platform's token in a header, so that a request a client sends through the dispatcher
can never pose as an internal call.

A worker the platform is restarting (its process died) has a `<name>.down` marker next to its
socket, holding its state (`restarting` or `crashed-on-start`). A fetch to a restarting worker
answers a 503 envelope (`WORKER_RESTARTING`, `Retry-After: 1`) at once, as does one whose
connection breaks because the process just died; RPC and cron calls raise `WorkerDown` carrying
the same error. A worker that crashed on start raises `WorkerDown` from fetch too (the caller sees
a failed worker, as before: the dispatcher's 502 `WORKER_ERROR`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from workers import Request, Response

from dotdo_dev.registry import declared_placement
from dotdo_dev.runtime import wire
from dotdo_dev.runtime.http1 import ConnectFailed, ConnectionLost, Pool, Reply
from dotdo_dev.supervision import CRASHED_ON_START, RESTARTING
from shared.envelope import failure
from shared.errors import ServiceUnavailable, to_rpc_message

TOKEN_HEADER = "x-dotdo-runtime-token"  # noqa: S105 - a header name, not a secret
OP_HEADER = "x-dotdo-op"
ENTRYPOINT_HEADER = "x-dotdo-entrypoint"
URL_HEADER = "x-dotdo-url"
EXCEPTION_HEADER = "x-dotdo-exception"
INTERNAL_HEADERS = (TOKEN_HEADER, OP_HEADER, ENTRYPOINT_HEADER, URL_HEADER, EXCEPTION_HEADER)
#: Every header the platform uses internally starts so (also `x-dotdo-principal`, set by the gateway).
#: A worker's host honours them only on requests carrying the token, and strips them from any other.
PLATFORM_PREFIX = "x-dotdo-"

# Where the local platform tells its processes how to reach each other.
SOCKETS_ENV = "DOTDO_SOCKETS_DIR"
TOKEN_ENV = "DOTDO_RUNTIME_TOKEN"  # noqa: S105 - a variable name, not a secret


PLACEMENT_TTL = 1.0  # seconds a worker's placement is taken as read (Peers.placement)
DOWN_SUFFIX = ".down"  # `<name>.down`: the platform is restarting that worker (content: its state)
Send = Callable[[Pool], Awaitable[Reply]]  # one request on a worker's connections (http1.Pool)


class WorkerNotFound(LookupError):
    """No local worker of that name is running."""


class RemoteError(Exception):
    """An exception raised in the called worker. Only its message crosses, as on Cloudflare."""


class WorkerDown(RemoteError):
    """The called worker's process is down (restarting, or crashed on start); the message says which."""

    def __init__(self, worker: str, status: str) -> None:
        self.worker, self.status = worker, status
        if status == CRASHED_ON_START:
            message = f"worker {worker!r} crashed on start; the platform retries it (see /__platform)"
        else:
            error = ServiceUnavailable(f"The {worker} worker is restarting", code="WORKER_RESTARTING")
            error.details = {"worker": worker}
            message = to_rpc_message(error)  # a caller using shared.rpc.call gets this 503 back
        super().__init__(message)


class Peers:
    """Clients for the other worker processes of one local platform."""

    def __init__(self, sockets_dir: str | Path, token: str, *, start_timeout: float = 20.0) -> None:
        self.sockets_dir = Path(sockets_dir)
        self.token = token
        self.start_timeout = start_timeout
        self._pools: dict[str, Pool] = {}  # kept-alive connections per worker (http1: lean, no per-call setup)
        self._recent_placements: dict[str, tuple[float, str | None]] = {}  # per worker: (good until, placement)
        self._markers: dict[str, str] = {}  # per worker: the path of its `.registered` marker

    @classmethod
    def from_environ(cls) -> Peers | None:
        sockets = os.environ.get(SOCKETS_ENV)
        token = os.environ.get(TOKEN_ENV)
        if not sockets or not token:
            return None
        return cls(sockets, token)

    def socket_path(self, worker: str) -> Path:
        return self.sockets_dir / f"{worker}.sock"

    def registered(self) -> list[str]:
        """Names of the workers this platform runs (one `.registered` marker each, written at start)."""
        return sorted(p.stem for p in self.sockets_dir.glob("*.registered"))

    def is_registered(self, worker: str) -> bool:
        """Whether the platform runs `worker` (its marker exists): asked on every call, so one `stat` of a
        path made once per worker, not a `Path` built and checked each time."""
        marker = self._markers.get(worker)
        if marker is None:
            marker = self._markers[worker] = os.fspath(self.sockets_dir / f"{worker}.registered")
        return os.path.exists(marker)

    def config_path(self, worker: str) -> Path | None:
        """The `wrangler.jsonc` the platform runs `worker` from (its `.registered` marker holds the path)."""
        try:
            text = (self.sockets_dir / f"{worker}.registered").read_text().strip()
        except OSError:
            return None
        return Path(text) if text else None

    def placement(self, worker: str) -> str | None:
        """Where `worker` lives on Cloudflare, as the manifest (`service.toml`) beside its config declares:
        `account` or `namespace`; None for a worker without one (test fixtures), which nothing restricts.

        Asked on every call through a binding: the answer is kept for `PLACEMENT_TTL` seconds (an edit of a
        manifest counts within that), then the manifest is read again."""
        now = time.monotonic()
        recent = self._recent_placements.get(worker)
        if recent is not None and recent[0] > now:
            return recent[1]
        placement = self._read_placement(worker)
        self._recent_placements[worker] = (now + PLACEMENT_TTL, placement)
        return placement

    def _read_placement(self, worker: str) -> str | None:
        config = self.config_path(worker)
        return declared_placement(config) if config is not None else None

    def down(self, worker: str) -> str | None:
        """`restarting` or `crashed-on-start` while the platform restarts `worker`; None while it runs."""
        try:
            return (self.sockets_dir / f"{worker}{DOWN_SUFFIX}").read_text().strip() or RESTARTING
        except OSError:
            return None

    async def _pool(self, worker: str) -> Pool:
        pool = self._pools.get(worker)
        if pool is None:
            if not self.is_registered(worker):
                raise WorkerNotFound(worker)
            await self._wait_for_socket(worker)
            pool = self._pools[worker] = Pool(str(self.socket_path(worker)))
        elif not self.is_registered(worker):
            raise WorkerNotFound(worker)
        return pool

    async def _wait_for_socket(self, worker: str) -> None:
        """Return once `worker` listens (it is starting, or being reloaded); `WorkerDown` if it is down."""
        path = self.socket_path(worker)
        deadline = asyncio.get_running_loop().time() + self.start_timeout
        while not path.exists():
            status = self.down(worker)
            if status is not None:
                raise WorkerDown(worker, status)
            if asyncio.get_running_loop().time() > deadline:
                raise WorkerNotFound(f"{worker} (registered but not listening)")
            await asyncio.sleep(0.05)

    async def _send(self, worker: str, send: Send) -> Reply:
        """`send(pool)` to `worker`; `WorkerDown` if its process is gone.

        A worker being reloaded after a file save has no socket and no `.down` marker for a moment: a
        connection refused then means the request was never sent, so it waits for the new process and
        is sent once more.
        """
        pool = await self._pool(worker)
        try:
            return await send(pool)
        except ConnectFailed:
            if self.down(worker) is None and not self.socket_path(worker).exists():
                await self._wait_for_socket(worker)
                with contextlib.suppress(ConnectFailed, ConnectionLost):
                    return await send(pool)
            raise WorkerDown(worker, self.down(worker) or RESTARTING) from None
        except ConnectionLost:
            raise WorkerDown(worker, self.down(worker) or RESTARTING) from None

    async def rpc(self, worker: str, entrypoint: str | None, method: str, args: tuple, kwargs: dict) -> Any:
        """Call `method` on `worker`'s entrypoint; arguments and result cross the RPC boundary."""
        payload = wire.dumps({"entrypoint": entrypoint, "method": method, "args": list(args), "kwargs": kwargs})
        headers = [(TOKEN_HEADER, self.token)]
        reply = await self._send(worker, lambda pool: pool.request("POST", "/__dotdo/rpc", headers, payload))
        return _unwrap(reply)

    async def fetch(self, worker: str, entrypoint: str | None, request: Request) -> Response:
        """Send `request` to `worker`'s `fetch` handler. An exception there raises `RemoteError` here."""
        if (request.headers.get("upgrade") or "").lower() == "websocket":
            return await self._websocket(worker, entrypoint, request)
        path = _target(request.url)
        headers = [(k, v) for k, v in request._headers if k not in INTERNAL_HEADERS]
        headers += [
            (TOKEN_HEADER, self.token),
            (OP_HEADER, "fetch"),
            (URL_HEADER, request.url),
            (ENTRYPOINT_HEADER, entrypoint or ""),
        ]
        method, body = request.method.value, request.body
        try:
            reply = await self._send(worker, lambda pool: pool.request(method, path, headers, body))
        except WorkerDown as down:
            return _down_response(request, down)
        failed = reply.header(EXCEPTION_HEADER)
        if failed is not None:
            raise RemoteError(_unquote(failed))
        hop = _HOP_HEADERS if method != "HEAD" else _HOP_HEADERS - {"content-length"}  # a HEAD's length stands
        raw = [(k, v) for k, v in reply.headers if k not in hop]
        return Response._from_parts(request.url, reply.status, reply.reason, raw, reply.body or None)

    async def _websocket(self, worker: str, entrypoint: str | None, request: Request) -> Response:
        """A WebSocket upgrade to `worker`: its 101 answer is a `Response` whose `js_object.webSocket` is joined
        to the worker's end over its socket (`websocket_wire`); any other answer is returned as it is."""
        from js._websocket import join_network

        from dotdo_dev.runtime.websocket_wire import HANDSHAKE_HEADERS, connect

        path = _target(request.url)
        headers = [(k, v) for k, v in request._headers if k not in INTERNAL_HEADERS]
        headers += [(TOKEN_HEADER, self.token), (OP_HEADER, "fetch"), (URL_HEADER, request.url)]
        headers.append((ENTRYPOINT_HEADER, entrypoint or ""))
        try:
            await self._pool(worker)  # registered, and listening (it may be starting or reloading)
            if not self.socket_path(worker).exists() and self.down(worker) is None:
                await self._wait_for_socket(worker)
            answer = await connect(path, headers, unix=str(self.socket_path(worker)))
        except WorkerDown as down:
            return _down_response(request, down)
        except OSError:
            return _down_response(request, WorkerDown(worker, self.down(worker) or RESTARTING))
        if answer.connection is None and dict(answer.headers).get(EXCEPTION_HEADER) is not None:
            raise RemoteError(_unquote(dict(answer.headers)[EXCEPTION_HEADER]))
        skip = HANDSHAKE_HEADERS | {"date", "server"}
        kept = [(k, v) for k, v in answer.headers if k not in skip]
        if answer.connection is None:
            return Response._from_parts(request.url, answer.status, answer.reason, kept, answer.body or None)
        protocol = dict(answer.headers).get("sec-websocket-protocol", "")
        response = Response._from_parts(request.url, 101, answer.reason, kept, None)
        end = response.js_response.webSocket = join_network(answer.connection, request.url, protocol)
        end._lost_reason = f"the {worker} worker's connection was lost"  # what a client hears if it dies
        return response

    async def scheduled(self, worker: str, cron: str, scheduled_time: float | None = None) -> dict[str, Any]:
        payload = wire.dumps({"cron": cron, "scheduled_time": scheduled_time})
        headers = [(TOKEN_HEADER, self.token)]
        reply = await self._send(worker, lambda pool: pool.request("POST", "/__dotdo/scheduled", headers, payload))
        return _unwrap(reply)

    async def forget(self, worker: str) -> None:
        """Drop the connections to a worker (it is being restarted)."""
        pool = self._pools.pop(worker, None)
        if pool is not None:
            await pool.aclose()

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


#: Headers of one hop's answer that the next hop sets itself.
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "date", "server", "connection"})


def _target(url: str) -> str:
    """The request target (path and query, as written) of an absolute URL."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _down_response(request: Request, down: WorkerDown) -> Response:
    """A 503 `WORKER_RESTARTING` envelope for a worker being restarted; `down` raised if it crashed on start."""
    if down.status == CRASHED_ON_START:
        raise down
    body = failure(
        "WORKER_RESTARTING",
        f"The {down.worker} worker is restarting; try again in a moment",
        details={"worker": down.worker},
    )
    headers = [("content-type", "application/json"), ("retry-after", "1"), ("cache-control", "no-store")]
    return Response._from_parts(request.url, 503, "Service Unavailable", headers, json.dumps(body).encode())


def quote_header(text: str) -> str:
    """Make an exception message safe to carry in one header line."""
    return quote(text[:4000], safe=" !#$%&'()*+,/:;<=>?@[]^_`{|}~")


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


def _unwrap(reply: Reply) -> Any:
    data = wire.loads(reply.body)
    if reply.status != 200 or "error" in data:
        raise RemoteError(data.get("error", f"worker call failed with HTTP {reply.status}"))
    return data["value"]
