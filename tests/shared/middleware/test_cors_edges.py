"""CORS at its edges: what is and is not a preflight, max-age to the second, every origin checked.

Written against the mutants that survived `make mutate TARGET=shared/middleware/cors.py` (docs/mutation.md).
"""

import pytest

from shared.middleware import CORSMiddleware
from shared.routing import Router

A = "https://a.example"


def app(middleware):
    r = Router()
    r.use(middleware)

    @r.get("/x")
    async def ok(request, ctx):
        return {"ok": True}

    return r


def preflight(request_for, method="OPTIONS"):
    return request_for("/x", method=method, headers={"Origin": A, "Access-Control-Request-Method": "POST"})


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
async def test_only_an_options_request_is_a_preflight(request_for, method):
    reply = await app(CORSMiddleware([A])).handle(preflight(request_for, method), None)
    assert reply.status != 204
    assert reply.headers.get("access-control-max-age") is None
    if method == "GET":
        assert (await reply.json())["data"] == {"ok": True}


async def test_a_preflight_says_600_seconds_unless_told_otherwise(request_for):
    reply = await app(CORSMiddleware([A])).handle(preflight(request_for), None)
    assert reply.status == 204
    assert reply.headers.get("access-control-max-age") == "600"


@pytest.mark.parametrize("max_age", [0, 1, 86_399, 86_400])
async def test_max_age_may_be_0_to_86400_seconds(request_for, max_age):
    reply = await app(CORSMiddleware([A], max_age=max_age)).handle(preflight(request_for), None)
    assert reply.headers.get("access-control-max-age") == str(max_age)


def test_max_age_above_a_day_is_refused():
    with pytest.raises(ValueError, match="max_age"):
        CORSMiddleware([A], max_age=86_401)


@pytest.mark.parametrize(
    "origins",
    [
        '"https://a.example"',  # quoted in a CORS_ORIGINS variable: '"' sorts before '*'
        ["*", "a.example"],  # an origin after the wildcard is still checked
        ["*", "https://b.example/"],
    ],
)
def test_every_origin_but_the_wildcard_itself_is_checked(origins):
    with pytest.raises(ValueError, match="invalid CORS origin"):
        CORSMiddleware(origins)


def test_the_options_are_keyword_only():
    with pytest.raises(TypeError):
        CORSMiddleware([A], ["GET"])
