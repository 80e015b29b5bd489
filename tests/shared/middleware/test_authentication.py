"""Authentication middleware: bearer tokens checked by the auth service, public paths, permissions."""

import pytest

from shared.errors import Unauthorized, UpstreamError, rpc_error
from shared.middleware import AuthenticationMiddleware, ErrorMiddleware, RequestIdMiddleware
from shared.middleware.authentication import bearer_token, require_permission
from shared.routing import Router


class Env:
    """`env` with an AUTH_SERVICE that knows one token."""

    def __init__(self, service):
        self.AUTH_SERVICE = service


class Auth:
    def __init__(self):
        self.seen = []

    async def validate_token(self, token, request_id=None):
        self.seen.append((token, request_id))
        if token == "good":
            return {"id": "usr_1", "permissions": ["db:read"]}
        raise rpc_error(Unauthorized("Invalid API key or token", code="INVALID_TOKEN"))


class Broken:
    async def validate_token(self, token, request_id=None):
        raise RuntimeError("connection reset with internal detail")


@pytest.fixture
def router(lines):
    r = Router()
    r.use(RequestIdMiddleware())
    r.use(ErrorMiddleware("svc", sink=lines.append))
    r.use(AuthenticationMiddleware(public=("/health", "/hooks/*")))

    @r.get("/health")
    async def health(request, ctx):
        return {"principal": ctx.state.get("principal_id")}

    @r.post("/hooks/stripe")
    async def hook(request, ctx):
        return {"ok": True}

    @r.get("/read")
    async def read(request, ctx):
        return {"who": require_permission(ctx, "db:read")["id"], "logged": ctx.state["principal_id"]}

    @r.post("/write")
    async def write(request, ctx):
        require_permission(ctx, "db:write")
        return {"wrote": True}

    return r


async def call(router, request_for, path, method="GET", token=None, service=None):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    reply = await router.handle(request_for(path, method=method, headers=headers), Env(service or Auth()))
    return reply, await reply.json()


async def test_public_paths_need_no_token(router, request_for):
    auth = Auth()
    for path, method in (("/health", "GET"), ("/hooks/stripe", "POST")):
        reply, _body = await call(router, request_for, path, method, service=auth)
        assert reply.status == 200
    assert auth.seen == []


async def test_missing_token_is_401_with_www_authenticate(router, request_for):
    reply, body = await call(router, request_for, "/read")
    assert reply.status == 401
    assert body["error"]["code"] == "UNAUTHORIZED"
    metadata = "https://svc.do/.well-known/oauth-protected-resource"
    assert reply.headers.get("www-authenticate") == f'Bearer realm="dotdo", resource_metadata="{metadata}"'


async def test_refused_token_keeps_the_auth_services_code(router, request_for):
    reply, body = await call(router, request_for, "/read", token="bad")
    assert reply.status == 401
    assert body["error"]["code"] == "INVALID_TOKEN"
    challenge = reply.headers.get("www-authenticate")
    assert challenge.startswith('Bearer realm="dotdo", error="invalid_token", resource_metadata="https://svc.do/')


async def test_valid_token_sets_the_principal(router, request_for):
    auth = Auth()
    reply, body = await call(router, request_for, "/read", token="good", service=auth)
    assert reply.status == 200
    assert body["data"] == {"who": "usr_1", "logged": "usr_1"}
    assert auth.seen == [("good", reply.headers.get("x-request-id"))]  # the request id travels with the RPC


async def test_the_gateways_principal_is_trusted_without_a_second_check(router, request_for):
    auth = Auth()
    forwarded = '{"id": "usr_9", "permissions": ["db:read"]}'
    reply = await router.handle(request_for("/read", headers={"x-dotdo-principal": forwarded}), Env(auth))
    assert (await reply.json())["data"] == {"who": "usr_9", "logged": "usr_9"}
    assert auth.seen == []
    for malformed in ("not json", "[]", '{"permissions": []}', '{"id": "u", "permissions": "*"}', "x" * 9000):
        reply = await router.handle(request_for("/read", headers={"x-dotdo-principal": malformed}), Env(auth))
        assert reply.status == 401, malformed


async def test_missing_permission_is_403_naming_it(router, request_for):
    reply, body = await call(router, request_for, "/write", "POST", token="good")
    assert reply.status == 403
    assert body["error"]["code"] == "FORBIDDEN"
    assert body["error"]["details"] == {"permission": "db:write"}


async def test_an_unreachable_auth_service_fails_closed_without_internals(router, request_for):
    reply, body = await call(router, request_for, "/read", token="good", service=Broken())
    assert reply.status == UpstreamError.status
    assert body["error"]["code"] == "UPSTREAM_ERROR"
    assert "internal detail" not in str(body)


async def test_no_auth_binding_is_refused(router, request_for):
    reply = await router.handle(request_for("/read", headers={"authorization": "Bearer good"}), object())
    assert reply.status == 401
    assert (await reply.json())["error"]["code"] == "AUTH_UNAVAILABLE"


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        ("Bearer " + "x" * 5000, None),
    ],
)
def test_bearer_token(request_for, header, token):
    assert bearer_token(request_for(headers={"authorization": header} if header else {})) == token


def test_public_paths_must_be_paths():
    with pytest.raises(ValueError, match="start with"):
        AuthenticationMiddleware(public=("health",))
