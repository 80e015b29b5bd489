"""The access log: one JSON line per request, with the request id and principal, without secrets."""

import json

from shared.errors import NotFound
from shared.middleware import AccessLogMiddleware, ErrorMiddleware, RequestIdMiddleware
from shared.routing import Router

SECRET = "sk_live_abcdef123456"


def app(lines, *, handler=None, principal=None):
    r = Router()
    r.use(RequestIdMiddleware())
    r.use(AccessLogMiddleware("svc", sink=lines.append))
    r.use(ErrorMiddleware("svc", sink=lambda line: None))

    async def auth(request, ctx, call_next):
        if principal:
            ctx.state["principal_id"] = principal
        return await call_next(request, ctx)

    r.use(auth)

    async def default(request, ctx):
        await request.text()
        return {"ok": True}

    r.add("GET", "/x", handler or default)
    r.add("POST", "/x", handler or default)
    return r


async def test_one_json_line_per_request(lines, request_for):
    router = app(lines, principal="usr_42")
    await router.handle(request_for("/x", headers={"x-request-id": "r-1"}), None)
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["type"] == "access"
    assert (entry["service"], entry["method"], entry["path"], entry["status"]) == ("svc", "GET", "/x", 200)
    assert entry["request_id"] == "r-1"
    assert entry["principal"] == "usr_42"
    assert isinstance(entry["duration_ms"], float | int)
    assert entry["duration_ms"] >= 0


async def test_no_authorization_cookie_query_or_body_in_the_line(lines, request_for):
    router = app(lines)
    headers = {"Authorization": f"Bearer {SECRET}", "Cookie": f"session={SECRET}", "x-request-id": "r-2"}
    await router.handle(request_for(f"/x?token={SECRET}&q=1", "POST", headers=headers, body=SECRET), None)
    assert SECRET not in lines[0]
    entry = json.loads(lines[0])
    assert entry["path"] == "/x"
    assert entry["principal"] is None


async def test_error_statuses_are_logged(lines, request_for):
    async def missing(request, ctx):
        raise NotFound("no")

    async def broken(request, ctx):
        raise RuntimeError("x")

    await app(lines, handler=missing).handle(request_for("/x"), None)
    await app(lines, handler=broken).handle(request_for("/x"), None)
    await app(lines).handle(request_for("/nowhere"), None)
    assert [json.loads(line)["status"] for line in lines] == [404, 500, 404]


async def test_an_exception_passing_through_is_logged_as_500(lines, request_for):
    r = Router()
    r.use(AccessLogMiddleware("svc", sink=lines.append))

    @r.get("/x")
    async def broken(request, ctx):
        raise RuntimeError("x")

    reply = await r.handle(request_for("/x"), None)
    assert reply.status == 500
    assert json.loads(lines[0])["status"] == 500


async def test_a_refused_client_request_id_is_logged_apart_and_escaped(lines, request_for):
    router = app(lines)
    hostile = '"}<script>' + "x" * 300
    await router.handle(request_for("/x", headers={"x-request-id": hostile}), None)
    entry = json.loads(lines[0])
    assert entry["request_id"].startswith("req_")  # a fresh id, not the client's
    assert entry["client_request_id"] == hostile[:128]
    await router.handle(request_for("/x", headers={"x-request-id": "good-1"}), None)
    second = json.loads(lines[1])
    assert second["request_id"] == "good-1"
    assert "client_request_id" not in second
