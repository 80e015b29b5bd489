"""The process that hosts one worker of the local platform.

`python -m dotdo_dev.runtime.host --config workers/db/wrangler.jsonc --state .state --sockets DIR`
loads the worker into an `Isolate`, serves it over HTTP on `DIR/<name>.sock` (plain requests go to
its `fetch`; calls carrying the platform token may also be RPC or cron), and runs its queue
consumers and cron triggers.

The socket is private: it is created with mode 0600 (in a folder the platform made 0700), and the
platform's `x-dotdo-*` headers (among them the gateway's `x-dotdo-principal`, which services trust)
reach the worker only on requests that carry the per-run token; any other request loses every
`x-dotdo-*` header before the worker sees it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from workers import Request

from dotdo_dev.config import load_local
from dotdo_dev.runtime import loop, wire
from dotdo_dev.runtime.bindings.assets import ASSETS_RESOURCE
from dotdo_dev.runtime.bindings.queues import QueueConsumer
from dotdo_dev.runtime.bodies import read_capped, send_response
from dotdo_dev.runtime.errors import WorkerError, describe
from dotdo_dev.runtime.http_server import OneWriteProtocol
from dotdo_dev.runtime.isolate import Isolate
from dotdo_dev.runtime.peers import (
    ENTRYPOINT_HEADER,
    EXCEPTION_HEADER,
    INTERNAL_HEADERS,
    OP_HEADER,
    PLATFORM_PREFIX,
    TOKEN_HEADER,
    URL_HEADER,
    Peers,
    quote_header,
)
from dotdo_dev.runtime.state import StateDir
from dotdo_dev.runtime.websocket_server import WebSocketProtocol
from shared.errors import RPC_MARKER

log = logging.getLogger("dotdo.runtime")

MAX_BODY = 100 * 1024 * 1024  # Cloudflare's request body limit on the free and pro plans


class WorkerApp:
    """ASGI app in front of one isolate."""

    def __init__(self, isolate: Isolate, token: str | None) -> None:
        self.isolate = isolate
        self.token = token
        self.background: set[asyncio.Task[Any]] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        hmap = dict(headers)
        body, too_large = await _read_body(receive)
        if too_large:
            await _send_plain(send, 413, "Payload Too Large")
            return
        internal = self._carries_token(scope["headers"])
        path = scope.get("path", "/")
        if internal and path == "/__dotdo/rpc" and OP_HEADER not in hmap:
            await self._rpc(body, send)
            return
        if internal and path == "/__dotdo/scheduled" and OP_HEADER not in hmap:
            await self._scheduled(body, send)
            return
        forwarded = internal and hmap.get(OP_HEADER) == "fetch"
        url = hmap.get(URL_HEADER) if forwarded else None
        if not url:
            host = hmap.get("host", "localhost")
            query = scope.get("query_string", b"").decode("latin-1")
            raw_path = (scope.get("raw_path") or path.encode()).decode("latin-1")
            url = f"http://{host}{raw_path}" + (f"?{query}" if query else "")
        entrypoint = (hmap.get(ENTRYPOINT_HEADER) or None) if forwarded else None
        # With the token the platform's own headers (the gateway's principal) stay; without it none reaches the worker.
        clean = [
            (k, v) for k, v in headers if k not in INTERNAL_HEADERS and (internal or not k.startswith(PLATFORM_PREFIX))
        ]
        request = Request(url, method=scope["method"], headers=clean, body=body or None)
        assets = self.isolate.resources.get(ASSETS_RESOURCE) if entrypoint is None else None
        served = await assets.route(request) if assets is not None else None  # static assets answer first
        if served is not None:
            await send_response(send, served, head=scope["method"] == "HEAD")
            return
        try:
            response, ctx = await self.isolate.fetch(request, entrypoint=entrypoint)
        except Exception as exc:
            log.exception("%s: uncaught exception in fetch", self.isolate.config.name)
            if forwarded:
                # The calling worker gets the exception (its message only), as through a binding on Cloudflare.
                await _send_plain(send, 500, "Internal Server Error", [(EXCEPTION_HEADER, quote_header(describe(exc)))])
            else:
                await _send_plain(send, 500, "Internal Server Error")
            return
        await send_response(send, response, head=scope["method"] == "HEAD")
        self._after(ctx)

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A WebSocket upgrade: the worker's `fetch` gets the request (`Upgrade: websocket`); a 101 response
        with a WebSocket is joined to the connection, any other response is sent instead of the upgrade."""
        from dotdo_dev.runtime.websocket_server import bridge, refuse

        await receive()  # websocket.connect
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        hmap = dict(headers)
        internal = self._carries_token(scope["headers"])
        forwarded = internal and hmap.get(OP_HEADER) == "fetch"
        url = hmap.get(URL_HEADER) if forwarded else None
        if not url:
            query = scope.get("query_string", b"").decode("latin-1")
            raw_path = (scope.get("raw_path") or scope.get("path", "/").encode()).decode("latin-1")
            url = f"http://{hmap.get('host', 'localhost')}{raw_path}" + (f"?{query}" if query else "")
        entrypoint = (hmap.get(ENTRYPOINT_HEADER) or None) if forwarded else None
        clean = [
            (k, v) for k, v in headers if k not in INTERNAL_HEADERS and (internal or not k.startswith(PLATFORM_PREFIX))
        ]
        try:
            request = Request(url, method=scope.get("method") or "GET", headers=clean)
            response, ctx = await self.isolate.fetch(request, entrypoint=entrypoint)
        except Exception as exc:
            log.exception("%s: uncaught exception in fetch", self.isolate.config.name)
            extra = [(EXCEPTION_HEADER.encode(), quote_header(describe(exc)).encode("latin-1"))] if forwarded else []
            await refuse(send, 500, [(b"content-type", b"text/plain;charset=UTF-8"), *extra], b"Internal Server Error")
            return
        end = response.js_response.webSocket
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response._headers if k != "content-length"]
        if end is None or response.status != 101:
            await refuse(send, response.status, out, response.body or b"")
            self._after(ctx)
            return
        await send({"type": "websocket.accept", "headers": out})
        self._after(ctx)
        await bridge(end, receive, send, lost=f"the {self.isolate.config.name} worker's connection was lost")

    def _carries_token(self, raw_headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether the request carries the platform's per-run token (compared in constant time, as bytes)."""
        if self.token is None:
            return False
        sent = next((v for k, v in raw_headers if k.lower() == TOKEN_HEADER.encode()), b"")
        return hmac.compare_digest(sent, self.token.encode())

    async def _rpc(self, body: bytes, send: Any) -> None:
        try:
            call = wire.loads(body)
            value, ctx = await self.isolate.call(call["entrypoint"], call["method"], call["args"], call["kwargs"])
            payload = wire.dumps({"value": value})
        except Exception as exc:
            if RPC_MARKER not in str(exc):  # an AppError answered on purpose (404, 409...) is no news
                log.info("%s: RPC raised %s", self.isolate.config.name, type(exc).__name__)
            await _send_bytes(send, 200, wire.dumps({"error": describe(exc)}), "application/json")
            return
        await _send_bytes(send, 200, payload, "application/json")
        self._after(ctx)

    async def _scheduled(self, body: bytes, send: Any) -> None:
        try:
            call = wire.loads(body)
            ctx = await self.isolate.scheduled(call["cron"], call.get("scheduled_time"))
            await ctx.drain()
            payload = wire.dumps({"value": {"outcome": "ok", "cron": call["cron"]}})
        except WorkerError as exc:
            log.error("%s: %s", self.isolate.config.name, exc)
            payload = wire.dumps({"error": describe(exc)})
        except Exception as exc:
            log.exception("%s: scheduled handler failed", self.isolate.config.name)
            payload = wire.dumps({"error": describe(exc)})
        await _send_bytes(send, 200, payload, "application/json")

    def _after(self, ctx: Any) -> None:
        ctx.drain_later(self.background)


async def _exit_with_parent(server: Any) -> None:
    """Stop when the platform that started this process is gone (even if it was killed outright)."""
    parent = os.getppid()
    while os.getppid() == parent:  # noqa: ASYNC110 - no event tells a process that its parent died
        await asyncio.sleep(1.0)
    log.warning("platform process %d is gone; stopping", parent)
    server.should_exit = True


async def _read_body(receive: Any) -> tuple[bytes, bool]:
    """(body, too_large): the body up to Cloudflare's request limit."""
    body = await read_capped(receive, MAX_BODY)
    return (b"", True) if body is None else (body, False)


async def _send_plain(send: Any, status: int, text: str, extra: list[tuple[str, str]] | None = None) -> None:
    await _send_bytes(send, status, text.encode(), "text/plain;charset=UTF-8", extra)


async def _send_bytes(
    send: Any, status: int, body: bytes, content_type: str, extra: list[tuple[str, str]] | None = None
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra or []]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def private_socket(path: Path) -> socket.socket:
    """A listening Unix socket at `path` that only this account can connect to (mode 0600).

    The mode is set between `bind` and `listen`: until `listen` no one can connect, so there is no window
    in which the socket is open to others (uvicorn's own `uds=` would make it 0666).
    """
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def serve(
    config_path: Path, *, state: Path, sockets: Path, token: str, overrides: dict[str, str] | None = None
) -> None:
    """Load the worker, start its consumers and crons, and serve until cancelled.

    `overrides` are plain values set over the config's vars and secrets (the platform's `--vars-file`).
    """
    import uvicorn

    config = load_local(config_path)
    peers = Peers(sockets, token)
    isolate = Isolate(config, state=StateDir(state), peers=peers, overrides=overrides)
    app = WorkerApp(isolate, token)
    isolate.start_alarms()  # Durable Object alarms kept from an earlier run; overdue ones run now
    tasks: list[asyncio.Task[Any]] = []
    for consumer in config.queue_consumers:
        tasks.append(asyncio.create_task(QueueConsumer(isolate.queue_store, consumer, isolate.queue).run()))
    if config.crons:
        from dotdo_dev.runtime.cron import CronScheduler

        async def fire(cron: str, when: Any) -> None:
            ctx = await isolate.scheduled(cron, when.timestamp())
            await ctx.drain()

        tasks.append(asyncio.create_task(CronScheduler(config.crons, fire).run()))
    socket_path = sockets / f"{config.name}.sock"
    temp_path = sockets / f".{config.name}.{os.getpid()}.sock"
    listener = private_socket(temp_path)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            interface="asgi3",
            http=OneWriteProtocol,  # httptools, an answer in one write (http_server.py)
            ws=WebSocketProtocol,  # WebSocket upgrades reach the worker's fetch (websocket_server.py)
            # Only the platform's own processes connect here: no proxy to believe, and the hop's Date and
            # Server headers are dropped by the caller (peers._HOP_HEADERS), so none are made.
            proxy_headers=False,
            server_header=False,
            date_header=False,
        )
    )
    tasks.append(asyncio.create_task(_exit_with_parent(server)))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    if serving.done():
        await serving
        return
    os.replace(temp_path, socket_path)  # appear atomically: a peer never connects to a half-started worker
    print(json.dumps({"event": "ready", "worker": config.name, "pid": os.getpid(), "t": time.time()}), flush=True)
    try:
        await serving
    finally:
        for task in tasks:
            task.cancel()
        isolate.stop_alarms()
        await peers.aclose()


def read_vars_file(path: Path) -> dict[str, str]:
    """The values the platform handed this worker (a 0600 file in its private sockets folder), read once."""
    values = json.loads(path.read_text())
    if not isinstance(values, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        sys.exit(f"{path}: expected a JSON object of strings")
    return values


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Host one worker of the local platform.")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--sockets", required=True, type=Path)
    parser.add_argument("--vars-file", type=Path, help="a JSON object of values set over the worker's vars and secrets")
    args = parser.parse_args(argv)
    overrides = read_vars_file(args.vars_file) if args.vars_file else None
    token = os.environ.get("DOTDO_RUNTIME_TOKEN")
    if not token:
        sys.exit("DOTDO_RUNTIME_TOKEN must be set (the platform sets it)")
    logging.basicConfig(level=os.environ.get("DOTDO_LOG_LEVEL", "INFO"), format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per internal call is noise
    with contextlib.suppress(KeyboardInterrupt):
        loop.run(serve(args.config, state=args.state, sockets=args.sockets, token=token, overrides=overrides))


if __name__ == "__main__":
    main()
