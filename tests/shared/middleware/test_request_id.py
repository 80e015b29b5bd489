"""Request ids: created, honoured when valid, replaced when not, echoed in header and envelope."""

import pytest

from shared.errors import NotFound
from shared.middleware import RequestIdMiddleware
from shared.routing import Router


@pytest.fixture
def router():
    r = Router()
    r.use(RequestIdMiddleware())

    @r.get("/x")
    async def ok(request, ctx):
        return {"request_id": ctx.request_id}

    @r.get("/missing")
    async def missing(request, ctx):
        raise NotFound("nothing")

    return r


async def test_a_request_id_is_created_echoed_and_in_the_envelope(router, request_for):
    reply = await router.handle(request_for(), None)
    rid = reply.headers.get("x-request-id")
    assert rid.startswith("req_")
    body = await reply.json()
    assert body["meta"]["request_id"] == rid
    assert body["data"]["request_id"] == rid


async def test_each_request_gets_its_own_id(router, request_for):
    first = await router.handle(request_for(), None)
    second = await router.handle(request_for(), None)
    assert first.headers.get("x-request-id") != second.headers.get("x-request-id")


async def test_a_valid_incoming_id_is_honoured(router, request_for):
    reply = await router.handle(request_for(headers={"X-Request-ID": "abc-123.def:9"}), None)
    assert reply.headers.get("x-request-id") == "abc-123.def:9"
    assert (await reply.json())["data"]["request_id"] == "abc-123.def:9"


@pytest.mark.parametrize("incoming", ["<script>alert(1)</script>", "x" * 129, "has space", "a,b", ""])
async def test_an_invalid_incoming_id_is_replaced_not_echoed(router, request_for, incoming):
    reply = await router.handle(request_for(headers={"X-Request-ID": incoming}), None)
    rid = reply.headers.get("x-request-id")
    assert rid.startswith("req_")
    assert rid != incoming
    if incoming:
        assert incoming not in await reply.text()


async def test_error_envelopes_carry_the_id_too(router, request_for):
    for path in ("/missing", "/nope"):
        reply = await router.handle(request_for(path, headers={"x-request-id": "r1"}), None)
        assert reply.status == 404
        assert reply.headers.get("x-request-id") == "r1"
        assert (await reply.json())["meta"]["request_id"] == "r1"
