"""WorkOS SSO against a mocked WorkOS API (respx): authorization URL, code exchange, access-token checks."""

import base64
import hashlib
import hmac
import json
import time
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import fake_workos
import httpx
import pytest
import respx
from jose import jwt

import sso
from shared.errors import AppError, BadRequest, Unauthorized, UpstreamError
from sso import WorkOSConfig, authenticate_with_code, authorization_url, clear_jwks_cache, verify_access_token

API = "https://api.workos.com"
CLIENT_ID = "client_01HTESTCLIENT"
API_KEY = "sk_test_a1b2c3d4e5f6g7h8i9j0_never_leak"
CONFIG = WorkOSConfig(client_id=CLIENT_ID, api_key=API_KEY)
JWKS_PATH = f"/sso/jwks/{CLIENT_ID}"
AUTH_PATH = "/user_management/authenticate"
USER_ID = "user_01HBEQKA6K4QJAS93VPE39W1JT"
NOW = int(time.time())


# --- keys and tokens -------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


class Signer(fake_workos.Signer):
    """The shared stand-in key pair, signing tokens with the claims of WorkOS's documented example."""

    def token(self, kid: str | None = None, **overrides) -> str:
        return jwt.encode(claims(**overrides), self.pem, algorithm="RS256", headers={"kid": kid or self.kid})


