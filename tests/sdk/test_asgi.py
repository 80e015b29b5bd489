"""`workers.asgi` serves an ASGI app (Starlette here) as the SDK's bridge does.

Lifespan startup and shutdown around every request, `scope["env"]`, the lifespan state copied into
each request, the request body and headers in, status, headers (repeated ones too) and the whole
streamed body out; unhappy paths raise as in the SDK.
"""

import asyncio
import contextlib

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route
from workers import Request, Response, WorkerEntrypoint, asgi


class Env:
    DB = "the-db"


def make_app(events: list[str]) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        yield {"pool": ["conn"]}
        events.append("shutdown")

    async def echo(request: StarletteRequest):
        request.state.pool.append("changed")  # a shallow copy per request: the list itself is shared
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode(),
                "query": dict(request.query_params),
                "header": request.headers.get("x-custom"),
                "body": (await request.body()).decode(),
                "env": request.scope["env"].DB,
            },
            status_code=201,
            headers={"x-served-by": "starlette"},
        )

    async def stream(request: StarletteRequest):
        async def chunks():
            for i in range(3):
                yield f"part {i}\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    async def cookies(request: StarletteRequest):
        response = PlainTextResponse("ok")
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    async def empty(request: StarletteRequest):
        return StarletteResponse(status_code=204)

    async def background(request: StarletteRequest):
        return PlainTextResponse("sent", background=BackgroundTask(events.append, "background"))

    async def boom(request: StarletteRequest):
        raise LookupError("boom")

    routes = [
        Route("/echo/{name}", echo, methods=["GET", "POST"]),
        Route("/stream", stream),
        Route("/cookies", cookies),
        Route("/empty", empty),
        Route("/background", background),
        Route("/boom", boom),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def test_a_request_reaches_the_app_and_its_answer_comes_back():
    events: list[str] = []
    request = Request("https://api.do/echo/a%20b?x=1&y=two", method="POST", headers={"X-Custom": "yes"}, body="payload")
    response = await asgi.fetch(make_app(events), request, Env())
    assert isinstance(response, Response)
    assert response.status == 201
    assert response.headers["x-served-by"] == "starlette"
    assert await response.json() == {
        "method": "POST",
        "path": "/echo/a b",
        "raw_path": "/echo/a%20b",
        "query": {"x": "1", "y": "two"},
        "header": "yes",
        "body": "payload",
        "env": "the-db",
    }
    assert events == ["startup", "shutdown"]


async def test_lifespan_runs_around_every_request_and_state_is_copied():
    events: list[str] = []
    app = make_app(events)
    for _ in range(2):
        response = await asgi.fetch(app, Request("https://api.do/echo/x"), Env())
        assert response.status == 201
    assert events == ["startup", "shutdown", "startup", "shutdown"]


async def test_a_streamed_body_arrives_whole():
    response = await asgi.fetch(make_app([]), Request("https://api.do/stream"), Env())
    assert response.headers["content-type"].startswith("text/plain")
    assert await response.text() == "part 0\npart 1\npart 2\n"


async def test_repeated_headers_and_null_body_statuses():
    app = make_app([])
    cookies = await asgi.fetch(app, Request("https://api.do/cookies"), Env())
    assert cookies.headers.get_all("set-cookie") == [
        "a=1; Path=/; SameSite=lax",
        "b=2; Path=/; SameSite=lax",
    ]
    empty = await asgi.fetch(app, Request("https://api.do/empty"), Env())
    assert (empty.status, empty.body) == (204, None)
    missing = await asgi.fetch(app, Request("https://api.do/nowhere"), Env())
    assert missing.status == 404


async def test_background_tasks_finish_before_the_response_is_returned():
    events: list[str] = []
    response = await asgi.fetch(make_app(events), Request("https://api.do/background"), Env())
    assert await response.text() == "sent"
    assert events == ["startup", "background", "shutdown"]


async def test_an_exception_after_the_response_started_is_logged_and_the_response_stands(caplog):
    events: list[str] = []
    # Starlette answers 500 and then re-raises: the SDK keeps the 500 and logs the exception.
    response = await asgi.fetch(make_app(events), Request("https://api.do/boom"), Env())
    assert response.status == 500
    assert "Exception in ASGI application after response started" in caplog.text
    assert events == ["startup", "shutdown"]


async def test_an_exception_before_any_response_reaches_the_caller():
    async def app(scope, receive, send):
        if scope["type"] == "http":
            raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        await asgi.fetch(app, Request("https://api.do/"), {})


async def test_an_app_without_lifespan_support_is_served():
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            raise ValueError("no lifespan here")
        assert scope["state"] == {}  # as the SDK: an empty state without lifespan
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b"plain"})

    response = await asgi.fetch(app, Request("https://api.do/"), {})
    assert (response.status, await response.text()) == (200, "plain")


