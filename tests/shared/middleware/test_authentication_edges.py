"""Authentication at its edges: the length caps to the character, only the Bearer scheme, `prefix/*`
public paths that stop at the slash, keyword-only options.

Written against the mutants that survived `make mutate TARGET=shared/middleware/authentication.py`
(docs/mutation.md).
"""

import json

import pytest

from shared.middleware import AuthenticationMiddleware
from shared.middleware.authentication import PRINCIPAL_HEADER, bearer_token
from shared.routing import Router


def with_authorization(request_for, value):
    return request_for("/x", headers={"authorization": value})


def test_a_bearer_token_of_4096_characters_is_taken_and_one_more_is_not(request_for):
    assert bearer_token(with_authorization(request_for, "Bearer " + "t" * 4096)) == "t" * 4096
    assert bearer_token(with_authorization(request_for, "Bearer " + "t" * 4097)) is None


@pytest.mark.parametrize("scheme", ["Token", "Digest", "Basic", "Bearerx", "Beare"])
def test_only_the_bearer_scheme_carries_a_token(request_for, scheme):
    assert bearer_token(with_authorization(request_for, f"{scheme} abc")) is None
    assert bearer_token(with_authorization(request_for, "bEaReR abc")) == "abc"


class NoAuth:
    """An env whose auth service must not be asked: the forwarded principal is enough, or nothing is."""

    class AUTH_SERVICE:
        @staticmethod
        async def validate_token(token, request_id=None):
            raise AssertionError("auth was asked")


def principal_header_of(length):
    """A well-formed forwarded principal, exactly `length` characters of JSON."""
    shell = json.dumps({"id": "usr_1", "permissions": [], "pad": ""}, separators=(",", ":"))
    return shell[:-2] + "x" * (length - len(shell)) + '"}'


@pytest.fixture
def router():
    r = Router()
    r.use(AuthenticationMiddleware())

    @r.get("/who")
    async def who(request, ctx):
        return {"id": ctx.state["principal_id"]}

    return r


async def test_a_forwarded_principal_of_8192_characters_is_taken_and_one_more_is_not(router, request_for):
    header = principal_header_of(8192)
    assert len(header) == 8192
    reply = await router.handle(request_for("/who", headers={PRINCIPAL_HEADER: header}), NoAuth())
    assert reply.status == 200
    too_long = await router.handle(request_for("/who", headers={PRINCIPAL_HEADER: principal_header_of(8193)}), NoAuth())
    assert too_long.status == 401  # not trusted, and no bearer token either


def test_a_prefix_public_path_covers_what_is_below_it_and_nothing_beside_it():
    middleware = AuthenticationMiddleware(public=("/docs/*",))
    assert middleware.is_public("/docs/")
    assert middleware.is_public("/docs/a/b")
    assert not middleware.is_public("/docsecret")
    assert not middleware.is_public("/docs")


def test_the_middlewares_options_are_keyword_only():
    with pytest.raises(TypeError):
        AuthenticationMiddleware(("/health",))


@pytest.mark.parametrize(
    ("path", "public"),
    [
        ("/hooks/abc", True),
        ("/hooks/abc%2Fdef", True),  # still one segment as the router sees it before decoding
        ("/hooks/a/b", False),
        ("/hooks/", False),
        ("/hooks", False),
        ("/hooksx/abc", False),
        ("/things/ns/id/public", True),
        ("/things/ns/id/private", False),
    ],
)
def test_a_public_route_pattern_opens_one_segment_per_parameter(path, public):
    middleware = AuthenticationMiddleware(public=("/hooks/{id}", "/things/{ns}/{id:path}/public"))
    assert middleware.is_public(path) is public