def claims(**overrides) -> dict:
    """Access-token claims shaped like WorkOS's documented example."""
    payload = {
        "iss": "https://api.workos.com",
        "sub": USER_ID,
        "org_id": "org_01HRDMC6CM357W30QMHMQ96Q0S",
        "role": "member",
        "roles": ["member"],
        "permissions": ["posts:read", "posts:write"],
        "sid": "session_01HQSXZGF8FHF7A9ZZFCW4387R",
        "jti": "01HQSXZXPPFPKMDD32RKTFY6PV",
        "iat": NOW,
        "exp": NOW + 300,
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def jwks(*signers: Signer) -> dict:
    return {"keys": [s.jwk for s in signers]}


def auth_response(access_token: str, **overrides) -> dict:
    """`POST /user_management/authenticate` answer, per WorkOS's reference."""
    body = {
        "user": {
            "object": "user",
            "id": USER_ID,
            "email": "marcelina.davis@example.com",
            "first_name": "Marcelina",
            "last_name": "Davis",
            "email_verified": True,
            "profile_picture_url": None,
            "created_at": "2021-06-25T19:07:33.155Z",
            "updated_at": "2021-06-25T19:07:33.155Z",
        },
        "organization_id": "org_01HRDMC6CM357W30QMHMQ96Q0S",
        "access_token": access_token,
        "refresh_token": "yAjhKk123NLIjdrBdGZPf8pLIDvK",
        "authentication_method": "SSO",
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer("sso_oidc_key_pair_01HTEST")


@pytest.fixture(scope="module")
def rotated() -> Signer:
    return Signer("sso_oidc_key_pair_02HTEST", bits=1024)


@pytest.fixture(scope="module")
def stranger() -> Signer:
    """Another key pair, claiming the real kid: WorkOS never published its public key."""
    return Signer("sso_oidc_key_pair_01HTEST", bits=1024)


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_jwks_cache()
    yield
    clear_jwks_cache()


@pytest.fixture
def workos():
    with respx.mock(base_url=API, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def jwks_route(workos, signer):
    return workos.get(JWKS_PATH).mock(return_value=httpx.Response(200, json=jwks(signer)))


async def assert_unauthorized(token: str, code: str = "INVALID_TOKEN", **kwargs) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        await verify_access_token(CONFIG, token, **kwargs)
    assert info.value.status == 401
    assert info.value.code == code
    return info.value


# --- configuration and the authorization URL -------------------------------------------------------


def test_from_env():
    config = WorkOSConfig.from_env(SimpleNamespace(WORKOS_CLIENT_ID=CLIENT_ID, WORKOS_API_KEY=API_KEY))
    assert config == WorkOSConfig(client_id=CLIENT_ID, api_key=API_KEY, api_base=API)
    assert API_KEY not in repr(config)


@pytest.mark.parametrize(
    "env",
    [
        SimpleNamespace(),
        SimpleNamespace(WORKOS_CLIENT_ID=CLIENT_ID),
        SimpleNamespace(WORKOS_API_KEY=API_KEY),
        SimpleNamespace(WORKOS_CLIENT_ID="", WORKOS_API_KEY=API_KEY),
        SimpleNamespace(WORKOS_CLIENT_ID=CLIENT_ID, WORKOS_API_KEY=""),
        SimpleNamespace(WORKOS_CLIENT_ID=None, WORKOS_API_KEY=None),
    ],
)
def test_not_configured(env):
    with pytest.raises(AppError) as info:
        WorkOSConfig.from_env(env)
    assert info.value.status == 503
    assert info.value.code == "SSO_NOT_CONFIGURED"
    assert API_KEY not in f"{info.value.message} {info.value.details}"


def test_authorization_url():
    redirect = "https://auth.do/callback?next=/app&x=a b"
    state = "st+/=&ate with spaces"
    url = authorization_url(CONFIG, redirect_uri=redirect, state=state)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "api.workos.com", "/user_management/authorize")
    query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    assert sorted(query) == sorted(
        [
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("provider", "authkit"),
            ("state", state),
        ]
    )
    assert " " not in url
    assert "&x=" not in url  # the redirect's own query stays inside redirect_uri
    assert API_KEY not in url


def test_authorization_url_other_provider():
    url = authorization_url(CONFIG, redirect_uri="https://a.do/cb", state="s", provider="GoogleOAuth")
    assert dict(parse_qsl(urlsplit(url).query))["provider"] == "GoogleOAuth"


# --- code exchange ---------------------------------------------------------------------------------


async def test_authenticate_with_code(workos, jwks_route, signer):
    route = workos.post(AUTH_PATH).mock(return_value=httpx.Response(200, json=auth_response(signer.token())))
    auth = await authenticate_with_code(CONFIG, "01E2RJ4C05B52KKZ8FSRDAP23J")

    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert json.loads(request.content) == {
        "client_id": CLIENT_ID,
        "client_secret": API_KEY,
        "grant_type": "authorization_code",
        "code": "01E2RJ4C05B52KKZ8FSRDAP23J",
    }
    assert jwks_route.call_count == 1

    assert auth.user["id"] == USER_ID
    assert auth.user["email"] == "marcelina.davis@example.com"
    assert auth.user["first_name"] == "Marcelina"
    assert auth.user["last_name"] == "Davis"
    assert auth.user["email_verified"] is True
    assert auth.organization_id == "org_01HRDMC6CM357W30QMHMQ96Q0S"
    assert auth.refresh_token == "yAjhKk123NLIjdrBdGZPf8pLIDvK"
    assert auth.claims["sub"] == USER_ID
    assert auth.claims["sid"] == "session_01HQSXZGF8FHF7A9ZZFCW4387R"
    assert auth.claims["permissions"] == ["posts:read", "posts:write"]
    assert auth.access_token not in repr(auth)


async def test_authenticate_without_organization(workos, jwks_route, signer):
    body = auth_response(signer.token(org_id=None), organization_id=None)
    workos.post(AUTH_PATH).mock(return_value=httpx.Response(200, json=body))
    auth = await authenticate_with_code(CONFIG, "code")
    assert auth.organization_id is None
    assert "org_id" not in auth.claims


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_code_refused(workos, jwks_route, status):
    error = {"error": "invalid_grant", "error_description": "The code '01E2' has expired or is invalid."}
    workos.post(AUTH_PATH).mock(return_value=httpx.Response(status, json=error))
    with pytest.raises(BadRequest) as info:
        await authenticate_with_code(CONFIG, "01E2")
    assert info.value.status == 400
    assert info.value.code == "INVALID_CODE"
    assert jwks_route.call_count == 0


@pytest.mark.parametrize("code", ["", "   ", "x" * 5000])
async def test_blank_or_huge_code_is_refused_without_calling(workos, code):
    route = workos.post(AUTH_PATH).mock(return_value=httpx.Response(500))
    with pytest.raises(BadRequest) as info:
        await authenticate_with_code(CONFIG, code)
    assert info.value.code == "INVALID_CODE"
    assert route.call_count == 0


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, json={"message": "Internal error"}),
        httpx.Response(503, text="upstream down"),
        httpx.Response(401, json={"message": "Unauthorized"}),  # our API key refused: not the user's code
        httpx.Response(429, json={"message": "Too many requests"}),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"user": {"email": "no-id@example.com"}, "access_token": "x.y.z"}),
        httpx.Response(200, json={"user": {"id": USER_ID}}),
        httpx.Response(200, json={"user": {"id": USER_ID}, "access_token": 42}),
    ],
)
async def test_upstream_failures(workos, jwks_route, response):
    workos.post(AUTH_PATH).mock(return_value=response)
    with pytest.raises(UpstreamError) as info:
        await authenticate_with_code(CONFIG, "code")
    assert info.value.status == 502
    assert info.value.code == "SSO_UPSTREAM_ERROR"
    assert API_KEY not in f"{info.value.message} {info.value.details}"


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ConnectTimeout("x")])
async def test_transport_errors(workos, error):
    workos.post(AUTH_PATH).mock(side_effect=error)
    with pytest.raises(UpstreamError) as info:
        await authenticate_with_code(CONFIG, "code")
    assert info.value.status == 502
    assert info.value.code == "SSO_UPSTREAM_ERROR"


