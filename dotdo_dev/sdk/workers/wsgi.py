"""The WSGI bridge: serve a WSGI application (Django, Flask, ...) from a worker's `fetch`.

Same entry points as the SDK's `workers.wsgi`: `fetch(app, request, env, ctx=None)` builds the
PEP 3333 environ (`environ["workers.env"]` carries the bindings), calls the app and returns its
response; `entrypoint(app)` makes the `Default` entrypoint class.

The app runs synchronously, as under Pyodide, but in a thread of its own (`pyodide._run_sync.in_thread`,
the context copied: `workers.env` and `wait_until` work there) while the worker's event loop goes on.
There `pyodide.ffi.run_sync(awaitable)` works as Pyodide's does inside `fetch`: it waits for a binding call
made on the loop, which is how django-cf's D1 backend queries D1 from Django's synchronous ORM.

Local difference: the request body is read whole into `wsgi.input`, and the app's body iterable
is read to its end before the response is returned (the local `Response` holds bytes); on
Cloudflare both are streamed. Requests to a WSGI app may run at the same time in different threads
(on Cloudflare they interleave where the app waits in `run_sync`).
"""

from __future__ import annotations

import io
import logging
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from pyodide._run_sync import in_thread

from .entrypoints import WorkerEntrypoint
from .gateway import BaseOptions
from .request import Request
from .response import Response
from .types import Context

logger = logging.getLogger("wsgi")
NULL_BODY_STATUSES = frozenset({101, 103, 204, 205, 304})


@dataclass(frozen=True, kw_only=True)
class Options(BaseOptions):
    """Options for the WSGI bridge, see `BaseOptions`."""


DEFAULT_OPTIONS = Options()


def build_environ(req: Request, env: dict[str, Any], body: bytes | io.IOBase) -> dict[str, Any]:
    """The PEP 3333 environ of `req` (`body` is the raw body or a file-like `wsgi.input`)."""
    if isinstance(body, bytes | bytearray):
        wsgi_input: Any = io.BytesIO(body)
        content_length: int | None = len(body)
    else:
        wsgi_input, content_length = body, None
    url = urlsplit(req.url)
    if not url.scheme:
        raise ValueError(f"Request URL is not absolute: {req.url!r}")
    method = req.method
    environ: dict[str, Any] = {
        "REQUEST_METHOD": str(getattr(method, "value", method)),
        "SCRIPT_NAME": "",
        # PATH_INFO is decoded, as a WSGI "native string" (UTF-8 bytes read as latin-1).
        "PATH_INFO": unquote(url.path or "/").encode("utf-8").decode("latin-1"),
        "QUERY_STRING": url.query,
        "SERVER_NAME": url.hostname or "localhost",
        "SERVER_PORT": str(url.port) if url.port else ("443" if url.scheme == "https" else "80"),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": wsgi_input,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "workers.env": env,
    }
    for key, value in req.headers.items():
        name = key.upper().replace("-", "_")
        if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[name] = value
        elif f"HTTP_{name}" in environ:
            environ[f"HTTP_{name}"] += "," + value
        else:
            environ[f"HTTP_{name}"] = value
    if "CONTENT_LENGTH" not in environ and content_length:
        environ["CONTENT_LENGTH"] = str(content_length)
    return environ


def process_request(
    app: Any,
    req: Request,
    env: Any,
    body: bytes | io.IOBase,
    options: Options = DEFAULT_OPTIONS,
) -> Response:
    """Call the WSGI app for `req` and build its `Response` (the body iterable is read and closed)."""
    environ = build_environ(req, env, body)
    started: dict[str, Any] = {"status": None, "headers": None}
    written: list[bytes] = []

    def write(chunk: bytes) -> None:
        if started["status"] is None:
            raise AssertionError("write() called before start_response()")
        if chunk:
            written.append(bytes(chunk))

    def start_response(status, response_headers, exc_info=None):
        if exc_info is not None:
            try:
                if started["status"] is not None:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif started["status"] is not None:
            raise AssertionError("start_response() called more than once")
        started["status"], started["headers"] = status, response_headers
        return write

    result = app(environ, start_response)
    try:
        chunks = [bytes(chunk) for chunk in result if chunk]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
        environ["wsgi.input"].close()
    if started["status"] is None:
        raise RuntimeError("The WSGI application did not call start_response()")
    code_text, _, reason = str(started["status"]).partition(" ")
    try:
        code = int(code_text)
    except ValueError:
        raise ValueError(f"WSGI status must start with a number, got {started['status']!r}") from None
    data = None if code in NULL_BODY_STATUSES else b"".join([*written, *chunks])
    headers = [(str(k), str(v)) for k, v in started["headers"] or []]
    return Response(data, status=code, status_text=reason, headers=headers)


async def fetch(
    app: Any,
    req: Request,
    env: Any,
    ctx: Context | None = None,
    *,
    options: Options | None = None,
) -> Response:
    """Serve one request with a WSGI app (`ctx` is accepted for parity with `asgi.fetch`)."""
    logger.debug("WSGI request: %s %s", req.method, req.url)
    body = req.body or b""
    try:
        return await in_thread(process_request, app, req, env, bytes(body), options or DEFAULT_OPTIONS)
    except Exception:
        logger.exception("WSGI request failed")
        raise


def entrypoint(app: Any, *, options: Options | None = None) -> type[WorkerEntrypoint]:
    """Create the default Worker entrypoint for a WSGI application."""

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return await fetch(app, request, self.env, options=options)

    return Default
