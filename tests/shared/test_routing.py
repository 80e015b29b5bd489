"""The router: params, 404/405 envelopes, HEAD, mounting, middleware order, plain data wrapped."""

import pytest
from workers import Request, Response

from shared.errors import Conflict
from shared.routing import Router


def req(path, method="GET", **kwargs):
    return Request(f"https://svc.do{path}", method=method, **kwargs)


@pytest.fixture
def router():
    r = Router()

    @r.get("/things/{ns}/{id}")
    async def get_thing(request, ctx):
        return {"ns": ctx.params["ns"], "id": ctx.params["id"]}

    @r.get("/numbers/{n:int}")
    async def number(request, ctx):
        return {"n": ctx.params["n"], "type": type(ctx.params["n"]).__name__}

    @r.get("/files/{rest:path}")
    async def files(request, ctx):
        return {"rest": ctx.params["rest"]}

    @r.post("/things")
    async def create(request, ctx):
        return ctx.json({"created": True}, status=201)

    @r.get("/conflict")
    async def conflict(request, ctx):
        raise Conflict("already there", details={"id": "x"})

    @r.get("/raw")
    async def raw(request, ctx):
        return Response("plain", status=202)

    return r


async def body(response):
    return await response.json()


async def test_params_are_matched_and_data_is_wrapped(router):
    reply = await router.handle(req("/things/acme/42"), env=None)
    data = await body(reply)
    assert reply.status == 200
    assert data["success"] is True
    assert data["data"] == {"ns": "acme", "id": "42"}


async def test_int_and_path_converters(router):
    assert (await body(await router.handle(req("/numbers/-7"), None)))["data"] == {"n": -7, "type": "int"}
    assert (await router.handle(req("/numbers/x"), None)).status == 404
    assert (await body(await router.handle(req("/files/a/b/c.txt"), None)))["data"] == {"rest": "a/b/c.txt"}


async def test_unknown_path_is_a_404_envelope(router):
    reply = await router.handle(req("/nope"), None)
    assert reply.status == 404
    assert (await body(reply))["error"]["code"] == "NOT_FOUND"


async def test_wrong_method_is_405_with_allow(router):
    reply = await router.handle(req("/things", "DELETE"), None)
    assert reply.status == 405
    assert reply.headers.get("allow") == "POST"
    assert (await body(reply))["error"]["code"] == "METHOD_NOT_ALLOWED"
    reply = await router.handle(req("/things/a/b", "PUT", body="x"), None)
    assert reply.headers.get("allow") == "GET, HEAD"


async def test_head_is_served_by_get(router):
    assert (await router.handle(req("/things/a/b", "HEAD"), None)).status == 200


async def test_app_errors_become_their_envelope(router):
    reply = await router.handle(req("/conflict"), None)
    assert reply.status == 409
    assert (await body(reply))["error"] == {"code": "CONFLICT", "message": "already there", "details": {"id": "x"}}


async def test_responses_pass_through_and_status_is_kept(router):
    assert (await router.handle(req("/raw"), None)).status == 202
    assert (await router.handle(req("/things", "POST", body="{}"), None)).status == 201


async def test_middleware_runs_in_order_around_the_handler(router):
    calls = []

    def make(name):
        async def mw(request, ctx, call_next):
            calls.append(f"{name}:before")
            response = await call_next(request, ctx)
            calls.append(f"{name}:after")
            return response

        return mw

    router.use(make("outer"))
    router.use(make("inner"))
    await router.handle(req("/things/a/b"), None)
    assert calls == ["outer:before", "inner:before", "inner:after", "outer:after"]


async def test_middleware_can_answer_early(router):
    async def deny(request, ctx, call_next):
        return Response("no", status=401)

    router.use(deny)
    assert (await router.handle(req("/things/a/b"), None)).status == 401


async def test_mount_prefixes_routes_and_keeps_sub_middleware_local():
    api, admin = Router(), Router()
    seen = []

    async def mark(request, ctx, call_next):
        seen.append("admin")
        return await call_next(request, ctx)

    admin.use(mark)

    @admin.get("/stats")
    async def stats(request, ctx):
        return {"ok": True}

    @api.get("/ping")
    async def ping(request, ctx):
        return "pong"

    api.mount("/admin", admin)
    assert (await api.handle(req("/admin/stats"), None)).status == 200
    assert (await api.handle(req("/ping"), None)).status == 200
    assert seen == ["admin"]


def test_bad_patterns_fail_at_declaration():
    r = Router()
    with pytest.raises(ValueError, match="start with"):
        r.add("GET", "things", lambda request, ctx: None)
    with pytest.raises(ValueError, match="twice"):
        r.add("GET", "/{id}/{id}", lambda request, ctx: None)