async def test_access_token_signed_by_another_key(workos, jwks_route, stranger):
    workos.post(AUTH_PATH).mock(return_value=httpx.Response(200, json=auth_response(stranger.token())))
    with pytest.raises(Unauthorized) as info:
        await authenticate_with_code(CONFIG, "code")
    assert (info.value.status, info.value.code) == (401, "INVALID_TOKEN")


async def test_expired_access_token(workos, jwks_route, signer):
    token = signer.token(iat=NOW - 7200, exp=NOW - 3600)
    workos.post(AUTH_PATH).mock(return_value=httpx.Response(200, json=auth_response(token)))
    with pytest.raises(Unauthorized) as info:
        await authenticate_with_code(CONFIG, "code")
    assert (info.value.status, info.value.code) == (401, "TOKEN_EXPIRED")


async def test_access_token_of_another_user(workos, jwks_route, signer):
    token = signer.token(sub="user_01HSOMEONEELSE")
    workos.post(AUTH_PATH).mock(return_value=httpx.Response(200, json=auth_response(token)))
    with pytest.raises(Unauthorized) as info:
        await authenticate_with_code(CONFIG, "code")
    assert (info.value.status, info.value.code) == (401, "INVALID_TOKEN")


async def test_alg_none_access_token_in_exchange(workos, jwks_route, signer):
    token = f"{b64url_json({'alg': 'none', 'typ': 'JWT', 'kid': signer.kid})}.{b64url_json(claims())}."
    workos.post(AUTH_PATH).mock(return_value=httpx.Response(200, json=auth_response(token)))
    with pytest.raises(Unauthorized) as info:
        await authenticate_with_code(CONFIG, "code")
    assert info.value.code == "INVALID_TOKEN"


# --- access-token verification ---------------------------------------------------------------------


async def test_verify_access_token(jwks_route, signer):
    got = await verify_access_token(CONFIG, signer.token())
    assert got == claims()


