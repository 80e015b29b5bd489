"""The local platform's public port: every request is checked here before the dispatcher sees it.

    app = FrontDoor(platform)                 # ASGI; `make dev` serves it on 127.0.0.1:8787

What Cloudflare's edge does before a Worker runs, done here so that no request reaches a worker
malformed and no answer leaves outside the JSON envelope:

- the method must be one a Worker's `Request` can carry (not CONNECT or TRACE): else 405;
- header names and values must be ASCII, the `Host` a host name with an optional numeric port:
  else 400 `BAD_HEADER` / `BAD_HOST`; an absolute-form target (`GET http://db.do/x HTTP/1.1`) is
  routed by its authority, as RFC 9112 says a server must;
- GET and HEAD carry no body (400 `BODY_NOT_ALLOWED`); other bodies are streamed and refused with
  413 `PAYLOAD_TOO_LARGE` as soon as they pass the target worker's limit (its `MAX_BODY_BYTES`
  var, else 1 MiB for the platform's services and Cloudflare's 100 MB for any other worker), before
  the rest is read, and a `Content-Length` over it is refused unread;
- `CF-Connecting-IP` is set from the TCP peer, as Cloudflare's edge sets it: a client's own value
  (and `True-Client-IP`, `X-Forwarded-For`) never passes;
- anything that still goes wrong answers a 502 envelope, and malformed HTTP that never becomes a
  request (a bad request line, a broken header block) gets a 400 envelope from `EnvelopeProtocol`.

The dev-only URLs (`/__scheduled`, `/cdn-cgi/handler/scheduled`, `/__platform`) answer any local
caller; they are the platform's, not a worker's.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import math
import re
import sys
import time
from http import HTTPMethod, HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import httptools

from dotdo_dev.runtime.bodies import read_capped, send_response
from dotdo_dev.runtime.http_server import OneWriteProtocol
from shared.envelope import failure, success

log = logging.getLogger("dotdo.platform")

#: What a Worker's `Request` can carry (`http.HTTPMethod`), less the two no Worker should see.
ALLOWED_METHODS = frozenset(m.value for m in HTTPMethod) - {"CONNECT", "TRACE"}
DEFAULT_MAX_BODY = 1024 * 1024  # shared.validation.MAX_BODY: what services accept unless they say more
CLOUDFLARE_MAX_BODY = 100 * 1024 * 1024  # Cloudflare's request body limit (free and pro plans): other workers'
#: Headers only the edge may set: a client's own values are dropped before the dispatcher sees them.
EDGE_HEADERS = frozenset({"cf-connecting-ip", "true-client-ip", "x-forwarded-for", "x-real-ip"})
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$"
)


def dispatcher_routing(root: Path) -> ModuleType:
    """The dispatcher's routing rules (`dispatcher/src/routing.py`), so dev URLs route as requests do."""
    path = root / "dispatcher" / "src" / "routing.py"
    spec = importlib.util.spec_from_file_location("dotdo_dispatcher_routing", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


class RequestRefused(Exception):
    """A request the front door answers itself: status, code and message of the envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def envelope_bytes(code: str, message: str) -> bytes:
    """An error envelope, serialised."""
    return json.dumps(failure(code, message)).encode()


async def reply(send: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """Send a JSON answer (an envelope) and end the response."""
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def check_host(host: str) -> str:
    """`host` if it is a host name or bracketed IP with an optional port 1-65535; else 400 `BAD_HOST`."""
    match = _HOST.match(host)
    port = match.group(1) if match else None
    if match is None or len(host) > 300 or (port is not None and not 0 < int(port) < 65536):
        raise RequestRefused(400, "BAD_HOST", "The Host header must be a host name with an optional port")
    return host


def ascii_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Header (name, value) pairs as text, names lower-cased; non-ASCII is refused with 400 `BAD_HEADER`."""
    headers = []
    for name, value in raw:
        try:
            headers.append((name.decode("ascii").lower(), value.decode("ascii")))
        except UnicodeDecodeError:
            raise RequestRefused(400, "BAD_HEADER", "Header names and values must be ASCII") from None
    return headers


def target_of(scope: dict[str, Any], headers: list[tuple[str, str]]) -> tuple[str, str]:
    """(host, path with query) of a request: an absolute-form target's authority wins over `Host`."""
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    host = dict(headers).get("host", "")
    if raw_path.lower().startswith(("http://", "https://")):
        parts = urlsplit(raw_path)
        host, raw_path = parts.netloc, parts.path or "/"
        query = parts.query or query
    if not raw_path.startswith("/"):
        raise RequestRefused(400, "BAD_REQUEST_TARGET", "The request target must be a path or an absolute URL")
    if not host:
        raise RequestRefused(400, "BAD_HOST", "The request has no Host")
    if sum(1 for name, _ in headers if name == "host") > 1:  # RFC 9112 3.2: a 400, never one of them chosen
        raise RequestRefused(400, "BAD_HOST", "The request has more than one Host header")
    return check_host(host), raw_path + (f"?{query}" if query else "")


async def read_body(receive: Any, headers: list[tuple[str, str]], method: str, limit: int) -> bytes:
    """The request body, streamed; 413 as soon as it passes `limit` (or when Content-Length says it will)."""
    fields = dict(headers)
    declared = fields.get("content-length")
    if declared is not None and not declared.isdigit():
        raise RequestRefused(400, "BAD_HEADER", "Content-Length must be a number")
    if method in ("GET", "HEAD") and (int(declared or 0) > 0 or "transfer-encoding" in fields):
        raise RequestRefused(400, "BODY_NOT_ALLOWED", f"A {method} request cannot have a body")
    if declared is not None and int(declared) > limit:
        raise _too_large(limit)
    body = await read_capped(receive, limit)
    if body is None:
        raise _too_large(limit)
    return body


def _too_large(limit: int) -> RequestRefused:
    return RequestRefused(413, "PAYLOAD_TOO_LARGE", f"The body is larger than this service accepts ({limit} bytes)")


async def drain(receive: Any, *, max_bytes: int = 128 * 1024 * 1024, idle: float = 0.5, total: float = 10.0) -> int:
    """Read and drop the rest of a refused body (the answer has been sent), so that the connection
    closes cleanly: a socket closed with unread data is reset, and a reset can destroy the answer
    before the client reads it. Stops after `max_bytes`, `total` seconds, or `idle` seconds of silence."""
    dropped = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total
    while dropped < max_bytes and loop.time() < deadline:
        try:
            message = await asyncio.wait_for(receive(), idle)
        except TimeoutError:
            break
        if message["type"] != "http.request":
            break
        dropped += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    return dropped


#: A request line whose method is a token (RFC 9110 5.6.2) the parser does not know: `FOO /x HTTP/1.1`.
_UNKNOWN_METHOD_LINE = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ \r\n]+ HTTP/\d\.\d\r?\n")