async def test_a_failed_startup_is_raised():
    async def app(scope, receive, send):
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database unreachable"})

    with pytest.raises(RuntimeError, match="database unreachable"):
        await asgi.fetch(app, Request("https://api.do/"), {})


async def test_an_app_that_sends_no_response_is_an_error():
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return

    with pytest.raises(RuntimeError, match="did not generate a response"):
        await asgi.fetch(app, Request("https://api.do/"), {})


async def test_a_body_before_the_start_is_an_error():
    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send({"type": "http.response.body", "body": b"x"})

    with pytest.raises(RuntimeError, match=r"before http\.response\.start"):
        await asgi.fetch(app, Request("https://api.do/"), {})


async def test_the_app_sees_a_disconnect_after_its_response():
    seen = []

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        seen.append(await receive())
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"done"})
        seen.append(await receive())

    await asgi.fetch(app, Request("https://api.do/", method="POST", body="in"), {})
    assert seen[0] == {"type": "http.request", "body": b"in", "more_body": True}
    assert seen[1] == {"type": "http.request", "body": b"", "more_body": False}


async def test_entrypoint_makes_a_default_class_serving_the_app():
    Default = asgi.entrypoint(make_app([]))
    assert issubclass(Default, WorkerEntrypoint)
    worker = Default(None, Env())
    response = await worker.fetch(Request("https://api.do/echo/z"))
    assert (await response.json())["env"] == "the-db"


async def test_entrypoint_serves_a_websocket_request_with_the_app():
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["type"], scope["path"], scope["env"]))
        assert await receive() == {"type": "websocket.connect"}
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": "got " + message["text"]})
        message = await receive()
        await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})
        seen.append(await receive())

    Default = asgi.entrypoint(app)
    env = Env()
    response = await Default(None, env).fetch(Request("https://api.do/ws", headers={"upgrade": "websocket"}))
    assert response.status == 101
    client = response.js_object.webSocket
    got = []
    client._attach(lambda _ws, kind, args: got.append((kind, args)))
    client.send("hi")
    client.send(b"abc")
    for _ in range(50):
        if len(got) == 2:
            break
        await asyncio.sleep(0.01)
    assert got == [("message", ("got hi",)), ("message", (b"cba",))]
    client.close(4000, "bye")
    for _ in range(50):
        if len(seen) == 2:
            break
        await asyncio.sleep(0.01)
    assert seen == [("websocket", "/ws", env), {"type": "websocket.disconnect", "code": 4000, "reason": "bye"}]
    assert got[-1] == ("close", (4000, "bye", True))  # the client's close, answered


def test_options_are_checked_when_made():
    assert asgi.Options(encode_body="manual").response_init() == {"encodeBody": "manual"}
    assert asgi.DEFAULT_OPTIONS.response_init() == {}
    with pytest.raises(ValueError, match="encode_body must be one of"):
        asgi.Options(encode_body="gzip")


def test_the_fastapi_dependency_needs_fastapi_as_in_the_sdk():
    with pytest.raises(ImportError, match="fastapi"):
        asgi.env  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        asgi.nothing  # noqa: B018


WORKER = """
import asgi
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from workers import WorkerEntrypoint


async def hello(request):
    return JSONResponse({"greeting": request.scope["env"].GREETING, "body": (await request.body()).decode()})


app = Starlette(routes=[Route("/hello", hello, methods=["POST"])])


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(app, request, self.env)
"""


async def test_a_worker_serves_a_starlette_app_through_the_runtime(tmp_path):
    import json

    from dotdo_dev.testing import WorkerHarness

    folder = tmp_path / "asgiworker"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "sdk_asgi_probe.py").write_text(WORKER)
    config = {
        "name": "asgiworker",
        "main": "src/sdk_asgi_probe.py",
        "compatibility_date": "2026-11-01",
        "compatibility_flags": ["python_workers"],
        "vars": {"GREETING": "hi"},
    }
    (folder / "wrangler.jsonc").write_text(json.dumps(config))
    harness = WorkerHarness(folder, state_dir=tmp_path / "state")
    response = await harness.fetch("/hello", method="POST", body="ping")
    assert (response.status, await response.json()) == (200, {"greeting": "hi", "body": "ping"})