async def test_expiry_uses_now(jwks_route, signer):
    token = signer.token(iat=NOW, exp=NOW + 300)
    assert (await verify_access_token(CONFIG, token, now=NOW + 300 + sso.LEEWAY - 1))["sub"] == USER_ID
    await assert_unauthorized(token, "TOKEN_EXPIRED", now=NOW + 300 + sso.LEEWAY)


async def test_not_yet_valid(jwks_route, signer):
    await assert_unauthorized(signer.token(iat=NOW + 3600, exp=NOW + 7200), now=NOW)
    await assert_unauthorized(signer.token(nbf=NOW + 3600, exp=NOW + 7200), now=NOW)


@pytest.mark.parametrize("missing", ["exp", "sub"])
async def test_required_claims(jwks_route, signer, missing):
    await assert_unauthorized(signer.token(**{missing: None}))


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none(jwks_route, signer, alg):
    token = f"{b64url_json({'alg': alg, 'typ': 'JWT', 'kid': signer.kid})}.{b64url_json(claims())}."
    await assert_unauthorized(token)
    # A real RS256 signature pasted under an `alg: none` header does not help either.
    signature = signer.token().split(".")[2]
    await assert_unauthorized(token + signature)


@pytest.mark.parametrize(
    "secret",
    [
        lambda s: s.public.save_pkcs1(),  # PEM "RSA PUBLIC KEY"
        lambda s: s.public.save_pkcs1("DER"),
        lambda s: json.dumps(s.jwk).encode(),
        lambda s: s.jwk["n"].encode(),
    ],
)
async def test_alg_confusion_hs256_with_public_key(jwks_route, signer, secret):
    """The classic attack: sign HS256 using the published public key material as the HMAC secret."""
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': signer.kid})}.{b64url_json(claims())}"
    mac = hmac.new(secret(signer), signing_input.encode(), hashlib.sha256).digest()
    await assert_unauthorized(f"{signing_input}.{b64url(mac)}")


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES256", "HS256", "rs256"])
async def test_other_algorithms_refused(jwks_route, signer, alg):
    _, payload, signature = signer.token().split(".")
    await assert_unauthorized(f"{b64url_json({'alg': alg, 'typ': 'JWT', 'kid': signer.kid})}.{payload}.{signature}")


async def test_rs512_signed_token_refused(jwks_route, signer):
    await assert_unauthorized(jwt.encode(claims(), signer.pem, algorithm="RS512", headers={"kid": signer.kid}))


async def test_tampered_claims(jwks_route, signer):
    header, _, signature = signer.token().split(".")
    await assert_unauthorized(f"{header}.{b64url_json(claims(sub='user_01HADMIN'))}.{signature}")


@pytest.mark.parametrize("token", ["", "a.b", "x.y.z", "a.b.c.d", "x" * 100_000])
async def test_garbage_tokens(workos, token):
    route = workos.get(JWKS_PATH).mock(return_value=httpx.Response(200, json={"keys": []}))
    await assert_unauthorized(token)
    assert route.call_count == 0


async def test_missing_kid(jwks_route, signer):
    token = jwt.encode(claims(), signer.pem, algorithm="RS256")
    await assert_unauthorized(token)


async def test_jwks_is_cached(jwks_route, signer):
    await verify_access_token(CONFIG, signer.token())
    await verify_access_token(CONFIG, signer.token(sid="session_2"))
    assert jwks_route.call_count == 1


async def test_jwks_cache_expires(jwks_route, signer, monkeypatch):
    await verify_access_token(CONFIG, signer.token())
    real_time = time.time
    monkeypatch.setattr(sso.time, "time", lambda: real_time() + sso.JWKS_TTL + 1)
    await verify_access_token(CONFIG, signer.token(), now=NOW)
    assert jwks_route.call_count == 2


