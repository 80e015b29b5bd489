"""Calls from one local worker process to another: RPC, fetch and cron, over a Unix socket per worker.

Every worker process of a local platform listens on `<sockets_dir>/<worker name>.sock`. A call
carries the platform's token in a header, so that a request a client sends through the dispatcher
can never pose as an internal call.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from workers import Request, Response

from dotdo_dev.runtime import wire

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


# A call may run as long as a worker works on it; the connection itself must come up quickly.
CALL_TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class WorkerNotFound(LookupError):
    """No local worker of that name is running."""


class RemoteError(Exception):
    """An exception raised in the called worker. Only its message crosses, as on Cloudflare."""


class Peers:
    """Clients for the other worker processes of one local platform."""

    def __init__(self, sockets_dir: str | Path, token: str, *, start_timeout: float = 20.0) -> None:
        self.sockets_dir = Path(sockets_dir)
        self.token = token
        self.start_timeout = start_timeout
        self._clients: dict[str, httpx.AsyncClient] = {}

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
        return (self.sockets_dir / f"{worker}.registered").exists()

    async def _client(self, worker: str) -> httpx.AsyncClient:
        if not self.is_registered(worker):
            raise WorkerNotFound(worker)
        client = self._clients.get(worker)
        if client is None:
            path = self.socket_path(worker)
            deadline = asyncio.get_running_loop().time() + self.start_timeout
            while not path.exists():  # the worker is still starting
                if asyncio.get_running_loop().time() > deadline:
                    raise WorkerNotFound(f"{worker} (registered but not listening)")
                await asyncio.sleep(0.05)
            transport = httpx.AsyncHTTPTransport(uds=str(path))
            client = httpx.AsyncClient(transport=transport, base_url="http://worker", timeout=CALL_TIMEOUT)
            self._clients[worker] = client
        return client

    async def rpc(self, worker: str, entrypoint: str | None, method: str, args: tuple, kwargs: dict) -> Any:
        """Call `method` on `worker`'s entrypoint; arguments and result cross the RPC boundary."""
        payload = wire.dumps({"entrypoint": entrypoint, "method": method, "args": list(args), "kwargs": kwargs})
        client = await self._client(worker)
        reply = await client.post("/__dotdo/rpc", content=payload, headers={TOKEN_HEADER: self.token})
        return _unwrap(reply)

    async def fetch(self, worker: str, entrypoint: str | None, request: Request) -> Response:
        """Send `request` to `worker`'s `fetch` handler. An exception there raises `RemoteError` here."""
        client = await self._client(worker)
        url = httpx.URL(request.url)
        path = url.raw_path.decode("ascii") or "/"
        headers = [(k, v) for k, v in request._headers if k not in INTERNAL_HEADERS]
        headers += [
            (TOKEN_HEADER, self.token),
            (OP_HEADER, "fetch"),
            (URL_HEADER, request.url),
            (ENTRYPOINT_HEADER, entrypoint or ""),
        ]
        reply = await client.request(request.method.value, path, headers=headers, content=request.body)
        if reply.headers.get(EXCEPTION_HEADER) is not None:
            raise RemoteError(_unquote(reply.headers[EXCEPTION_HEADER]))
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in reply.headers.raw]
        raw = [(k, v) for k, v in raw if k.lower() not in ("content-length", "transfer-encoding", "date", "server")]
        return Response._from_parts(request.url, reply.status_code, reply.reason_phrase, raw, reply.content or None)

    async def scheduled(self, worker: str, cron: str, scheduled_time: float | None = None) -> dict[str, Any]:
        payload = wire.dumps({"cron": cron, "scheduled_time": scheduled_time})
        client = await self._client(worker)
        reply = await client.post("/__dotdo/scheduled", content=payload, headers={TOKEN_HEADER: self.token})
        return _unwrap(reply)

    async def forget(self, worker: str) -> None:
        """Drop the connection pool to a worker (it is being restarted)."""
        client = self._clients.pop(worker, None)
        if client is not None:
            await client.aclose()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def quote_header(text: str) -> str:
    """Make an exception message safe to carry in one header line."""
    return quote(text[:4000], safe=" !#$%&'()*+,/:;<=>?@[]^_`{|}~")


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


def _unwrap(reply: httpx.Response) -> Any:
    data = wire.loads(reply.content)
    if reply.status_code != 200 or "error" in data:
        raise RemoteError(data.get("error", f"worker call failed with HTTP {reply.status_code}"))
    return data["value"]
