"""The router: params, 404/405 envelopes, HEAD, mounting, middleware order, plain data wrapped."""

import json

import pytest
from pydantic import BaseModel
from workers import Response

from shared.errors import Conflict, Unauthorized
from shared.routing import Context, Router


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
        return Response("plain", status=202, headers={"x-kind": "raw"})

    @r.get("/list")
    async def listing(request, ctx):
        return [1, 2]

    @r.delete("/things/{id}")
    async def remove(request, ctx):
        return None

    @r.get("/boom")
    async def boom(request, ctx):
        raise RuntimeError("secret connection string")

    return r


async def test_params_are_matched_and_data_is_wrapped(router, request_for):
    reply = await router.handle(request_for("/things/acme/42"), env=None)
    body = await reply.json()
    assert reply.status == 200
    assert reply.headers.get("content-type") == "application/json"
    assert body["success"] is True
    assert body["data"] == {"ns": "acme", "id": "42"}
    assert body["meta"]["request_id"].startswith("req_")


async def test_params_are_percent_decoded_within_their_segment(router, request_for):
    body = await (await router.handle(request_for("/things/a%20b/c%2Fd"), None)).json()
    assert body["data"] == {"ns": "a b", "id": "c/d"}


async def test_lists_and_none_are_wrapped(router, request_for):
    assert (await (await router.handle(request_for("/list"), None)).json())["data"] == [1, 2]
    deleted = await router.handle(request_for("/things/x", "DELETE"), None)
    assert (deleted.status, (await deleted.json())["data"]) == (200, None)


async def test_int_and_path_converters(router, request_for):
    assert (await (await router.handle(request_for("/numbers/-7"), None)).json())["data"] == {"n": -7, "type": "int"}
    assert (await router.handle(request_for("/numbers/x"), None)).status == 404
    assert (await router.handle(request_for("/numbers/" + "9" * 40), None)).status == 404
    assert (await (await router.handle(request_for("/files/a/b/c.txt"), None)).json())["data"] == {"rest": "a/b/c.txt"}


async def test_unknown_path_is_a_404_envelope(router, request_for):
    reply = await router.handle(request_for("/nope"), None)
    assert reply.status == 404
    body = await reply.json()
    assert body["success"] is False
    assert body["error"]["code"] == "NOT_FOUND"
    assert body["meta"]["request_id"]


async def test_wrong_method_is_405_with_allow(router, request_for):
    reply = await router.handle(request_for("/things", "DELETE"), None)
    assert reply.status == 405
    assert reply.headers.get("allow") == "POST"
    assert (await reply.json())["error"]["code"] == "METHOD_NOT_ALLOWED"
    reply = await router.handle(request_for("/things/a/b", "PUT", body="x"), None)
    assert reply.headers.get("allow") == "GET, HEAD"


async def test_head_is_served_by_get_without_a_body(router, request_for):
    reply = await router.handle(request_for("/raw", "HEAD"), None)
    assert (reply.status, reply.headers.get("x-kind")) == (202, "raw")
    assert await reply.bytes() == b""


async def test_app_errors_become_their_envelope(router, request_for):
    reply = await router.handle(request_for("/conflict"), None)
    assert reply.status == 409
    assert (await reply.json())["error"] == {"code": "CONFLICT", "message": "already there", "details": {"id": "x"}}


async def test_an_unhandled_exception_is_still_a_500_envelope_without_internals(router, request_for, capsys):
    reply = await router.handle(request_for("/boom"), None)
    assert reply.status == 500
    body = await reply.json()
    assert body["error"]["code"] == "INTERNAL_ERROR"
    assert "secret" not in json.dumps(body)
    logged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (logged["error"], logged["request_id"]) == ("RuntimeError", body["meta"]["request_id"])


async def test_responses_pass_through_and_status_is_kept(router, request_for):
    raw = await router.handle(request_for("/raw"), None)
    assert (raw.status, await raw.text()) == (202, "plain")
    assert (await router.handle(request_for("/things", "POST", body="{}"), None)).status == 201


async def test_pydantic_results_are_dumped(request_for):
    class Out(BaseModel):
        id: str

    r = Router()

    @r.get("/m")
    async def model(request, ctx):
        return Out(id="o1")

    assert (await (await r.handle(request_for("/m"), None)).json())["data"] == {"id": "o1"}


async def test_context_carries_env_worker_ctx_and_state(request_for):
    seen = {}

    class WorkerCtx:
        def __init__(self):
            self.waiting = []

        def waitUntil(self, awaitable):
            self.waiting.append(awaitable)

    async def auth(request, ctx, call_next):
        ctx.state["principal_id"] = "usr_1"
        return await call_next(request, ctx)

    r = Router()
    r.use(auth)

    @r.get("/me")
    async def me(request, ctx: Context):
        seen.update(env=ctx.env, principal=ctx.state["principal_id"])

        async def later():
            return None

        ctx.wait_until(later())
        return {}

    worker_ctx = WorkerCtx()
    await r.handle(request_for("/me"), {"DB": "db"}, worker_ctx)
    assert seen == {"env": {"DB": "db"}, "principal": "usr_1"}
    assert len(worker_ctx.waiting) == 1
    await worker_ctx.waiting[0]