async def test_unknown_kid_refetches_once_and_succeeds(workos, signer, rotated):
    route = workos.get(JWKS_PATH).mock(
        side_effect=[httpx.Response(200, json=jwks(signer)), httpx.Response(200, json=jwks(signer, rotated))]
    )
    await verify_access_token(CONFIG, signer.token())
    assert route.call_count == 1
    got = await verify_access_token(CONFIG, rotated.token())
    assert got["sub"] == USER_ID
    assert route.call_count == 2
    # The refreshed set is cached: both keys now verify without another fetch.
    await verify_access_token(CONFIG, rotated.token())
    await verify_access_token(CONFIG, signer.token())
    assert route.call_count == 2


async def test_unknown_kid_refetches_once_and_fails(workos, signer, rotated):
    route = workos.get(JWKS_PATH).mock(return_value=httpx.Response(200, json=jwks(signer)))
    await verify_access_token(CONFIG, signer.token())
    assert route.call_count == 1
    await assert_unauthorized(rotated.token())
    assert route.call_count == 2


async def test_unknown_kid_on_first_fetch_does_not_fetch_twice(workos, signer, rotated):
    route = workos.get(JWKS_PATH).mock(return_value=httpx.Response(200, json=jwks(signer)))
    await assert_unauthorized(rotated.token())
    assert route.call_count == 1


async def test_stranger_key_with_known_kid(jwks_route, stranger):
    await assert_unauthorized(stranger.token())


async def test_jwk_that_is_not_rsa_is_ignored(workos, signer):
    bogus = {"kty": "oct", "kid": signer.kid, "k": b64url(signer.public.save_pkcs1()), "alg": "HS256"}
    workos.get(JWKS_PATH).mock(return_value=httpx.Response(200, json={"keys": [bogus]}))
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': signer.kid})}.{b64url_json(claims())}"
    mac = hmac.new(signer.public.save_pkcs1(), signing_input.encode(), hashlib.sha256).digest()
    await assert_unauthorized(f"{signing_input}.{b64url(mac)}")
    await assert_unauthorized(signer.token())


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500),
        httpx.Response(404, json={"message": "Not found"}),
        httpx.Response(200, text="nope"),
        httpx.Response(200, json={"no_keys": []}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
async def test_jwks_unavailable(workos, signer, response):
    route = workos.get(JWKS_PATH)
    if isinstance(response, Exception):
        route.mock(side_effect=response)
    else:
        route.mock(return_value=response)
    with pytest.raises(UpstreamError) as info:
        await verify_access_token(CONFIG, signer.token())
    assert info.value.status == 502
    assert info.value.code == "SSO_UPSTREAM_ERROR"


@pytest.mark.parametrize(
    "exp", [float("inf"), float("nan"), 10**400, "9999999999", NOW + 10**9], ids=["inf", "nan", "1e400", "str", "far"]
)
async def test_exp_infinite_huge_or_not_a_number_is_refused(jwks_route, signer, exp):
    # Properly signed by WorkOS's key: only `exp` is wrong.
    await assert_unauthorized(signer.token(exp=exp))


async def test_a_good_token_over_the_length_cap_is_refused(workos, jwks_route, signer):
    fits = signer.token(pad="x" * (sso.MAX_TOKEN_LENGTH * 3 // 4 - 1000))
    assert len(fits) <= sso.MAX_TOKEN_LENGTH
    assert (await verify_access_token(CONFIG, fits))["sub"] == USER_ID  # the control
    too_long = signer.token(pad="x" * (sso.MAX_TOKEN_LENGTH * 3 // 4))
    assert len(too_long) > sso.MAX_TOKEN_LENGTH
    await assert_unauthorized(too_long)


@pytest.mark.parametrize("alg", ["HS256", "none", "RS512", "PS256"])
async def test_a_token_of_another_algorithm_is_refused_before_the_jwks_is_fetched(jwks_route, signer, alg):
    _, payload, signature = signer.token().split(".")
    await assert_unauthorized(f"{b64url_json({'alg': alg, 'typ': 'JWT', 'kid': signer.kid})}.{payload}.{signature}")
    assert jwks_route.call_count == 0
