"""Request ids, CORS, access log and error handling."""

import json

import pytest
from workers import Request

from shared.middleware import AccessLogMiddleware, CORSMiddleware, ErrorMiddleware, RequestIdMiddleware
from shared.routing import Router


def req(path="/x", method="GET", headers=None, body=None):
    return Request(f"https://svc.do{path}", method=method, headers=headers or {}, body=body)


def app(*middleware, handler=None):
    r = Router()
    for mw in middleware:
        r.use(mw)

    async def default(request, ctx):
        return {"ok": True}

    r.add("GET", "/x", handler or default)
    r.add("POST", "/x", handler or default)
    return r


async def test_request_id_is_created_echoed_and_in_the_envelope():
    reply = await app(RequestIdMiddleware()).handle(req(), None)
    rid = reply.headers.get("x-request-id")
    assert rid.startswith("req_")
    assert (await reply.json())["meta"]["request_id"] == rid


async def test_valid_incoming_request_id_is_honoured_and_invalid_one_replaced():
    router = app(RequestIdMiddleware())
    kept = await router.handle(req(headers={"X-Request-ID": "abc-123.def:9"}), None)
    assert kept.headers.get("x-request-id") == "abc-123.def:9"
    replaced = await router.handle(req(headers={"X-Request-ID": "<script>" + "x" * 200}), None)
    assert replaced.headers.get("x-request-id").startswith("req_")


async def test_request_id_is_on_404_envelopes_too():
    reply = await app(RequestIdMiddleware()).handle(req("/missing", headers={"x-request-id": "r1"}), None)
    assert reply.status == 404
    assert (await reply.json())["meta"]["request_id"] == "r1"


async def test_cors_echoes_only_the_requesting_allowed_origin():
    cors = CORSMiddleware(["https://a.example", "https://b.example"])
    reply = await app(cors).handle(req(headers={"Origin": "https://b.example"}), None)
    assert reply.headers.get("access-control-allow-origin") == "https://b.example"
    assert reply.headers.get("vary") == "Origin"
    other = await app(cors).handle(req(headers={"Origin": "https://evil.example"}), None)
    assert other.headers.get("access-control-allow-origin") is None


async def test_cors_preflight_is_answered_before_later_middleware():
    reached = []

    async def auth(request, ctx, call_next):
        reached.append("auth")
        return await call_next(request, ctx)

    router = app(CORSMiddleware(["https://a.example"]), auth)
    preflight = req(method="OPTIONS", headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"})
    reply = await router.handle(preflight, None)
    assert reply.status == 204
    assert "POST" in reply.headers.get("access-control-allow-methods")
    assert reached == []
    denied = await router.handle(
        req(method="OPTIONS", headers={"Origin": "https://x.example", "Access-Control-Request-Method": "POST"}), None
    )
    assert denied.status == 403


def test_cors_options_are_checked_at_construction():
    with pytest.raises(ValueError, match="origin"):
        CORSMiddleware([])
    with pytest.raises(ValueError, match="trailing slash"):
        CORSMiddleware(["https://a.example/"])
    with pytest.raises(ValueError, match="credentials"):
        CORSMiddleware(["*"], credentials=True)


async def test_access_log_is_one_json_line_without_secrets():
    lines = []
    router = app(RequestIdMiddleware(), AccessLogMiddleware("svc", sink=lines.append))
    secret = "sk_live_abcdef"
    await router.handle(
        req(f"/x?token={secret}", headers={"Authorization": f"Bearer {secret}", "x-request-id": "r-1"}), None
    )
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["request_id"] == "r-1"
    assert (entry["method"], entry["path"], entry["status"], entry["service"]) == ("GET", "/x", 200, "svc")
    assert entry["duration_ms"] >= 0
    assert secret not in lines[0]


async def test_unexpected_exception_is_a_500_envelope_without_internals():
    logs = []

    async def broken(request, ctx):
        raise RuntimeError("database password is hunter2")

    router = app(RequestIdMiddleware(), ErrorMiddleware("svc", sink=logs.append), handler=broken)
    reply = await router.handle(req(headers={"x-request-id": "r-2"}), None)
    assert reply.status == 500
    data = await reply.json()
    assert data["error"]["code"] == "INTERNAL_ERROR"
    assert data["meta"]["request_id"] == "r-2"
    text = json.dumps(data)
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert "RuntimeError" in logs[0]


async def test_access_log_records_500_when_errors_are_handled_inside():
    lines = []

    async def broken(request, ctx):
        raise RuntimeError("x")

    router = app(
        AccessLogMiddleware("svc", sink=lines.append), ErrorMiddleware("svc", sink=lambda _: None), handler=broken
    )
    await router.handle(req(), None)
    assert json.loads(lines[0])["status"] == 500