def test_wait_until_without_a_worker_context_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"self\.ctx"):
        Context(env=None).wait_until(None)


async def test_middleware_runs_in_order_around_the_handler(router, request_for):
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
    await router.handle(request_for("/things/a/b"), None)
    assert calls == ["outer:before", "inner:before", "inner:after", "outer:after"]


async def test_middleware_sees_app_errors_as_responses(router, request_for):
    statuses = []

    async def observe(request, ctx, call_next):
        response = await call_next(request, ctx)
        statuses.append(response.status)
        return response

    router.use(observe)
    for path in ("/conflict", "/nope"):
        await router.handle(request_for(path), None)
    await router.handle(request_for("/things", "GET"), None)
    assert statuses == [409, 404, 405]


async def test_middleware_can_answer_early_or_raise(router, request_for):
    async def deny(request, ctx, call_next):
        if request.headers.get("authorization") is None:
            raise Unauthorized("Sign in")
        return Response("no", status=403)

    router.use(deny)
    refused = await router.handle(request_for("/things/a/b"), None)
    assert (refused.status, (await refused.json())["error"]["code"]) == (401, "UNAUTHORIZED")
    early = await router.handle(request_for("/things/a/b", headers={"authorization": "x"}), None)
    assert early.status == 403


async def test_class_middleware_with_options_checked_at_construction(request_for):
    class Header:
        def __init__(self, name):
            if not name:
                raise ValueError("name required")
            self.name = name

        async def __call__(self, request, ctx, call_next):
            response = await call_next(request, ctx)
            response.js_object.headers.set(self.name, "1")
            return response

    r = Router()
    r.use(Header("x-mw"))
    r.add("GET", "/", lambda request, ctx: _value({}))
    assert (await r.handle(request_for("/"), None)).headers.get("x-mw") == "1"
    with pytest.raises(ValueError, match="required"):
        Header("")
    with pytest.raises(TypeError, match="callable"):
        r.use("not middleware")


async def _value(value):
    return value


async def test_mount_prefixes_routes_and_keeps_sub_middleware_local(request_for):
    api, admin = Router(), Router()
    seen = []

    async def mark(request, ctx, call_next):
        seen.append(ctx.params)
        response = await call_next(request, ctx)
        response.js_object.headers.set("x-admin", "1")
        return response

    admin.use(mark)

    @api.get("/ping")
    async def ping(request, ctx):
        return "pong"

    api.mount("/admin", admin)

    @admin.get("/stats/{day}")  # declared after mounting: still served
    async def stats(request, ctx):
        return {"day": ctx.params["day"]}

    @admin.post("/")
    async def root(request, ctx):
        return {"root": True}

    reply = await api.handle(request_for("/admin/stats/mon"), None)
    assert (reply.status, reply.headers.get("x-admin")) == (200, "1")
    assert (await reply.json())["data"] == {"day": "mon"}
    assert (await api.handle(request_for("/admin", "POST", body="{}"), None)).status == 200
    assert (await api.handle(request_for("/ping"), None)).headers.get("x-admin") is None
    assert seen == [{"day": "mon"}, {}]
    wrong = await api.handle(request_for("/admin/stats/mon", "DELETE"), None)
    assert (wrong.status, wrong.headers.get("allow")) == (405, "GET, HEAD")
    assert (await api.handle(request_for("/administrator"), None)).status == 404


async def test_nested_mounts(request_for):
    outer, middle, inner = Router(), Router(), Router()

    @inner.get("/leaf/{id:int}")
    async def leaf(request, ctx):
        return ctx.params

    middle.mount("/b", inner)
    outer.mount("/a", middle)
    assert (await (await outer.handle(request_for("/a/b/leaf/3"), None)).json())["data"] == {"id": 3}


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("things", "start with"),
        ("/{id}/{id}", "twice"),
        ("/{id:uuid}", "bad parameter"),
        ("/{}", "bad parameter"),
        ("/{1a}", "bad parameter"),
        ("/x}", "unbalanced"),
        ("/{x", "unbalanced"),
    ],
)
def test_bad_patterns_fail_at_declaration(pattern, message):
    with pytest.raises(ValueError, match=message):
        Router().add("GET", pattern, lambda request, ctx: None)


def test_bad_methods_and_mounts_fail_at_declaration():
    r = Router()
    with pytest.raises(ValueError, match="unknown HTTP method"):
        r.add("FETCH", "/x", lambda request, ctx: None)
    for prefix in ("admin", "/admin/", "/{x}"):
        with pytest.raises(ValueError, match="mount prefix"):
            r.mount(prefix, Router())
    with pytest.raises(ValueError, match="itself"):
        r.mount("/self", r)
