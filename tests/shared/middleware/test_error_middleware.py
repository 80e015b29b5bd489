"""Errors: AppErrors as their envelope, anything else a generic 500 with the request id; logged, never leaked."""

import json

import pytest

from shared.errors import RateLimited
from shared.middleware import ErrorMiddleware, RequestIdMiddleware
from shared.routing import Router


def app(logs, handler):
    r = Router()
    r.use(RequestIdMiddleware())
    r.use(ErrorMiddleware("svc", sink=logs.append))
    r.add("GET", "/x", handler)
    return r


async def test_an_exception_is_a_500_envelope_without_internals(lines, request_for):
    async def broken(request, ctx):
        raise RuntimeError("database password is hunter2")

    reply = await app(lines, broken).handle(request_for("/x", headers={"x-request-id": "r-2"}), None)
    assert reply.status == 500
    assert reply.headers.get("content-type") == "application/json"
    assert reply.headers.get("x-request-id") == "r-2"
    body = await reply.json()
    assert body["success"] is False
    assert body["error"] == {"code": "INTERNAL_ERROR", "message": "Internal server error", "details": None}
    assert body["meta"]["request_id"] == "r-2"
    text = json.dumps(body)
    for leak in ("hunter2", "Traceback", "RuntimeError", "broken", ".py"):
        assert leak not in text


async def test_the_exception_is_logged_server_side_with_the_request_id(lines, request_for):
    async def broken(request, ctx):
        raise KeyError("k")

    await app(lines, broken).handle(request_for("/x", headers={"x-request-id": "r-3"}), None)
    entry = json.loads(lines[0])
    assert (entry["type"], entry["service"], entry["request_id"], entry["error"]) == ("error", "svc", "r-3", "KeyError")
    assert "broken" in entry["trace"]


async def test_app_errors_keep_their_status_and_headers(lines, request_for):
    async def limited(request, ctx):
        raise RateLimited("Too many requests", retry_after=9)

    reply = await app(lines, limited).handle(request_for("/x"), None)
    assert (reply.status, reply.headers.get("retry-after")) == (429, "9")
    assert (await reply.json())["error"]["code"] == "RATE_LIMITED"
    assert lines == []


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        ("D1_ERROR: attempt to write a readonly database: SQLITE_READONLY", "The storage is read-only"),
        ("D1_ERROR: database or disk is full: SQLITE_FULL", "The storage is full"),
        ("attempt to write a readonly database", "The storage is read-only"),
        ("D1_ERROR: disk I/O error: SQLITE_IOERR", "The storage cannot be read or written"),
        ("D1_ERROR: Query timed out after 30 s (D1 stops a query at 30 s): SQLITE_INTERRUPT", "ran out of time"),
    ],
)
async def test_a_storage_failure_is_a_503_naming_the_problem(lines, request_for, raised, message):
    async def writes(request, ctx):
        raise RuntimeError(raised)

    reply = await app(lines, writes).handle(request_for("/x"), None)
    assert reply.status == 503
    body = await reply.json()
    assert body["error"]["code"] == "STORAGE_UNAVAILABLE"
    assert message in body["error"]["message"]
    assert "SQLITE" not in json.dumps(body)  # the operator's log has the details, the client the problem
    logged = json.loads(lines[-1])
    assert logged["type"] == "storage_error"
    assert logged["message"] == raised
