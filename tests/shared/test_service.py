"""The service kit: operations declared once; the one wrapper's order; the RPC, HTTP and MCP faces derived."""

import json

import pytest
from pydantic import BaseModel, ConfigDict, Field
from workers import Request, WorkerEntrypoint

from shared.errors import AppError, NotFound, from_rpc_exception
from shared.middleware import AuthenticationMiddleware
from shared.middleware.authentication import PRINCIPAL_HEADER
from shared.routing import Router
from shared.service import OFFSET_PAGE, Call, NoInput, Service, offset_page

# -- the service under test ----------------------------------------------------------------------------


class ItemKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ns: str = Field(pattern=r"^[a-z]+$")
    id: str = Field(min_length=1, max_length=10)


class ItemInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ns: str = Field(pattern=r"^[a-z]+$")
    id: str = Field(min_length=1, max_length=10)
    title: str = Field(min_length=1)
    rank: int = 0


class ItemQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ns: str | None = None
    limit: int = Field(default=10, ge=1, le=100)


class Purge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ns: str = Field(pattern=r"^[a-z]+$")
    reason: str = Field(min_length=3)
    dry_run: bool = False


class Loose(BaseModel):
    """Unknown fields are ignored (pydantic's default)."""

    q: str = ""


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str


class Store:
    """`env` of the service: items by (ns, id), and a marker to see that handlers get this env."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict] = {}
        self.name = "test-env"


class WorkerCtx:
    def __init__(self) -> None:
        self.waiting: list = []

    def waitUntil(self, awaitable):  # the JS name
        self.waiting.append(awaitable)


def build() -> Service:
    """A fresh service (its declarations and caches are per instance)."""
    service = Service("items", version="1.2.3", description="Items for the tests.")

    @service.operation(http="GET /items/{ns}/{id}", permission="items:read", tool="items_get")
    async def get_item(call: Call, args: ItemKey) -> dict:
        """Get one item.

        By namespace and id.
        """
        item = call.env.items.get((args.ns, args.id))
        if item is None:
            raise NotFound(f"No item {args.ns}/{args.id}", details={"ns": args.ns, "id": args.id})
        return item

    @service.operation(http="GET /items", permission="items:read", tool="items_list", page=("limit", "has_more"))
    async def list_items(call: Call, args: ItemQuery) -> dict:
        """List items."""
        items = [item for (ns, _), item in sorted(call.env.items.items()) if args.ns in (None, ns)]
        return {"items": items[: args.limit], "limit": args.limit, "has_more": len(items) > args.limit, "x": 1}

    @service.operation(
        http=("POST /items", "PUT /items/{ns}/{id}"),
        permission="items:write",
        tool="items_upsert",
        status=lambda result: 201 if result["created"] else 200,
    )
    async def upsert_item(call: Call, args: ItemInput) -> dict:
        """Create or replace an item."""
        created = (args.ns, args.id) not in call.env.items
        item = args.model_dump() | {"by": call.actor}
        call.env.items[(args.ns, args.id)] = item
        return item | {"created": created}

    @service.operation(http="DELETE /items/{ns}/{id}", permission="items:write", tool="items_delete")
    async def delete_item(call: Call, args: ItemKey) -> dict:
        """Delete an item."""
        return {"deleted": call.env.items.pop((args.ns, args.id), None) is not None}

    @service.operation(http="DELETE /namespaces/{ns}", permission="items:admin")
    async def purge(call: Call, args: Purge) -> dict:
        """Delete every item of a namespace."""
        doomed = [key for key in call.env.items if key[0] == args.ns]
        if not args.dry_run:
            for key in doomed:
                del call.env.items[key]
        return {"purged": len(doomed), "reason": args.reason, "dry_run": args.dry_run}

    @service.operation(http="GET /ping", public=True)
    async def ping(call: Call, args: NoInput) -> dict:
        """Alive (no principal needed)."""
        return {"pong": True, "actor": call.actor}

    @service.operation(http="POST /notes", permission="notes:write", status=201)
    async def add_note(call: Call, args: Note) -> dict:
        """Add a note."""
        return {"text": args.text}

    @service.operation(http="GET /search", permission="items:read")
    async def search(call: Call, args: Loose) -> dict:
        """Search (unknown query parameters are ignored by this model)."""
        return {"q": args.q}

    @service.operation(permission="items:read")
    async def count_items(call: Call, args: ItemQuery) -> int:
        """How many items (RPC only)."""
        return sum(1 for ns, _ in call.env.items if args.ns in (None, ns))

    @service.operation(http="GET /whoami", tool="whoami", rpc=False)
    async def whoami(call: Call, args: NoInput) -> dict:
        """What the handler is given (no permission needed, no RPC method)."""
        return {
            "face": call.face,
            "actor": call.actor,
            "request_id": call.request_id,
            "env": call.env.name,
            "worker_ctx": call.worker_ctx is not None,
        }

    return service


def principal(*permissions: str, id: str = "usr_1") -> dict:
    return {"id": id, "type": "user", "role": "user", "permissions": list(permissions)}


READER = principal("items:read", id="usr_reader")
WRITER = principal("items:read", "items:write", id="usr_writer")
ADMIN = principal("*", id="usr_admin")
NOBODY = principal("deploy", id="usr_nobody")


@pytest.fixture
def service():
    return build()


@pytest.fixture
def env():
    return Store()


def seed(env: Store, ns: str = "blog", id: str = "a", **fields) -> dict:
    item = {"ns": ns, "id": id, "title": "T", "rank": 0, "by": "usr_seed"} | fields
    env.items[(ns, id)] = item
    return item


# -- the one wrapper -------------------------------------------------------------------------------------


def op(service: Service, name: str):
    return service.operations[name]


async def invoke(service, name, principal, args, env=None, face="rpc"):
    return await service.invoke(op(service, name), Call(env or Store(), principal, face=face), args)


async def test_no_principal_is_401(service):
    with pytest.raises(AppError) as info:
        await invoke(service, "get_item", None, {"ns": "blog", "id": "a"})
    assert (info.value.status, info.value.code) == (401, "UNAUTHORIZED")


async def test_an_operation_without_permission_still_needs_a_principal(service):
    with pytest.raises(AppError) as info:
        await invoke(service, "whoami", None, {})
    assert (info.value.status, info.value.code) == (401, "UNAUTHORIZED")
    assert (await invoke(service, "whoami", NOBODY, {}))["actor"] == "usr_nobody"


async def test_a_public_operation_needs_no_principal(service):
    assert await invoke(service, "ping", None, None) == {"pong": True, "actor": None}
    assert await invoke(service, "ping", NOBODY, {}) == {"pong": True, "actor": "usr_nobody"}


async def test_missing_permission_is_403_naming_it(service):
    with pytest.raises(AppError) as info:
        await invoke(service, "upsert_item", READER, {"ns": "blog", "id": "a", "title": "T"})
    err = info.value
    assert (err.status, err.code) == (403, "FORBIDDEN")
    assert err.details == {"permission": "items:write"}
    assert "items:write" in err.message


@pytest.mark.parametrize("who", [None, NOBODY, READER, principal(id="usr_empty"), {"id": "usr_x", "permissions": None}])
async def test_authorization_comes_before_validation(service, who):
    """An unauthorized caller learns nothing about the input: 401/403, never a 400 with field errors."""
    with pytest.raises(AppError) as info:
        await invoke(service, "upsert_item", who, {"ns": "NOT VALID", "id": "", "bogus": 1})
    assert info.value.status == (401 if who is None else 403)
    assert info.value.code == ("UNAUTHORIZED" if who is None else "FORBIDDEN")


async def test_invalid_input_is_400_with_field_errors(service):
    with pytest.raises(AppError) as info:
        await invoke(service, "upsert_item", WRITER, {"ns": "NOT VALID", "id": "a", "bogus": 1})
    err = info.value
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    fields = {e["field"]: e["type"] for e in err.details}
    assert fields == {"ns": "string_pattern_mismatch", "title": "missing", "bogus": "extra_forbidden"}
    assert "NOT VALID" not in json.dumps(err.details)  # the input is never echoed


async def test_no_input_refuses_unknown_fields(service):
    with pytest.raises(AppError) as info:
        await invoke(service, "ping", None, {"surprise": 1})
    assert info.value.code == "VALIDATION_ERROR"
    assert info.value.details[0]["field"] == "surprise"


async def test_the_handler_gets_the_call_and_the_validated_model(service, env):
    seen = {}

    @service.operation(permission="items:read")
    async def probe(call: Call, args: ItemQuery) -> dict:
        """Record what the handler is given."""
        seen["call"], seen["args"] = call, args
        return args

    call = Call(env, READER, request_id="req_1", worker_ctx="wctx", face="http")
    result = await service.invoke(op(service, "probe"), call, {"limit": "5"})
    assert seen["call"] is call
    assert (call.env, call.principal, call.request_id, call.worker_ctx, call.face, call.actor) == (
        env,
        READER,
        "req_1",
        "wctx",
        "http",
        "usr_reader",
    )
    assert isinstance(seen["args"], ItemQuery)
    assert seen["args"].limit == 5  # coerced by the model
    assert result == {"ns": None, "limit": 5}  # a model result is plain JSON data


async def test_a_model_instance_is_taken_as_is(service, env):
    seed(env)
    assert (await invoke(service, "get_item", READER, ItemKey(ns="blog", id="a"), env))["title"] == "T"


@pytest.mark.parametrize(
    ("granted", "allowed"),
    [
        (["items:read"], True),
        (["items:*"], True),
        (["*"], True),
        (["items:write"], False),
        (["other:*"], False),
        (["item:*"], False),
        (["items"], False),
        ([], False),
    ],
)
async def test_permission_wildcards(service, env, granted, allowed):
    seed(env)
    who = principal(*granted)
    if allowed:
        assert (await invoke(service, "get_item", who, {"ns": "blog", "id": "a"}, env))["id"] == "a"
    else:
        with pytest.raises(AppError) as info:
            await invoke(service, "get_item", who, {"ns": "blog", "id": "a"}, env)
        assert info.value.code == "FORBIDDEN"


async def test_handler_app_errors_pass_through(service, env):
    with pytest.raises(NotFound) as info:
        await invoke(service, "get_item", READER, {"ns": "blog", "id": "zz"}, env)
    assert info.value.details == {"ns": "blog", "id": "zz"}


# -- RPC ------------------------------------------------------------------------------------------------


@pytest.fixture
def entry(service, env):
    @service.entrypoint
    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return None

    return Default(WorkerCtx(), env)


async def rpc(method, *args, **kwargs):
    """`(value, None)` or `(None, AppError)`: the error rebuilt from what crosses the binding, as a caller does."""
    try:
        return await method(*args, **kwargs), None
    except Exception as exc:  # an RPC method raises plain exceptions carrying the error
        crossed = exc
    assert not isinstance(crossed, AppError), "an AppError must not cross the binding as itself"
    return None, from_rpc_exception(crossed, service="items")


async def rpc_error(method, *args, **kwargs) -> AppError:
    value, err = await rpc(method, *args, **kwargs)
    assert err is not None, f"succeeded with {value!r}"
    assert err.code != "UPSTREAM_ERROR", err
    return err


def test_entrypoint_sets_the_methods_on_the_class_itself(service):
    class Base(WorkerEntrypoint):
        pass

    @service.entrypoint
    class Default(Base):
        async def fetch(self, request):
            return None

    rpc_ops = {"get_item", "list_items", "upsert_item", "delete_item", "purge", "ping", "add_note"}
    rpc_ops |= {"search", "count_items"}
    # workerd lists a Python entrypoint's RPC methods from the class's own __dict__
    own = {name for name, value in vars(Default).items() if callable(value) and not name.startswith("_")}
    assert own == rpc_ops | {"fetch", "mcp_list_tools", "mcp_call_tool"}  # the last two: for the MCP aggregator
    assert not hasattr(Default, "whoami")  # rpc=False
    assert not hasattr(Base, "get_item")  # the base class is untouched
    assert Default.get_item.__name__ == "get_item"
    assert Default.get_item.__doc__.startswith("Get one item.")


def test_a_hand_written_method_of_the_same_name_is_an_error(service):
    with pytest.raises(TypeError, match="get_item"):

        @service.entrypoint
        class Default(WorkerEntrypoint):
            async def get_item(self, principal, args):
                return None


def test_a_hand_written_method_named_like_an_rpc_false_operation_is_kept(service):
    @service.entrypoint
    class Default(WorkerEntrypoint):
        async def whoami(self):
            return "mine"

    assert Default.__dict__["whoami"].__qualname__.endswith("Default.whoami")


async def test_rpc_takes_one_args_object(entry, env):
    seed(env)
    assert (await entry.get_item(READER, {"ns": "blog", "id": "a"}))["title"] == "T"


async def test_rpc_fields_by_position_by_name_and_mixed(entry, env):
    item = seed(env)
    assert await entry.get_item(READER, "blog", "a") == item
    assert await entry.get_item(READER, ns="blog", id="a") == item
    assert await entry.get_item(READER, "blog", id="a") == item
    stored = await entry.upsert_item(WRITER, "blog", "b", "Title", 3)
    assert stored == {"ns": "blog", "id": "b", "title": "Title", "rank": 3, "by": "usr_writer", "created": True}


async def test_rpc_without_args_and_with_none(entry, env):
    seed(env)
    assert await entry.count_items(READER) == 1
    assert await entry.count_items(READER, None) == 1
    assert await entry.count_items(READER, {}) == 1
    assert await entry.ping() == {"pong": True, "actor": None}


async def test_rpc_too_many_positionals_is_400(entry):
    err = await rpc_error(entry.get_item, READER, "blog", "a", "extra")
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert "at most 2" in err.message
    err = await rpc_error(entry.ping, None, "anything")
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")


async def test_rpc_a_field_given_twice_is_400(entry):
    err = await rpc_error(entry.get_item, READER, "blog", ns="blog", id="a")
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert "ns" in err.message


async def test_rpc_invalid_input_is_400_with_field_errors(entry):
    err = await rpc_error(entry.get_item, READER, {"ns": "Blog", "id": "a", "more": 1})
    assert (err.status, err.code) == (400, "VALIDATION_ERROR")
    assert {e["field"] for e in err.details} == {"ns", "more"}


@pytest.mark.parametrize(
    "bad",
    [
        "usr_1",
        ["items:read"],
        {"permissions": ["*"]},
        {"id": 7, "permissions": ["*"]},
        {"id": "usr_1"},
        {"id": "usr_1", "permissions": "*"},
        {"id": "usr_1", "permissions": None},
    ],
)
async def test_rpc_a_malformed_principal_is_400_invalid_principal(entry, bad):
    # the calling service sent something that is not a principal: its bug, said as such (no principal: 401)
    err = await rpc_error(entry.get_item, bad, {"ns": "blog", "id": "a"})
    assert (err.status, err.code) == (400, "INVALID_PRINCIPAL")


async def test_rpc_no_principal_is_401_and_a_public_operation_takes_none(entry):
    err = await rpc_error(entry.get_item, None, {"ns": "blog", "id": "a"})
    assert (err.status, err.code) == (401, "UNAUTHORIZED")
    assert await entry.ping(None) == {"pong": True, "actor": None}


async def test_rpc_principal_as_a_js_object_is_converted(entry, env):
    seed(env)

    class JsProxy:  # what a JS object looks like once it crossed into Pyodide
        def __init__(self, value):
            self.value = value

        def to_py(self):
            return self.value

    assert (await entry.get_item(JsProxy(READER), JsProxy({"ns": "blog", "id": "a"})))["id"] == "a"


async def test_rpc_errors_keep_code_status_and_details_across_the_binding(entry, env):
    err = await rpc_error(entry.get_item, READER, {"ns": "blog", "id": "nope"})
    assert (type(err), err.status, err.code, err.details) == (NotFound, 404, "NOT_FOUND", {"ns": "blog", "id": "nope"})
    err = await rpc_error(entry.upsert_item, READER, {"ns": "blog", "id": "a", "title": "T"})
    assert (err.status, err.code, err.details) == (403, "FORBIDDEN", {"permission": "items:write"})


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("blog", "a", "T", 0, "one too many"), {}),  # too many positionals
        (("blog",), {"ns": "blog"}),  # a field given twice
        (({"ns": "BAD"},), {}),  # invalid
    ],
)
async def test_rpc_authorization_comes_before_argument_checks(entry, args, kwargs):
    err = await rpc_error(entry.upsert_item, READER, *args, **kwargs)
    assert (err.status, err.code) == (403, "FORBIDDEN")
    err = await rpc_error(entry.upsert_item, None, *args, **kwargs)
    assert (err.status, err.code) == (401, "UNAUTHORIZED")


async def test_rpc_call_carries_the_worker_ctx_and_face(service, env):
    seen = {}

    @service.operation(permission="items:read")
    async def probe(call: Call, args: NoInput) -> None:
        """Record the call."""
        seen["call"] = call

    @service.entrypoint
    class Default(WorkerEntrypoint):
        pass

    ctx = WorkerCtx()
    await Default(ctx, env).probe(READER)
    call = seen["call"]
    assert (call.env, call.worker_ctx, call.face, call.principal) == (env, ctx, "rpc", READER)


# -- HTTP -----------------------------------------------------------------------------------------------


@pytest.fixture
def router(service):
    router = Router()
    router.use(AuthenticationMiddleware(public=service.public_paths()))
    service.serve(router)
    return router


def send(request_for, path, method="GET", *, who=None, body=None, headers=None):
    headers = dict(headers or {})
    if who is not None:
        headers[PRINCIPAL_HEADER] = json.dumps(who)
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    if body is not None:
        headers.setdefault("content-type", "application/json")
    return request_for(path, method, headers=headers, body=body)


async def answer(router, env, request):
    response = await router.handle(request, env, WorkerCtx())
    return response.status, await response.json()


async def test_http_get_with_path_params(router, env, request_for):
    item = seed(env)
    status, body = await answer(router, env, send(request_for, "/items/blog/a", who=READER))
    assert (status, body["success"], body["data"]) == (200, True, item)


async def test_http_get_with_query(router, env, request_for):
    seed(env, "blog", "a")
    seed(env, "blog", "b")
    seed(env, "news", "c")
    status, body = await answer(router, env, send(request_for, "/items?ns=blog&limit=1", who=READER))
    assert status == 200
    assert [item["id"] for item in body["data"]] == ["a"]  # page: the items are the data
    assert (body["meta"]["limit"], body["meta"]["has_more"]) == (1, True)
    assert not {"x", "items"} & set(body["meta"])  # only the listed keys go to meta
    assert body["meta"]["request_id"].startswith("req_")


async def test_http_query_values_are_validated(router, env, request_for):
    status, body = await answer(router, env, send(request_for, "/items?limit=0", who=READER))
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert body["error"]["details"][0]["field"] == "limit"


async def test_http_a_page_keeps_its_status(service, env, request_for):
    @service.operation(http="GET /partial", permission="items:read", page=("total",), status=lambda r: 206)
    async def partial(call: Call, args: NoInput) -> dict:
        """A part of the items."""
        return {"items": [1, 2], "total": 5}

    router = Router()
    router.use(AuthenticationMiddleware(public=service.public_paths()))
    service.serve(router)
    status, body = await answer(router, env, send(request_for, "/partial", who=READER))
    assert (status, body["data"], body["meta"]["total"]) == (206, [1, 2], 5)


async def test_http_unknown_query_parameter(router, env, request_for):
    status, body = await answer(router, env, send(request_for, "/items?colour=red", who=READER))
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert body["error"]["details"][0] == {
        "field": "colour",
        "message": "Extra inputs are not permitted",
        "type": ("extra_forbidden"),
    }
    # a model that does not forbid extras ignores them
    status, body = await answer(router, env, send(request_for, "/search?q=x&colour=red", who=READER))
    assert (status, body["data"]) == (200, {"q": "x"})


async def test_http_path_params_win_over_a_query_of_the_same_value_only(router, env, request_for):
    seed(env)
    assert (await answer(router, env, send(request_for, "/items/blog/a?id=a", who=READER)))[0] == 200
    status, body = await answer(router, env, send(request_for, "/items/blog/a?id=b", who=READER))
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")


async def test_http_post_json_body_and_status_from_the_result(router, env, request_for):
    payload = {"ns": "blog", "id": "a", "title": "First"}
    status, body = await answer(router, env, send(request_for, "/items", "POST", who=WRITER, body=payload))
    assert status == 201
    assert body["data"] == payload | {"rank": 0, "by": "usr_writer", "created": True}
    status, body = await answer(router, env, send(request_for, "/items", "POST", who=WRITER, body=payload))
    assert (status, body["data"]["created"]) == (200, False)
    assert env.items[("blog", "a")]["title"] == "First"


async def test_http_put_takes_the_key_from_the_path(router, env, request_for):
    request = send(request_for, "/items/blog/b", "PUT", who=WRITER, body={"title": "B"})
    status, body = await answer(router, env, request)
    assert (status, body["data"]["ns"], body["data"]["id"]) == (201, "blog", "b")
    # repeating the path's value in the body is fine
    request = send(request_for, "/items/blog/b", "PUT", who=WRITER, body={"ns": "blog", "id": "b", "title": "C"})
    assert (await answer(router, env, request))[0] == 200
    assert env.items[("blog", "b")]["title"] == "C"


async def test_http_a_body_field_contradicting_the_path_is_400(router, env, request_for):
    request = send(request_for, "/items/blog/b", "PUT", who=WRITER, body={"id": "other", "title": "B"})
    status, body = await answer(router, env, request)
    assert (status, body["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert "id" in body["error"]["message"]
    assert env.items == {}


async def test_http_patch_reads_the_body(service, env, request_for):
    @service.operation(http="PATCH /items/{ns}/{id}", permission="items:write")
    async def rename(call: Call, args: ItemInput) -> dict:
        """Rename."""
        return {"title": args.title, "id": args.id}

    router = Router()
    service.serve(router)

    async def with_principal(request, ctx, call_next):
        ctx.state["principal"] = WRITER
        return await call_next(request, ctx)

    router.use(with_principal)
    status, body = await answer(router, env, send(request_for, "/items/blog/a", "PATCH", body={"title": "New"}))
    assert (status, body["data"]) == (200, {"title": "New", "id": "a"})


async def test_http_body_problems(router, env, request_for):
    cases = [
        ("{oops", 400, "INVALID_JSON"),
        ("[1, 2]", 400, "VALIDATION_ERROR"),
        ("", 400, "INVALID_JSON"),
    ]
    for raw, status, code in cases:
        request = send(
            request_for, "/items", "POST", who=WRITER, body=raw, headers={"content-type": "application/json"}
        )
        got_status, body = await answer(router, env, request)
        assert (got_status, body["error"]["code"]) == (status, code), raw
    request = send(request_for, "/items", "POST", who=WRITER, body="x", headers={"content-type": "text/plain"})
    assert (await answer(router, env, request))[0] == 415


async def test_http_delete_with_only_the_path_and_query(router, env, request_for):
    seed(env, "blog", "a")
    seed(env, "blog", "b")
    seed(env, "news", "c")
    status, body = await answer(router, env, send(request_for, "/items/blog/a", "DELETE", who=WRITER))
    assert (status, body["data"]) == (200, {"deleted": True})
    request = send(request_for, "/namespaces/blog?reason=cleanup&dry_run=true", "DELETE", who=ADMIN)
    status, body = await answer(router, env, request)
    assert (status, body["data"]) == (200, {"purged": 1, "reason": "cleanup", "dry_run": True})
    assert ("blog", "b") in env.items


async def test_http_delete_with_a_json_body(router, env, request_for):
    seed(env, "blog", "a")
    request = send(request_for, "/namespaces/blog", "DELETE", who=ADMIN, body={"reason": "cleanup"})
    status, body = await answer(router, env, request)
    assert (status, body["data"]) == (200, {"purged": 1, "reason": "cleanup", "dry_run": False})
    assert env.items == {}
    # with a body, the query is not read: the required reason is missing
    request = send(request_for, "/namespaces/blog?reason=cleanup", "DELETE", who=ADMIN, body={"dry_run": True})
    status, body = await answer(router, env, request)
    assert (status, body["error"]["code"], body["error"]["details"][0]["field"]) == (400, "VALIDATION_ERROR", "reason")
    # a body's ns must agree with the path's
    request = send(request_for, "/namespaces/blog", "DELETE", who=ADMIN, body={"ns": "news", "reason": "cleanup"})
    assert (await answer(router, env, request))[0] == 400


async def test_http_delete_declaring_a_body_by_length_only(router, env, request_for):
    seed(env, "blog", "a")
    raw = json.dumps({"reason": "cleanup"})
    request = request_for(
        "/namespaces/blog",
        "DELETE",
        headers={PRINCIPAL_HEADER: json.dumps(ADMIN), "content-length": str(len(raw))},
        body=raw,
    )
    assert (await answer(router, env, request))[1]["data"]["purged"] == 1
    # an empty length is no body: the query is read
    request = request_for(
        "/namespaces/blog?reason=again", "DELETE", headers={PRINCIPAL_HEADER: json.dumps(ADMIN), "content-length": "0"}
    )
    assert (await answer(router, env, request))[1]["data"] == {"purged": 0, "reason": "again", "dry_run": False}


async def test_http_status_as_an_int(router, env, request_for):
    who = principal("notes:write")
    status, body = await answer(router, env, send(request_for, "/notes", "POST", who=who, body={"text": "hi"}))
    assert (status, body["data"]) == (201, {"text": "hi"})


async def test_http_missing_permission_is_403_before_the_body_is_looked_at(router, env, request_for):
    cases = [
        ("/items", "POST", {"ns": "BAD"}),
        ("/items/blog/a", "PUT", {"id": "contradicts-the-path"}),
        ("/items", "POST", "{not json"),
        ("/items", "POST", "[]"),
    ]
    for path, method, payload in cases:
        status, body = await answer(router, env, send(request_for, path, method, who=READER, body=payload))
        assert (status, body["error"]["code"]) == (403, "FORBIDDEN"), (path, payload)
        assert body["error"]["details"] == {"permission": "items:write"}
    status, body = await answer(router, env, send(request_for, "/items?colour=red", who=NOBODY))
    assert (status, body["error"]["code"]) == (403, "FORBIDDEN")


async def test_http_the_wrapper_authenticates_when_no_middleware_did(service, env, request_for):
    router = Router()
    service.serve(router)
    for path, method, payload in [("/items/blog/a", "GET", None), ("/items/blog/a", "PUT", {"id": "zz"})]:
        status, body = await answer(router, env, send(request_for, path, method, body=payload))
        assert (status, body["error"]["code"]) == (401, "UNAUTHORIZED"), path
    assert (await answer(router, env, send(request_for, "/ping")))[0] == 200


async def test_http_head_on_a_get_route(router, env, request_for):
    seed(env)
    response = await router.handle(send(request_for, "/items/blog/a", "HEAD", who=READER), env)
    assert response.status == 200
    assert await response.bytes() in (b"", None)
    missing = await router.handle(send(request_for, "/items/blog/zz", "HEAD", who=READER), env)
    assert missing.status == 404


async def test_http_public_operation_without_a_principal(router, env, request_for):
    status, body = await answer(router, env, send(request_for, "/ping"))
    assert (status, body["data"]) == (200, {"pong": True, "actor": None})
    status, body = await answer(router, env, send(request_for, "/items/blog/a"))  # the middleware refuses
    assert (status, body["error"]["code"]) == (401, "UNAUTHORIZED")


def test_public_paths(service):
    assert service.public_paths() == ("/openapi.json", "/ping")


async def test_http_call_fields(router, env, request_for):
    status, body = await answer(router, env, send(request_for, "/whoami", who=NOBODY))
    assert status == 200
    assert body["data"] == {
        "face": "http",
        "actor": "usr_nobody",
        "request_id": body["meta"]["request_id"],
        "env": "test-env",
        "worker_ctx": True,
    }


async def test_http_errors_of_the_handler(router, env, request_for):
    status, body = await answer(router, env, send(request_for, "/items/blog/zz", who=READER))
    assert (status, body["error"]) == (
        404,
        {"code": "NOT_FOUND", "message": "No item blog/zz", "details": {"ns": "blog", "id": "zz"}},
    )


async def test_http_openapi_document_is_served_without_a_token(router, service, env, request_for):
    response = await router.handle(request_for("/openapi.json"), env)
    assert response.status == 200
    assert response.headers.get("content-type", "").startswith("application/json")
    assert await response.json() == json.loads(json.dumps(service.openapi()))


async def test_serve_can_leave_out_the_document_and_mcp(service, env, request_for):
    router = Router()
    service.serve(router, mcp=None, openapi=None)
    patterns = [(route.method, route.pattern) for route in router.routes]
    assert ("GET", "/openapi.json") not in patterns
    assert not any(pattern == "/mcp" for _, pattern in patterns)
    assert {("GET", "/items/{ns}/{id}"), ("PUT", "/items/{ns}/{id}")} <= set(patterns)
    assert not any(pattern == "count_items" for _, pattern in patterns)


def test_serve_adds_every_route_once(service):
    router = Router()
    service.serve(router)
    patterns = sorted((route.method, route.pattern) for route in router.routes)
    assert patterns == sorted(
        [
            ("GET", "/items/{ns}/{id}"),
            ("GET", "/items"),
            ("POST", "/items"),
            ("PUT", "/items/{ns}/{id}"),
            ("DELETE", "/items/{ns}/{id}"),
            ("DELETE", "/namespaces/{ns}"),
            ("GET", "/ping"),
            ("POST", "/notes"),
            ("GET", "/search"),
            ("GET", "/whoami"),
            ("GET", "/openapi.json"),
            ("POST", "/mcp"),
            ("GET", "/mcp"),
            ("DELETE", "/mcp"),
        ]
    )


def test_no_mcp_route_without_tools():
    service = Service("quiet")

    @service.operation(http="GET /x", permission="q:read")
    async def x(call: Call, args: NoInput) -> None:
        """X."""

    router = Router()
    service.serve(router)
    assert [(r.method, r.pattern) for r in router.routes] == [("GET", "/x"), ("GET", "/openapi.json")]


# -- MCP ------------------------------------------------------------------------------------------------


def make_request(path, method="GET", headers=None, body=None):
    return Request(f"https://svc.do{path}", method=method, headers=headers or {}, body=body)


async def mcp(router, env, who, method, params=None, version="2025-11-25"):
    message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    request = send(make_request, "/mcp", "POST", who=who, body=message, headers={"mcp-protocol-version": version})
    response = await router.handle(request, env, WorkerCtx())
    assert response.status == 200
    return await response.json()


async def tools_listed(router, env, who) -> list[str]:
    reply = await mcp(router, env, who, "tools/list")
    return [tool["name"] for tool in reply["result"]["tools"]]


async def call_tool(router, env, who, name, arguments):
    reply = await mcp(router, env, who, "tools/call", {"name": name, "arguments": arguments})
    assert "error" not in reply, reply  # tool failures are results, not JSON-RPC errors
    return reply["result"]


async def test_mcp_tools_are_listed_for_the_principals_holding_their_permission(router, env):
    every = ["items_get", "items_list", "items_upsert", "items_delete", "whoami"]
    assert await tools_listed(router, env, ADMIN) == every
    assert await tools_listed(router, env, principal("items:*")) == every
    assert await tools_listed(router, env, WRITER) == every
    assert await tools_listed(router, env, READER) == ["items_get", "items_list", "whoami"]
    assert await tools_listed(router, env, NOBODY) == ["whoami"]  # permission None: listed for all


def test_mcp_tools_carry_the_operations_permission(service):
    registry = service.tools()
    assert registry is service.tools()  # built once
    assert registry.names() == ["items_get", "items_list", "items_upsert", "items_delete", "whoami"]
    described = {tool["name"]: tool for tool in registry.list()}
    assert described["items_get"]["description"] == op(service, "get_item").description
    assert described["items_get"]["inputSchema"]["required"] == ["ns", "id"]
    assert described["items_get"]["inputSchema"]["additionalProperties"] is False


async def test_mcp_call_without_the_permission_is_a_forbidden_tool_result(router, env):
    seed(env)
    for arguments in ({"ns": "blog", "id": "a"}, {"ns": "BAD", "bogus": 1}, {}):
        result = await call_tool(router, env, READER, "items_delete", arguments)
        assert result["isError"] is True
        assert result["structuredContent"]["code"] == "FORBIDDEN"  # not VALIDATION_ERROR, whatever the arguments
        assert result["structuredContent"]["details"] == {"permission": "items:write"}
    assert ("blog", "a") in env.items


async def test_mcp_invalid_arguments_are_a_validation_tool_result(router, env):
    result = await call_tool(router, env, READER, "items_get", {"ns": "BAD"})
    assert result["isError"] is True
    error = result["structuredContent"]
    assert error["code"] == "VALIDATION_ERROR"
    assert {e["field"] for e in error["details"]} == {"ns", "id"}


async def test_mcp_handler_errors_are_tool_results(router, env):
    result = await call_tool(router, env, READER, "items_get", {"ns": "blog", "id": "zz"})
    assert result["isError"] is True
    assert result["structuredContent"] == {
        "code": "NOT_FOUND",
        "message": "No item blog/zz",
        "details": {"ns": "blog", "id": "zz"},
    }


async def test_mcp_call_fields(router, env):
    result = await call_tool(router, env, NOBODY, "whoami", {})
    data = result["structuredContent"]
    assert result["isError"] is False
    assert (data["face"], data["actor"], data["env"], data["worker_ctx"]) == ("mcp", "usr_nobody", "test-env", True)
    assert data["request_id"].startswith("req_")


async def test_mcp_writes_go_through_the_handler(router, env):
    result = await call_tool(router, env, WRITER, "items_upsert", {"ns": "blog", "id": "m", "title": "M"})
    assert result["isError"] is False
    assert result["structuredContent"]["created"] is True
    assert env.items[("blog", "m")]["by"] == "usr_writer"


async def test_mcp_tool_without_principal_is_refused(service, env):
    """Served without an authentication middleware: the wrapper still wants a principal."""
    router = Router()
    service.serve(router)
    result = await call_tool(router, env, None, "whoami", {})
    assert (result["isError"], result["structuredContent"]["code"]) == (True, "UNAUTHORIZED")
    result = await call_tool(router, env, None, "items_get", {"ns": "blog", "id": "a"})
    assert result["isError"] is True
    assert result["structuredContent"]["code"] in ("UNAUTHORIZED", "FORBIDDEN")


# -- the MCP aggregator's RPC methods ---------------------------------------------------------------------


async def test_mcp_list_tools_over_rpc_names_them_for_the_aggregator_and_filters_by_principal(entry):
    tools, err = await rpc(entry.mcp_list_tools, READER)
    assert err is None
    assert [t["name"] for t in tools] == ["items_get", "items_list", "items_whoami"]  # whoami gets its prefix
    assert tools[0]["inputSchema"]["required"] == ["ns", "id"]
    assert tools[0]["description"].startswith("Get one item.")
    everything, _ = await rpc(entry.mcp_list_tools, ADMIN)
    assert len(everything) == 5


async def test_mcp_call_tool_over_rpc_runs_the_tool_for_the_principal(entry, env):
    seed(env)
    got, err = await rpc(entry.mcp_call_tool, READER, "items_get", {"ns": "blog", "id": "a"}, "req_rpc")
    assert err is None
    assert (got["isError"], got["structuredContent"]["title"]) == (False, "T")
    who, _ = await rpc(entry.mcp_call_tool, NOBODY, "items_whoami", {})
    assert (who["structuredContent"]["face"], who["structuredContent"]["actor"]) == ("mcp", "usr_nobody")
    refused, _ = await rpc(entry.mcp_call_tool, READER, "items_delete", {"ns": "blog", "id": "a"})
    assert (refused["isError"], refused["structuredContent"]["code"]) == (True, "FORBIDDEN")
    assert ("blog", "a") in env.items
    invalid, _ = await rpc(entry.mcp_call_tool, READER, "items_get", {"ns": "BAD"})
    assert invalid["structuredContent"]["code"] == "VALIDATION_ERROR"


async def test_mcp_rpc_methods_refuse_bad_callers_and_names(entry):
    for method, args in ((entry.mcp_list_tools, ()), (entry.mcp_call_tool, ("items_get", {}))):
        _, err = await rpc(method, None, *args)
        assert (err.status, err.code) == (401, "UNAUTHORIZED")
        _, err = await rpc(method, {"id": 5}, *args)
        assert err.code == "INVALID_PRINCIPAL"
    for name in ("whoami", "nope", "items_nope", None, 5):  # a tool is called by the name the list gave
        _, err = await rpc(entry.mcp_call_tool, ADMIN, name, {})
        assert (err.status, err.code) == (404, "UNKNOWN_TOOL"), name
    _, err = await rpc(entry.mcp_call_tool, ADMIN, "items_get", ["not", "an", "object"])
    assert err.code == "VALIDATION_ERROR"


def test_tool_names_are_unique_and_short_once_prefixed():
    service = Service("orders")

    @service.operation(tool="get")
    async def get(call: Call, args: NoInput) -> None:
        """Get."""

    with pytest.raises(ValueError, match="declared by 'get' already"):

        @service.operation(tool="orders_get")
        async def other(call: Call, args: NoInput) -> None:
            """Same name once prefixed."""

    with pytest.raises(ValueError, match="longer than 64"):

        @service.operation(tool="x" * 60)
        async def long(call: Call, args: NoInput) -> None:
            """Too long once prefixed."""


def test_an_operation_cannot_take_the_kits_mcp_method_names():
    service = Service("orders")

    @service.operation()
    async def mcp_list_tools(call: Call, args: NoInput) -> None:
        """Clashes."""

    with pytest.raises(TypeError, match="MCP aggregator"):

        @service.entrypoint
        class Default(WorkerEntrypoint):
            pass


# -- the same answer on every face --------------------------------------------------------------------------


async def test_the_three_faces_give_the_same_data(router, entry, env, request_for):
    key = {"ns": "blog", "id": "a"}
    seed(env, title="Same")
    by_rpc = await entry.get_item(READER, key)
    status, body = await answer(router, env, send(request_for, "/items/blog/a", who=READER))
    by_tool = await call_tool(router, env, READER, "items_get", key)
    assert status == 200
    assert by_tool["isError"] is False
    assert by_rpc == body["data"] == by_tool["structuredContent"]
    assert by_rpc["title"] == "Same"

    listed_rpc = await entry.list_items(READER, {"ns": "blog"})
    status, body = await answer(router, env, send(request_for, "/items?ns=blog", who=READER))
    listed_tool = (await call_tool(router, env, READER, "items_list", {"ns": "blog"}))["structuredContent"]
    assert status == 200
    assert listed_rpc == listed_tool
    assert listed_rpc["items"] == body["data"]  # a page: HTTP answers the items as data

    deleted_rpc = await entry.delete_item(WRITER, {"ns": "blog", "id": "nope"})
    status, body = await answer(router, env, send(request_for, "/items/blog/nope", "DELETE", who=WRITER))
    deleted_tool = await call_tool(router, env, WRITER, "items_delete", {"ns": "blog", "id": "nope"})
    assert status == 200
    assert deleted_rpc == body["data"] == deleted_tool["structuredContent"] == {"deleted": False}


async def test_the_three_faces_write_alike(service, request_for):
    payload = {"ns": "blog", "id": "w", "title": "W", "rank": 2}
    envs = [Store(), Store(), Store()]
    by_rpc = await entry_for(service, envs[0]).upsert_item(WRITER, payload)
    router = Router()
    router.use(AuthenticationMiddleware(public=service.public_paths()))
    service.serve(router)
    status, body = await answer(router, envs[1], send(request_for, "/items", "POST", who=WRITER, body=payload))
    by_tool = await call_tool(router, envs[2], WRITER, "items_upsert", payload)
    assert status == 201
    assert by_rpc == body["data"] == by_tool["structuredContent"]
    assert by_rpc == payload | {"by": "usr_writer", "created": True}
    assert envs[0].items == envs[1].items == envs[2].items


def entry_for(service, env):
    @service.entrypoint
    class Default(WorkerEntrypoint):
        pass

    return Default(WorkerCtx(), env)


async def test_the_three_faces_refuse_alike(router, entry, env, request_for):
    bad = {"ns": "BAD", "id": "x" * 11}
    rpc_err = await rpc_error(entry.get_item, READER, bad)
    status, body = await answer(router, env, send(request_for, f"/items/BAD/{'x' * 11}", who=READER))
    tool = (await call_tool(router, env, READER, "items_get", bad))["structuredContent"]
    assert status == 400
    assert rpc_err.code == body["error"]["code"] == tool["code"] == "VALIDATION_ERROR"
    assert rpc_err.details == body["error"]["details"] == tool["details"]
    assert {e["field"] for e in tool["details"]} == {"ns", "id"}

    rpc_err = await rpc_error(entry.delete_item, READER, {"ns": "blog", "id": "a"})
    status, body = await answer(router, env, send(request_for, "/items/blog/a", "DELETE", who=READER))
    tool = (await call_tool(router, env, READER, "items_delete", {"ns": "blog", "id": "a"}))["structuredContent"]
    assert status == 403
    assert rpc_err.to_dict() == body["error"] == tool


# -- declaration errors -----------------------------------------------------------------------------------


def test_duplicate_operation_name():
    service = Service("s")

    @service.operation()
    async def one(call: Call, args: NoInput) -> None:
        """One."""

    with pytest.raises(ValueError, match="declared twice"):

        @service.operation(name="one")
        async def other(call: Call, args: NoInput) -> None:
            """Other."""


def test_duplicate_route():
    service = Service("s")

    @service.operation(http="GET /x/{id}")
    async def one(call: Call, args: ItemKey) -> None:
        """One."""

    @service.operation(http="POST /x/{id}")  # another method on the same path is fine
    async def two(call: Call, args: ItemKey) -> None:
        """Two."""

    with pytest.raises(ValueError, match=r"GET /x/\{id\} is served by 'one'"):

        @service.operation(http=("GET /y", "GET /x/{id}"))
        async def three(call: Call, args: ItemKey) -> None:
            """Three."""

    assert list(service.operations) == ["one", "two"]


def test_duplicate_tool_name():
    service = Service("s")

    @service.operation(tool="t")
    async def one(call: Call, args: NoInput) -> None:
        """One."""

    with pytest.raises(ValueError, match="MCP tool 't'"):

        @service.operation(tool="t")
        async def two(call: Call, args: NoInput) -> None:
            """Two."""


def test_a_path_parameter_must_be_a_field():
    service = Service("s")
    with pytest.raises(ValueError, match=r"\['slug'\]"):

        @service.operation(http="GET /x/{ns}/{slug:path}")
        async def one(call: Call, args: ItemKey) -> None:
            """One."""

    with pytest.raises(ValueError, match="path parameters"):

        @service.operation(http="GET /x/{id}")
        async def two(call: Call, args: NoInput) -> None:
            """Two."""

    assert service.operations == {}


def test_a_docstring_is_required():
    service = Service("s")
    with pytest.raises(ValueError, match="docstring"):

        @service.operation()
        async def one(call: Call, args: NoInput) -> None:
            pass

    with pytest.raises(ValueError, match="docstring"):

        @service.operation()
        async def two(call: Call, args: NoInput) -> None:
            """ """


def test_public_and_a_permission_exclude_each_other():
    service = Service("s")
    with pytest.raises(ValueError, match="public"):

        @service.operation(public=True, permission="x:read")
        async def one(call: Call, args: NoInput) -> None:
            """One."""


async def _one_param(call: Call) -> None:
    """One."""


async def _three_params(call: Call, args: NoInput, more: int) -> None:
    """Three."""


async def _dict_args(call: Call, args: dict) -> None:
    """Dict."""


async def _int_args(call: Call, args: int) -> None:
    """Int."""


@pytest.mark.parametrize("handler", [_one_param, _three_params, _dict_args, _int_args])
def test_the_handler_is_call_and_a_model(handler):
    with pytest.raises(TypeError, match="operation"):
        Service("s").operation()(handler)


def test_an_unannotated_args_is_no_input():
    service = Service("s")

    @service.operation()
    async def bare(call, args) -> None:
        """Bare."""

    assert service.operations["bare"].input is NoInput


@pytest.mark.parametrize(
    "spec", ["FETCH /x", "get /x", "GET x", "GET /x y", "GET", "/x", "HEAD /x", "OPTIONS /x", " GET /x", "GET  /x"]
)
def test_bad_http_spec(spec):
    service = Service("s")
    with pytest.raises(ValueError, match="METHOD /path"):

        @service.operation(http=spec)
        async def one(call: Call, args: NoInput) -> None:
            """One."""

    assert service.operations == {}


@pytest.mark.parametrize("name", ["One", "1one", "with-dash", "x" * 65, "ünï"])
def test_bad_operation_name(name):
    with pytest.raises(ValueError, match="operation name"):

        @Service("s").operation(name=name)
        async def one(call: Call, args: NoInput) -> None:
            """One."""


def test_a_bad_tool_name_is_refused_when_the_tools_are_built():
    service = Service("s")

    @service.operation(tool="has space")
    async def one(call: Call, args: NoInput) -> None:
        """One."""

    with pytest.raises(ValueError, match="MCP tool name"):
        service.tools()


def test_operation_details():
    service = build()
    upsert = service.operations["upsert_item"]
    assert upsert.http == (("POST", "/items"), ("PUT", "/items/{ns}/{id}"))
    assert upsert.faces == ("rpc", "http", "mcp")
    assert (upsert.http_status({"created": True}), upsert.http_status({"created": False})) == (201, 200)
    assert service.operations["count_items"].faces == ("rpc",)
    assert service.operations["whoami"].faces == ("http", "mcp")
    assert service.operations["get_item"].summary == "Get one item."
    assert service.operations["get_item"].description == "Get one item.\n\nBy namespace and id."
    assert service.operations["ping"].input is NoInput


async def test_the_decorator_gives_back_the_handler(env):
    service = Service("s")

    async def plain(call: Call, args: ItemQuery) -> int:
        """Plain."""
        return args.limit

    assert service.operation()(plain) is plain
    assert await plain(Call(env, READER), ItemQuery(limit=3)) == 3


# -- the standard router ------------------------------------------------------------------------------


async def test_the_standard_router_has_health_the_stack_and_authentication(service, env, request_for):
    router = service.router()
    service.serve(router)
    response = await router.handle(request_for("/health"), env, WorkerCtx())
    assert response.status == 200
    assert (await response.json())["data"] == {"service": service.name, "status": "ok", "version": service.version}
    assert response.headers.get("x-request-id", "").startswith("req_")  # the request-id middleware ran
    unauthenticated = await router.handle(request_for("/items/blog/a"), env, WorkerCtx())
    assert unauthenticated.status == 401
    assert (await unauthenticated.json())["error"]["code"] == "UNAUTHORIZED"  # an envelope, from the stack
    item = seed(env)
    status, body = await answer(router, env, send(request_for, "/items/blog/a", who=READER))
    assert (status, body["data"]) == (200, item)
    assert (await router.handle(request_for("/openapi.json"), env, WorkerCtx())).status == 200  # public
    metadata = await router.handle(request_for("/.well-known/oauth-protected-resource"), env, WorkerCtx())
    assert metadata.status == 200  # public too: where an OAuth client that met a 401 learns where to sign in
    assert (await metadata.json())["authorization_servers"] == ["https://auth.do"]
    challenge = unauthenticated.headers.get("www-authenticate")
    assert challenge.endswith('resource_metadata="https://svc.do/.well-known/oauth-protected-resource"')


async def test_the_standard_router_takes_more_public_paths_a_validator_and_no_health(service, env, request_for):
    checked = []

    async def validate(env, token, request_id):
        checked.append(token)
        return {"type": "user", "id": "usr_v", "permissions": ["items:read"]}

    router = service.router(public=("/login",), validate=validate, health=False)

    @router.get("/login")
    async def login(request, ctx):
        return {"principal": ctx.state.get("principal")}

    service.serve(router)
    assert (await router.handle(request_for("/health"), env, WorkerCtx())).status == 404
    status, body = await answer(router, env, request_for("/login"))
    assert (status, body["data"]) == (200, {"principal": None})
    seed(env)
    bearer = {"authorization": "Bearer tok_123"}
    response = await router.handle(request_for("/items/blog/a", headers=bearer), env, WorkerCtx())
    assert response.status == 200
    assert checked == ["tok_123"]


@pytest.mark.parametrize(
    ("count", "total", "offset", "has_more"),
    [(2, 5, 0, True), (2, 5, 3, False), (0, 0, 0, False), (1, 5, 3, True), (0, 5, 10, False)],
)
def test_an_offset_page_has_more_exactly_while_records_lie_beyond_it(count, total, offset, has_more):
    items = list(range(count))
    page = offset_page(items, total=total, limit=2, offset=offset)
    assert page == {"items": items, "total": total, "limit": 2, "offset": offset, "has_more": has_more}
    assert set(page) - {"items"} == set(OFFSET_PAGE)
