"""The ASGI bridge: serve an ASGI application (FastAPI, Starlette, ...) from a worker's `fetch`.

Same entry points and behaviour as the SDK's `workers.asgi`: `fetch(app, request, env, ctx)` runs
the app's lifespan startup, serves the one request (`scope["env"]` carries the bindings,
`scope["state"]` a copy of the lifespan state) and runs the shutdown, every request, as the SDK
does; `entrypoint(app)` makes the `Default` entrypoint class.

Local difference: the local `Response` holds its body as bytes, so a streamed body
(`more_body=True`) is gathered and the response is returned when the app sends its last chunk
(on Cloudflare the response starts with the first chunk). An endless stream never answers
locally. WebSockets: `entrypoint(app)` serves an upgrade request with `websocket(app, request, env)`, as
the SDK does: a `WebSocketPair` whose server end is accepted and fed to the app as `websocket.connect`,
`websocket.receive` (text or bytes) and `websocket.disconnect` (docs/local-runtime.md, "WebSockets").
"""

from __future__ import annotations

import logging
from asyncio import Event, Future, Queue, create_task, ensure_future
from collections.abc import Awaitable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from .entrypoints import WorkerEntrypoint
from .gateway import BaseOptions
from .request import Request
from .response import Response
from .types import Context

ASGI = {"spec_version": "2.0", "version": "3.0"}
NULL_BODY_STATUSES = frozenset({101, 103, 204, 205, 304})
logger = logging.getLogger("asgi")
background_tasks: set[Future[Any]] = set()


@dataclass(frozen=True, kw_only=True)
class Options(BaseOptions):
    """Options for the ASGI bridge."""


DEFAULT_OPTIONS = Options()


def run_in_background(coro: Awaitable[Any]) -> Future:
    """Run `coro` as a task kept alive until it ends; its exception, if any, is logged."""
    future = ensure_future(coro)
    background_tasks.add(future)

    def _on_done(done: Future[Any]) -> None:
        background_tasks.discard(done)
        exc = done.exception() if not done.cancelled() else None
        if exc is not None:
            logger.error("Unhandled exception in background task", exc_info=exc)

    future.add_done_callback(_on_done)
    return future


def request_to_scope(req, env, ws=False, state=None):
    """The ASGI connection scope of `req`: percent-decoded `path`, encoded `raw_path`, lower-case byte headers."""
    url = urlsplit(req.url)
    if not url.scheme:
        raise ValueError(f"Request URL is not absolute: {req.url!r}")
    method = req.method
    scope = {
        "asgi": ASGI,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in req.headers.items()],
        "http_version": "1.1",
        "method": str(getattr(method, "value", method)),
        "scheme": url.scheme,
        "path": unquote(url.path or "/"),
        "raw_path": (url.path or "/").encode(),
        "query_string": url.query.encode(),
        "type": "websocket" if ws else "http",
        "env": env,
    }
    if state is not None:
        # ASGI: each request gets a shallow copy of the lifespan state.
        scope["state"] = dict(state)
    return scope


