"""CORS: one matching origin echoed with Vary, preflights answered before later middleware."""

import pytest
from workers import Response

from shared.errors import Unauthorized
from shared.middleware import CORSMiddleware
from shared.routing import Router

A, B, EVIL = "https://a.example", "https://b.example", "https://evil.example"


def app(*middleware):
    r = Router()
    for mw in middleware:
        r.use(mw)

    @r.get("/x")
    async def ok(request, ctx):
        return {"ok": True}

    @r.get("/varied")
    async def varied(request, ctx):
        return Response("v", headers={"vary": "Accept-Encoding"})

    return r


def preflight(request_for, origin, method="POST"):
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    return request_for("/x", method="OPTIONS", headers=headers)


async def test_two_configured_origins_echo_only_the_requesting_one(request_for):
    router = app(CORSMiddleware([A, B]))
    for origin in (A, B):
        reply = await router.handle(request_for(headers={"Origin": origin}), None)
        assert reply.headers.get("access-control-allow-origin") == origin
        assert reply.headers.get("vary") == "Origin"
        assert reply.headers.get("access-control-expose-headers") == "x-request-id"
        assert reply.headers.get("access-control-allow-credentials") is None


async def test_an_origin_not_allowed_gets_no_cors_headers(request_for):
    router = app(CORSMiddleware([A, B]))
    reply = await router.handle(request_for(headers={"Origin": EVIL}), None)
    assert reply.status == 200
    assert reply.headers.get("access-control-allow-origin") is None
    assert reply.headers.get("access-control-expose-headers") is None
    assert reply.headers.get("vary") == "Origin"  # caches must not reuse it for an allowed origin


async def test_no_origin_no_cors_headers(request_for):
    reply = await app(CORSMiddleware([A])).handle(request_for(), None)
    assert reply.headers.get("access-control-allow-origin") is None
    assert reply.headers.get("vary") is None


async def test_vary_is_appended_not_replaced(request_for):
    reply = await app(CORSMiddleware([A])).handle(request_for("/varied", headers={"Origin": A}), None)
    assert reply.headers.get("vary") == "Accept-Encoding, Origin"


async def test_star_allows_any_origin_without_vary(request_for):
    reply = await app(CORSMiddleware(["*"])).handle(request_for(headers={"Origin": EVIL}), None)
    assert reply.headers.get("access-control-allow-origin") == "*"
    assert reply.headers.get("vary") is None


async def test_credentials(request_for):
    reply = await app(CORSMiddleware([A], credentials=True)).handle(request_for(headers={"Origin": A}), None)
    assert reply.headers.get("access-control-allow-credentials") == "true"


async def test_origins_from_a_comma_separated_variable(request_for):
    router = app(CORSMiddleware(f"{A}, {B}"))
    reply = await router.handle(request_for(headers={"Origin": B}), None)
    assert reply.headers.get("access-control-allow-origin") == B


async def test_preflight_is_answered_before_later_middleware(request_for):
    reached = []

    async def auth(request, ctx, call_next):
        reached.append("auth")
        raise Unauthorized("no token")

    router = app(CORSMiddleware([A, B], max_age=300), auth)
    reply = await router.handle(preflight(request_for, A), None)
    assert reply.status == 204
    assert await reply.bytes() == b""
    assert reply.headers.get("access-control-allow-origin") == A
    assert "POST" in reply.headers.get("access-control-allow-methods")
    assert "authorization" in reply.headers.get("access-control-allow-headers")
    assert reply.headers.get("access-control-max-age") == "300"
    assert reply.headers.get("vary") == "Origin"
    assert reached == []
    # a real request still goes through auth, and its 401 carries CORS headers the browser needs
    refused = await router.handle(request_for(headers={"Origin": A}), None)
    assert refused.status == 401
    assert refused.headers.get("access-control-allow-origin") == A
    assert reached == ["auth"]


async def test_preflight_from_an_origin_not_allowed_is_refused_without_cors_headers(request_for):
    reply = await app(CORSMiddleware([A])).handle(preflight(request_for, EVIL), None)
    assert reply.status == 403
    assert reply.headers.get("access-control-allow-origin") is None
    assert (await reply.json())["error"]["code"] == "CORS_FORBIDDEN"


async def test_plain_options_is_not_a_preflight(request_for):
    reply = await app(CORSMiddleware([A])).handle(request_for("/x", method="OPTIONS", headers={"Origin": A}), None)
    assert reply.status == 405
    assert reply.headers.get("access-control-allow-origin") == A


@pytest.mark.parametrize(
    ("origins", "kwargs", "message"),
    [
        ([], {}, "at least one origin"),
        ("", {}, "at least one origin"),
        (["https://a.example/"], {}, "trailing slash"),
        (["a.example"], {}, "scheme://host"),
        (["ftp://a.example"], {}, "scheme://host"),
        (["https://a.example, https://b.example"], {}, "scheme://host"),
        (["*"], {"credentials": True}, "credentials"),
        ([A], {"methods": ["GET", "FETCH"]}, "unknown CORS methods"),
        ([A], {"max_age": -1}, "max_age"),
    ],
)
def test_options_are_checked_at_construction(origins, kwargs, message):
    with pytest.raises(ValueError, match=message):
        CORSMiddleware(origins, **kwargs)