class EnvelopeProtocol(OneWriteProtocol):
    """uvicorn's HTTP/1.1 protocol on httptools (llhttp, in C; an answer in one write: `http_server`), as strict
    as the front door needs:

    - malformed HTTP (a bad request line, a broken header block) is answered with a 400 envelope instead of
      uvicorn's plain text, and an HTTP/1.1 request without `Host` too (RFC 9112 3.2 requires one);
    - a well-formed request line whose method llhttp does not know (`FOO /x HTTP/1.1`) reaches no worker
      either: 405 `METHOD_NOT_ALLOWED`, as the front door answers CONNECT and TRACE; a version other than
      HTTP/1.0 and 1.1 (llhttp reads `HTTP/2.0` and others; h11 refused them) is a 400
      `HTTP_VERSION_NOT_SUPPORTED`;
    - an absolute-form target (`GET http://db.do/x HTTP/1.1`) keeps its authority in `raw_path` for
      `target_of`, which routes by it (uvicorn keeps only the path).

    It replaced h11 here: the same request through the front door took 0.10 ms less (of 1.03) and the front
    door alone served 10,900 requests a second instead of 6,500 (benchmarks/http_paths.py's client).
    """

    def data_received(self, data: bytes) -> None:
        # uvicorn's own data_received (0.54), with the unknown method told apart from other malformed HTTP.
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserInvalidMethodError:
            if _UNKNOWN_METHOD_LINE.match(data):
                allow = ", ".join(sorted(ALLOWED_METHODS))
                self._refuse(405, "METHOD_NOT_ALLOWED", "This method is not allowed", [(b"allow", allow.encode())])
            else:
                self.send_400_response("Invalid HTTP request received")
        except httptools.HttpParserError as exc:
            refused = exc.__context__ if isinstance(exc.__context__, RequestRefused) else None
            if refused is not None:  # raised by on_headers_complete, wrapped by the parser
                self._refuse(refused.status, refused.code, refused.message)
            else:
                self.send_400_response("Invalid HTTP request received")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def on_headers_complete(self) -> None:
        version = self.parser.get_http_version()
        if version not in ("1.0", "1.1"):  # llhttp reads HTTP/2.0 and others; bad input is a 4xx here, not RFC's 505
            raise RequestRefused(400, "HTTP_VERSION_NOT_SUPPORTED", f"HTTP/{version} is not supported: use HTTP/1.1")
        if version == "1.1" and not any(name == b"host" for name, _ in self.headers):
            raise RequestRefused(400, "BAD_REQUEST", "An HTTP/1.1 request must have a Host header")
        if self.parser.get_method() == b"CONNECT":
            self.url = b"/"  # its authority-form target is no URL to parse: the front door refuses the method (405)
        super().on_headers_complete()
        if self.url[:8].lower().startswith((b"http://", b"https://")) and "raw_path" in self.scope:
            self.scope["raw_path"] = self.url  # read by target_of before the app's task first runs

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "BAD_REQUEST", msg.rstrip("."))

    def _refuse(self, status: int, code: str, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        body = envelope_bytes(code, message)
        reason = HTTPStatus(status).phrase.encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close"), *(extra or [])]
        headers.append((b"content-length", str(len(body)).encode()))
        head = b"HTTP/1.1 %d %s\r\n" % (status, reason) + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
        if not self.transport.is_closing():
            self.transport.write(head + b"\r\n" + body)
            self.transport.close()


class FrontDoor:
    """ASGI app on the public port: dev URLs, else the checked request to the dispatcher worker."""

    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self._routing: tuple[float, Any] | None = None
        self._routing_checked = 0.0

    def routing(self) -> Any:
        """The dispatcher's routing rules, loaded again when `dispatcher/src/routing.py` changes (its
        modification time looked at no more than once a second: this runs for every request)."""
        now = time.monotonic()
        if self._routing is not None and now < self._routing_checked + 1.0:
            return self._routing[1]
        self._routing_checked = now
        stamp = (self.platform.root / "dispatcher" / "src" / "routing.py").stat().st_mtime
        if self._routing is None or self._routing[0] != stamp:
            self._routing = (stamp, dispatcher_routing(self.platform.root))
        return self._routing[1]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._handle(scope, receive, send)
        except RequestRefused as refused:
            await reply(send, refused.status, failure(refused.code, refused.message), refused.headers)
            if refused.status == 413:
                await drain(receive)
        except Exception:
            log.exception("front door: the request could not be handled")
            await reply(send, 502, failure("DISPATCHER_ERROR", "The dispatcher failed to handle the request"))

    async def _handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from workers import Request

        from dotdo_dev.runtime.peers import RemoteError, WorkerNotFound

        method = scope["method"].upper()
        if method not in ALLOWED_METHODS:
            allow = ", ".join(sorted(ALLOWED_METHODS))
            raise RequestRefused(405, "METHOD_NOT_ALLOWED", f"Method {method[:32]!r} is not allowed", {"allow": allow})
        headers = ascii_headers(scope["headers"])
        host, target = target_of(scope, headers)
        path = target.split("?", 1)[0]
        if path in DEV_SCHEDULED or path == "/__platform":
            await read_body(receive, headers, method, DEFAULT_MAX_BODY)
            await self._dev_url(path, host, target, send)
            return
        body = await read_body(receive, headers, method, self.body_limit(host, path))
        client = (scope.get("client") or ("unknown", 0))[0]
        forwarded = [(k, v) for k, v in headers if k not in EDGE_HEADERS and k != "host"]
        forwarded += [("host", host), ("cf-connecting-ip", client)]
        request = Request(f"http://{host}{target}", method=method, headers=forwarded, body=body or None)
        try:
            response = await self.to_front_worker(request)
        except (RemoteError, WorkerNotFound) as exc:
            front = getattr(self.platform, "front_worker", DISPATCHER)
            if front != DISPATCHER and isinstance(exc, RemoteError):
                # `dotdo dev` with one worker: its own uncaught exception, a 500 as Cloudflare answers one
                # ("Worker threw exception"); what it raised is in the log, never in the answer.
                log.error("%s threw an exception: %s", front, exc)
                raise RequestRefused(500, "WORKER_EXCEPTION", "Worker threw exception") from None
            log.error("dispatcher failed: %s", exc)
            raise RequestRefused(502, "DISPATCHER_ERROR", "The dispatcher failed to handle the request") from None
        await send_response(send, response, head=method == "HEAD")

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A WebSocket upgrade: checked as a request is, sent to the front worker as one carrying `Upgrade:
        websocket`; its 101 is joined to this connection (`websocket_server.bridge`), any other answer sent."""
        from workers import Request

        from dotdo_dev.runtime.peers import RemoteError, WorkerNotFound
        from dotdo_dev.runtime.websocket_server import bridge, refuse

        await receive()  # websocket.connect
        json_type = [(b"content-type", b"application/json")]
        front = getattr(self.platform, "front_worker", DISPATCHER)
        try:
            if scope.get("method", "GET").upper() != "GET":
                raise RequestRefused(400, "BAD_REQUEST", "A WebSocket upgrade must be a GET request")
            headers = ascii_headers(scope["headers"])
            host, target = target_of(scope, headers)
            client = (scope.get("client") or ("unknown", 0))[0]
            forwarded = [(k, v) for k, v in headers if k not in EDGE_HEADERS and k != "host"]
            forwarded += [("host", host), ("cf-connecting-ip", client)]
            request = Request(f"http://{host}{target}", method="GET", headers=forwarded)
            response = await self.to_front_worker(request)
        except RequestRefused as refused:
            await refuse(send, refused.status, json_type, envelope_bytes(refused.code, refused.message))
            return
        except Exception as exc:
            if isinstance(exc, RemoteError | WorkerNotFound):
                log.error("dispatcher failed: %s", exc)
            else:
                log.exception("front door: the WebSocket request could not be handled")
            body = envelope_bytes("DISPATCHER_ERROR", "The dispatcher failed to handle the request")
            await refuse(send, 502, json_type, body)
            return
        end = response.js_response.webSocket
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response._headers if k != "content-length"]
        if end is None or response.status != 101:
            await refuse(send, response.status, out, response.body or b"")
            return
        await send({"type": "websocket.accept", "headers": out})
        await bridge(end, receive, send, lost=f"the {front} worker's connection was lost")

    async def to_front_worker(self, request: Any) -> Any:
        """The front worker's answer to `request`: the dispatcher in this process (`platform.resident`), else
        the front worker's process. `RemoteError` for an exception there."""
        resident = getattr(self.platform, "resident", None)
        if resident is not None:
            return await resident.fetch(request)
        return await self.platform.peers.fetch(getattr(self.platform, "front_worker", DISPATCHER), None, request)

    def body_limit(self, host: str, path: str) -> int:
        """The target worker's body limit: its `MAX_BODY_BYTES` var, else `DEFAULT_MAX_BODY` for the platform's
        services (a `service.toml` beside their config) and Cloudflare's own request limit (`CLOUDFLARE_MAX_BODY`)
        for any other worker: one of Cloudflare's examples uploading 5 MiB R2 parts, say."""
        name = getattr(self.platform, "front_worker", DISPATCHER)
        if name == DISPATCHER:
            try:
                name = self.routing().resolve(host, path).service
            except Exception:
                return DEFAULT_MAX_BODY
        worker = self.platform.processes.get(name)
        if worker is None:
            return DEFAULT_MAX_BODY
        declared = worker.config.vars.get("MAX_BODY_BYTES")
        try:
            if declared is not None and int(declared) > 0:
                return int(declared)
        except (TypeError, ValueError):
            pass
        return DEFAULT_MAX_BODY if self.platform.peers.placement(name) is not None else CLOUDFLARE_MAX_BODY

    async def _dev_url(self, path: str, host: str, target: str, send: Any) -> None:
        from urllib.parse import parse_qs

        if path == "/__platform":
            describe = getattr(self.platform, "describe", None)
            if describe is not None:
                await reply(send, 200, success(describe()))
                return
            state = self.platform.state.root
            with contextlib.suppress(ValueError):
                state = state.resolve().relative_to(self.platform.root.resolve())
            await reply(send, 200, success({"workers": sorted(self.platform.processes), "state": str(state)}))
            return
        query = parse_qs(target.split("?", 1)[1]) if "?" in target else {}
        await self._scheduled(host, query, send)

    async def _scheduled(self, host: str, query: dict[str, list[str]], send: Any) -> None:
        """Run a worker's `scheduled` handler now, as `wrangler dev`'s `/cdn-cgi/handler/scheduled` does."""
        from dotdo_dev.runtime.peers import RemoteError, WorkerDown, WorkerNotFound

        cron = (query.get("cron") or ["* * * * *"])[0]
        time_ms = (query.get("time") or [None])[0]
        scheduled_time = None if time_ms is None else milliseconds(time_ms)
        if time_ms is not None and scheduled_time is None:
            raise RequestRefused(400, "BAD_TIME", f"time must be milliseconds since the epoch, not {time_ms[:64]!r}")
        alone = getattr(self.platform, "front_worker", DISPATCHER)
        worker = (query.get("worker") or [None])[0] or (alone if alone != DISPATCHER else None)
        worker = worker or self.routing().service_from_host(host)
        if not worker or worker not in self.platform.processes:
            raise RequestRefused(
                404, "WORKER_NOT_FOUND", f"No local worker for host {host[:300]!r}; pass ?worker=<name>"
            )
        try:
            result = await self.platform.peers.scheduled(worker, cron, scheduled_time)
        except WorkerDown as down:
            message = f"The {worker} worker is {down.status.replace('-', ' ')}; try again (see /__platform)"
            raise RequestRefused(503, "WORKER_UNAVAILABLE", message, {"retry-after": "1"}) from None
        except (RemoteError, WorkerNotFound) as exc:
            details = {"worker": worker, "cron": cron, "outcome": "exception", "error": str(exc)[:2000]}
            await reply(send, 500, failure("SCHEDULED_FAILED", "The scheduled handler raised", details=details))
            return
        await reply(send, 200, success({"worker": worker, **result}))


def milliseconds(text: str) -> float | None:
    """`time=` of the scheduled dev URL (ms since the epoch) in seconds; None if it is not a number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value / 1000 if math.isfinite(value) else None


DEV_SCHEDULED = ("/cdn-cgi/handler/scheduled", "/__scheduled")
DISPATCHER = "dispatcher"