async def start_application(app):
    """Run the app's lifespan startup; returns `(shutdown, state)`.

    An app without lifespan support (it returns or raises before acknowledging startup) is served
    anyway and `shutdown` does nothing; `lifespan.startup.failed` raises RuntimeError.
    """
    receive_queue: Queue[dict[str, Any]] = Queue()
    state: dict[str, Any] = {}
    await receive_queue.put({"type": "lifespan.startup"})
    startup: Future[bool] = Future()
    shutdown_complete: Future[None] = Future()

    async def shutdown() -> None:
        await receive_queue.put({"type": "lifespan.shutdown"})
        await shutdown_complete

    async def no_lifespan_shutdown() -> None:
        return

    async def receive() -> dict[str, Any]:
        return await receive_queue.get()

    async def send(message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            _settle(startup, True)
        elif kind == "lifespan.startup.failed":
            _fail(startup, RuntimeError(message.get("message") or "ASGI lifespan startup failed"))
        elif kind == "lifespan.shutdown.complete":
            _settle(shutdown_complete, None)
        elif kind == "lifespan.shutdown.failed":
            _fail(shutdown_complete, RuntimeError(message.get("message") or "ASGI lifespan shutdown failed"))
        else:
            raise RuntimeError(f"Unexpected lifespan event {kind}")

    async def run_lifespan() -> None:
        try:
            await app({"asgi": ASGI, "state": state, "type": "lifespan"}, receive, send)
            # Returned without acknowledging startup: the app has no lifespan handler.
            _settle(startup, False)
            _settle(shutdown_complete, None)
        except Exception as exc:
            if not startup.done():
                logger.debug("ASGI lifespan raised before startup; serving without lifespan", exc_info=exc)
                startup.set_result(False)
                return
            logger.exception("Exception in ASGI lifespan application", exc_info=exc)
            _settle(shutdown_complete, None)

    run_in_background(run_lifespan())
    if not await startup:
        return no_lifespan_shutdown, state
    return shutdown, state


async def process_request(
    app: Any,
    req: Request,
    env: Any,
    ctx: Context | None,
    state: dict[str, Any] | None = None,
    options: Options = DEFAULT_OPTIONS,
) -> tuple[Response, Future[None]]:
    """Serve `req` with `app`; returns the response and the task that ran the app (done: the local
    response is complete only once the app has sent its last chunk, and the app is awaited)."""
    status: int | None = None
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []
    result: Future[Response] = Future()
    finished_response = Event()

    receive_queue: Queue[dict[str, Any]] = Queue()
    body = req.body
    if body:
        await receive_queue.put({"type": "http.request", "body": bytes(body), "more_body": True})
    await receive_queue.put({"type": "http.request", "body": b"", "more_body": False})

    async def receive() -> dict[str, Any]:
        if not receive_queue.empty():
            return await receive_queue.get()
        await finished_response.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        kind = message["type"]
        if kind == "http.response.start":
            if status is not None:
                raise RuntimeError("http.response.start sent twice")
            status = int(message["status"])
            # Byte pairs to strings; a list, since a name (set-cookie) may repeat.
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
        elif kind == "http.response.body":
            if status is None:
                raise RuntimeError("http.response.body sent before http.response.start")
            if result.done():
                raise RuntimeError("http.response.body sent after the response body ended")
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                data = None if status in NULL_BODY_STATUSES else b"".join(chunks)
                result.set_result(Response(data, status=status, headers=headers))
                finished_response.set()

    async def run_app() -> None:
        try:
            await app(request_to_scope(req, env, state=state), receive, send)
            if not result.done():
                raise RuntimeError("The application did not generate a response")
        except Exception as exc:
            if not result.done():
                result.set_exception(exc)
            else:
                logger.exception("Exception in ASGI application after response started")
            finished_response.set()

    request_task = create_task(run_app())
    try:
        response = await result
    except Exception:
        await request_task
        raise
    # The whole body has been sent (the local response is never streamed), so, as the SDK does for a
    # buffered response, the app (its background tasks included) finishes before the response is returned.
    await request_task
    return response, request_task


async def fetch(
    app: Any,
    req: Request,
    env: Any,
    ctx: Context | None = None,
    *,
    options: Options | None = None,
) -> Response:
    """Serve one request with an ASGI app: lifespan startup, the request, lifespan shutdown."""
    logger.debug("ASGI request: %s %s", req.method, req.url)
    shutdown, state = await start_application(app)
    try:
        result, request_task = await process_request(
            app, req, env, ctx, state=state, options=options or DEFAULT_OPTIONS
        )
    except Exception:
        logger.exception("ASGI request failed")
        await shutdown()
        raise
    del request_task  # done: see process_request
    await shutdown()
    return result


async def process_websocket(app: Any, req: Request, env: Any = None) -> Response:
    """Serve a WebSocket request with an ASGI app: answer 101 with the client end of a `WebSocketPair` and
    run the app on the server end in the background. The app's `websocket.accept` changes nothing (the
    pair is accepted before the 101 goes out); an app that ends without closing closes with 1000, one that
    raises with 1011."""
    from js import Response as JsResponse
    from js import WebSocketPair

    client, server = WebSocketPair.new().object_values()
    server.accept()
    inbox: Queue[dict[str, Any]] = Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    def on_message(event: Any) -> None:
        data = event.data
        if isinstance(data, str):
            inbox.put_nowait({"type": "websocket.receive", "text": data})
        else:
            inbox.put_nowait({"type": "websocket.receive", "bytes": data.to_bytes()})

    def on_close(event: Any) -> None:
        inbox.put_nowait({"type": "websocket.disconnect", "code": event.code, "reason": event.reason})

    server.addEventListener("message", on_message)
    server.addEventListener("close", on_close)
    closed = False

    async def send(message: dict[str, Any]) -> None:
        nonlocal closed
        kind = message["type"]
        if kind == "websocket.send":
            if message.get("bytes") is not None:
                server.send(message["bytes"])
            if message.get("text") is not None:
                server.send(message["text"])
        elif kind == "websocket.close":
            closed = True
            server.close(message.get("code", 1000), message.get("reason") or "")
        elif kind != "websocket.accept":
            logger.warning(" == Not implemented %s", kind)

    task = run_in_background(app(request_to_scope(req, env if env is not None else {}, ws=True), inbox.get, send))

    def finished(done: Future[Any]) -> None:
        if not closed:
            failed = not done.cancelled() and done.exception() is not None
            with suppress(Exception):  # the client may have closed it already
                server.close(1011 if failed else 1000, "")

    task.add_done_callback(finished)
    from . import wait_until

    with suppress(RuntimeError):  # outside a handler (a unit test) there is no request: the task runs anyway
        wait_until(task)
    return JsResponse.new(None, status=101, webSocket=client)


async def websocket(app: Any, req: Request, env: Any = None) -> Response:
    """Serve a WebSocket request with an ASGI app (`process_websocket`)."""
    return await process_websocket(app, req, env)


def entrypoint(app: Any, *, options: Options | None = None) -> type[WorkerEntrypoint]:
    """Create the default Worker entrypoint for an ASGI application."""

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            if (request.headers.get("upgrade") or "").lower() == "websocket":
                return await websocket(app, request, self.env)
            return await fetch(app, request, self.env, self.ctx, options=options)

    return Default


def __getattr__(name: str) -> Any:
    if name == "env":
        # As in the SDK: a FastAPI dependency giving the worker's env (FastAPI must be installed).
        from fastapi import Depends
        from fastapi import Request as FastAPIRequest

        async def env(request: FastAPIRequest):
            return request.scope["env"]

        return Depends(env)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _settle(future: Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
