"""Sign-in with WorkOS end to end: /login, /callback (WorkOS mocked with respx), the session that follows."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import respx
from conftest import auth_harness, bearer
from fake_workos import CLIENT_ID, Signer, mock_workos, workos_user
from helpers import new_user

import sso
import store

pytestmark = pytest.mark.asyncio(loop_scope="module")

APP = "https://app.example.com"
SSO_SETTINGS = {"WORKOS_API_KEY": "sk_test_workos_api_key_never_in_logs"}


@pytest.fixture(scope="module")
def signer():
    return Signer()


@pytest.fixture
def sso_auth(tmp_path):
    harness = auth_harness(tmp_path, **SSO_SETTINGS)
    harness.env.WORKOS_CLIENT_ID = CLIENT_ID
    harness.env.AUTH_REDIRECT_ALLOWLIST = f"{APP}, http://localhost:3000"
    sso.clear_jwks_cache()
    return harness


@pytest.fixture
def workos():
    with respx.mock(assert_all_called=False) as router:
        yield router


async def login(auth, redirect_uri=f"{APP}/done"):
    reply = await auth.fetch(f"/login?redirect_uri={redirect_uri}")
    return reply


async def state_of(auth) -> str:
    reply = await login(auth)
    assert reply.status == 302, await reply.text()
    location = urlsplit(reply.headers.get("location"))
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://api.workos.com/user_management/authorize"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == "https://auth.do/callback"
    assert query["response_type"] == "code"
    return query["state"]


async def test_login_then_callback_starts_a_session_without_tokens_in_urls(sso_auth, workos, signer):
    state = await state_of(sso_auth)
    exchange = mock_workos(workos, signer, workos_user("user_01ADA", "ada@example.com"))
    reply = await sso_auth.fetch(f"/callback?code=code_01&state={state}")
    assert reply.status == 302, await reply.text()
    location = reply.headers.get("location")
    assert location == f"{APP}/done"  # no token, no session id in the URL
    cookie = reply.headers.get("set-cookie")
    assert cookie.startswith("dotdo_refresh=rt_")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert exchange.call_count == 1
    sent = json.loads(exchange.calls[0].request.content)
    assert sent["code"] == "code_01"
    assert sent["grant_type"] == "authorization_code"
    assert sent["client_id"] == CLIENT_ID
    refresh_token = cookie.split(";")[0].split("=", 1)[1]
    tokens = await sso_auth.rpc("refresh", refresh_token)
    me = await sso_auth.fetch("/me", headers=bearer(tokens["access_token"]))
    user = (await me.json())["data"]["user"]
    assert (user["email"], user["workos_user_id"], user["role"]) == ("ada@example.com", "user_01ADA", "user")


async def test_a_state_works_once(sso_auth, workos, signer):
    state = await state_of(sso_auth)
    mock_workos(workos, signer, workos_user("user_01ONCE", "once@example.com"))
    assert (await sso_auth.fetch(f"/callback?code=c&state={state}")).status == 302
    again = await sso_auth.fetch(f"/callback?code=c&state={state}")
    assert again.status == 400
    assert (await again.json())["error"]["code"] == "INVALID_STATE"


@pytest.mark.parametrize("state", ["", "unknown-state-value-0123456789abcdef", "x" * 500])
async def test_unknown_state_is_refused_before_workos_is_called(sso_auth, workos, signer, state):
    exchange = mock_workos(workos, signer, workos_user("user_01X", "x@example.com"))
    reply = await sso_auth.fetch(f"/callback?code=c&state={state}")
    assert reply.status == 400
    assert (await reply.json())["error"]["code"] == "INVALID_STATE"
    assert exchange.call_count == 0


async def test_an_expired_state_is_refused(sso_auth, workos, signer):
    state = await state_of(sso_auth)
    found = await store.find(sso_auth.env, "oauth_states", order_by="-created_at", limit=1)
    await store.update(sso_auth.env, "oauth_states", found["items"][0]["id"], {"expires_at": "2020-01-01T00:00:00Z"})
    exchange = mock_workos(workos, signer, workos_user("user_01X", "x@example.com"))
    reply = await sso_auth.fetch(f"/callback?code=c&state={state}")
    assert (await reply.json())["error"]["code"] == "INVALID_STATE"
    assert exchange.call_count == 0


async def test_states_are_stored_hashed(sso_auth):
    state = await state_of(sso_auth)
    found = await store.find(sso_auth.env, "oauth_states", order_by="-created_at", limit=1)
    assert len(found["items"]) == 1
    assert state not in str(found)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.com/done",
        "https://app.example.com.evil.com/",
        "https://app.example.com@evil.com/",
        "javascript:alert(1)",
        "//evil.com",
        "http://app.example.com/",  # http, not https: another origin
        "",
    ],
)
async def test_redirect_uri_must_be_on_the_allowlist(sso_auth, redirect_uri):
    reply = await login(sso_auth, redirect_uri)
    assert reply.status == 400
    assert (await reply.json())["error"]["code"] == "INVALID_REDIRECT_URI"


async def test_an_existing_user_is_linked_by_email(sso_auth, workos, signer):
    existing = await new_user(sso_auth, "viewer", email="grace@example.com")
    state = await state_of(sso_auth)
    mock_workos(workos, signer, workos_user("user_01GRACE", "Grace@Example.com"), organization_id="org_01ACME")
    reply = await sso_auth.fetch(f"/callback?code=c&state={state}")
    assert reply.status == 302
    linked = await store.get(sso_auth.env, "users", existing["id"])
    assert linked["workos_user_id"] == "user_01GRACE"
    orgs = await store.find(sso_auth.env, "organizations", {"workos_org_id": "org_01ACME"})
    assert len(orgs["items"]) == 1
    members = await store.find(sso_auth.env, "memberships", {"user_id": existing["id"]})
    assert [m["org_id"] for m in members["items"]] == [orgs["items"][0]["id"]]


async def test_a_token_workos_did_not_sign_is_refused(sso_auth, workos, signer):
    state = await state_of(sso_auth)
    forger = Signer(kid=signer.kid, bits=1024)
    mock_workos(workos, signer, workos_user("user_01F", "f@example.com"), token=forger.access_token("user_01F"))
    reply = await sso_auth.fetch(f"/callback?code=c&state={state}")
    assert reply.status == 401
    assert (await reply.json())["error"]["code"] == "INVALID_TOKEN"
    assert reply.headers.get("set-cookie") is None


async def test_workos_refusing_the_code_is_a_400_and_the_state_is_spent(sso_auth, workos, signer):
    state = await state_of(sso_auth)
    workos.post("https://api.workos.com/user_management/authenticate").respond(
        400, json={"error": "invalid_grant", "error_description": "The code has expired."}
    )
    reply = await sso_auth.fetch(f"/callback?code=stale&state={state}")
    assert (reply.status, (await reply.json())["error"]["code"]) == (400, "INVALID_CODE")
    again = await sso_auth.fetch(f"/callback?code=stale&state={state}")
    assert (await again.json())["error"]["code"] == "INVALID_STATE"


async def test_provider_error_and_missing_config(sso_auth, tmp_path):
    reply = await sso_auth.fetch("/callback?error=access_denied&error_description=no")
    assert (reply.status, (await reply.json())["error"]["code"]) == (400, "SSO_DENIED")
    unconfigured = auth_harness(tmp_path)  # WORKOS_CLIENT_ID is empty in wrangler.jsonc
    reply = await login(unconfigured)
    assert (reply.status, (await reply.json())["error"]["code"]) == (503, "SSO_NOT_CONFIGURED")
    assert SSO_SETTINGS["WORKOS_API_KEY"] not in await (await login(sso_auth, "https://evil.com")).text()


@pytest.mark.parametrize("path", ["/authorize?redirect_uri=https://evil.com", "/api/apikeys", "/oauth/refresh"])
async def test_the_originals_legacy_routes_are_gone(sso_auth, path):
    # /authorize redirected anywhere without a state; /api/* and /oauth/* were duplicates.
    reply = await sso_auth.fetch(path)
    assert reply.status in (401, 404)
    assert reply.headers.get("location") is None
