"""Sessions: JWT access tokens that end with their session, refresh tokens that rotate and catch reuse."""

import asyncio
import base64
import hashlib
import hmac
import json
import time

import pytest
from conftest import BOOTSTRAP_KEY, SECRETS, auth_harness, bearer
from helpers import new_user

import sessions
import store
import tokens
from shared.errors import from_rpc_exception
from shared.principals import service_principal

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
async def session(auth):
    """A fresh user (role user) and the tokens of a new session of theirs."""
    user = await new_user(auth, "user")
    return user, await sessions.create_session(auth.env, user)


async def error_of(auth, method, *args):
    with pytest.raises(Exception, match="dotdo-error") as info:
        await auth.rpc(method, *args)
    err = from_rpc_exception(info.value)
    return err.status, err.code


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_access_token_names_the_user_and_their_role_permissions(auth, session):
    user, issued = session
    principal = await auth.rpc("validate_token", issued["access_token"])
    assert principal["id"] == user["id"]
    assert principal["auth"] == "session"
    assert principal["session_id"] == issued["session_id"]
    assert "db:write" in principal["permissions"]
    me = await auth.fetch("/me", headers=bearer(issued["access_token"]))
    assert me.status == 200
    assert (await me.json())["data"]["user"]["id"] == user["id"]
    assert issued["expires_in"] == 3600


async def test_tampered_token_is_refused(auth, session):
    _, issued = session
    header, payload, signature = issued["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"], claims["permissions"] = "admin", ["*"]
    forged = f"{header}.{b64(claims)}.{signature}"
    assert await error_of(auth, "validate_token", forged) == (401, "INVALID_TOKEN")
    reply = await auth.fetch("/me", headers=bearer(forged))
    assert reply.status == 401
    assert "invalid_token" in reply.headers.get("www-authenticate")


async def test_alg_none_token_is_refused(auth, session):
    _user, issued = session
    claims = json.loads(base64.urlsafe_b64decode(issued["access_token"].split(".")[1] + "=="))
    for alg in ("none", "None", "NONE"):
        unsigned = f"{b64({'alg': alg, 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims)}."
        assert await error_of(auth, "validate_token", unsigned) == (401, "INVALID_TOKEN")


def _issue(ttl=3600, now=None, audience="dotdo", issuer="https://auth.do", secret=SECRETS["JWT_SECRET"], **claims):
    keys = tokens.SigningKeys(current_kid="k1", keys={"k1": secret})
    return tokens.issue_access_token(
        keys,
        subject=claims.pop("sub"),
        session_id=claims.pop("sid"),
        issuer=issuer,
        audience=audience,
        claims=claims,
        ttl=ttl,
        now=now,
    )


async def test_expired_wrong_audience_wrong_issuer_and_foreign_key_are_refused(auth, session):
    user, issued = session
    ids = {"sub": user["id"], "sid": issued["session_id"]}
    assert (await auth.rpc("validate_token", _issue(**ids)))["id"] == user["id"]  # the control: same claims, valid
    import time

    assert await error_of(auth, "validate_token", _issue(ttl=60, now=time.time() - 3600, **ids)) == (
        401,
        "TOKEN_EXPIRED",
    )
    assert await error_of(auth, "validate_token", _issue(audience="other", **ids)) == (401, "INVALID_TOKEN")
    assert await error_of(auth, "validate_token", _issue(issuer="https://evil", **ids)) == (401, "INVALID_TOKEN")
    foreign = _issue(secret="another-secret-of-the-right-length-0123456789", **ids)
    assert await error_of(auth, "validate_token", foreign) == (401, "INVALID_TOKEN")


async def test_validate_token_caps_the_length_of_a_good_token(auth, session):
    user, issued = session
    ids = {"sub": user["id"], "sid": issued["session_id"]}
    fits = _issue(pad="x" * 2000, **ids)
    assert len(fits) < 4096
    assert (await auth.rpc("validate_token", fits))["id"] == user["id"]  # the control
    too_long = _issue(pad="x" * 3500, **ids)  # valid, and within tokens.MAX_TOKEN_LENGTH
    assert 4096 < len(too_long) <= tokens.MAX_TOKEN_LENGTH
    assert await error_of(auth, "validate_token", too_long) == (401, "INVALID_TOKEN")
    reply = await auth.fetch("/me", headers=bearer(too_long))
    assert reply.status == 401


async def test_a_token_with_a_huge_or_infinite_exp_is_refused(auth, session):
    user, issued = session
    secret = SECRETS["JWT_SECRET"].encode()

    def signed(exp) -> str:
        header = b64({"alg": "HS256", "typ": "JWT", "kid": "k1"})
        claims = {"iss": "https://auth.do", "aud": "dotdo", "sub": user["id"], "sid": issued["session_id"]}
        now = int(time.time())
        body = b64(claims | {"iat": now, "nbf": now, "exp": exp})
        signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}." + base64.urlsafe_b64encode(signature).decode().rstrip("=")

    assert (await auth.rpc("validate_token", signed(int(time.time()) + 600)))["id"] == user["id"]  # the control
    for exp in (float("inf"), 10**400, int(time.time()) + 10**9, "9999999999", None):
        assert await error_of(auth, "validate_token", signed(exp)) == (401, "INVALID_TOKEN"), exp


async def test_refresh_rotates_and_reuse_revokes_the_family(auth, session):
    _, first = session
    second = await auth.rpc("refresh", first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_id"] == first["session_id"]
    assert (await auth.rpc("validate_token", second["access_token"]))["session_id"] == first["session_id"]
    # the first refresh token again: stolen -> the whole session ends
    assert await error_of(auth, "refresh", first["refresh_token"]) == (401, "REFRESH_TOKEN_REUSED")
    assert await error_of(auth, "refresh", second["refresh_token"]) == (401, "INVALID_REFRESH_TOKEN")
    assert await error_of(auth, "validate_token", second["access_token"]) == (401, "SESSION_REVOKED")
    assert await error_of(auth, "validate_token", first["access_token"]) == (401, "SESSION_REVOKED")


async def test_concurrent_use_of_one_refresh_token_lets_one_win_and_ends_the_session(auth, session):
    _, issued = session
    results = await asyncio.gather(
        *(auth.rpc("refresh", issued["refresh_token"]) for _ in range(5)), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    codes = {from_rpc_exception(r).code for r in results if isinstance(r, BaseException)}
    assert codes <= {"REFRESH_TOKEN_REUSED", "INVALID_REFRESH_TOKEN"}
    assert await error_of(auth, "refresh", winners[0]["refresh_token"]) == (401, "INVALID_REFRESH_TOKEN")


@pytest.mark.parametrize("token", ["", "garbage", "rt_x.y", "rt_0mwye3v4k0ut5i5k3tbtsianw.AAAA", "a.b.c", None, 5])
async def test_malformed_or_unknown_refresh_tokens_are_refused(auth, token):
    assert await error_of(auth, "refresh", token) == (401, "INVALID_REFRESH_TOKEN")


async def test_right_id_wrong_secret_does_not_burn_the_token(auth, session):
    _, issued = session
    record_id = issued["refresh_token"].split(".")[0]
    assert await error_of(auth, "refresh", f"{record_id}.wrong") == (401, "INVALID_REFRESH_TOKEN")
    assert (await auth.rpc("refresh", issued["refresh_token"]))["session_id"] == issued["session_id"]


async def test_expired_refresh_token_is_refused(auth, session):
    _, issued = session
    record_id = issued["refresh_token"].split(".")[0]
    await store.update(auth.env, "refresh_tokens", record_id, {"expires_at": "2020-01-01T00:00:00.000Z"})
    assert await error_of(auth, "refresh", issued["refresh_token"]) == (401, "INVALID_REFRESH_TOKEN")


async def test_logout_over_http_ends_the_session_at_once(auth, session):
    _, issued = session
    reply = await auth.fetch("/logout", method="POST", headers=bearer(issued["access_token"]))
    assert reply.status == 200
    assert (await reply.json())["data"] == {"logged_out": True}
    assert "Max-Age=0" in reply.headers.get("set-cookie")
    assert (await auth.fetch("/me", headers=bearer(issued["access_token"]))).status == 401
    assert await error_of(auth, "refresh", issued["refresh_token"]) == (401, "INVALID_REFRESH_TOKEN")


async def test_refresh_and_logout_with_the_cookie(auth, session):
    _, issued = session
    cookie = {"cookie": f"dotdo_refresh={issued['refresh_token']}", "content-type": "application/json"}
    reply = await auth.fetch("/refresh", method="POST", body="{}", headers=cookie)
    assert reply.status == 200, await reply.text()
    data = (await reply.json())["data"]
    assert "refresh_token" not in data  # it stays in the HttpOnly cookie
    set_cookie = reply.headers.get("set-cookie")
    assert "HttpOnly" in set_cookie
    assert "Secure" in set_cookie
    rotated = set_cookie.split(";")[0].split("=", 1)[1]
    assert rotated != issued["refresh_token"]
    assert (await auth.rpc("validate_token", data["access_token"]))["session_id"] == issued["session_id"]
    out = await auth.fetch("/logout", method="POST", headers={"cookie": f"dotdo_refresh={rotated}"})
    assert (await out.json())["data"] == {"logged_out": True}
    assert await error_of(auth, "validate_token", data["access_token"]) == (401, "SESSION_REVOKED")


async def test_refresh_needs_a_json_body(auth, session):
    # a form post could come cross-site from any page without a preflight: refused
    _, issued = session
    form = {"cookie": f"dotdo_refresh={issued['refresh_token']}", "content-type": "application/x-www-form-urlencoded"}
    reply = await auth.fetch("/refresh", method="POST", body="{}", headers=form)
    assert reply.status == 415


async def test_role_change_ends_sessions(auth, session):
    user, issued = session
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    assert (await auth.rpc("set_user_role", admin, user["id"], "viewer"))["role"] == "viewer"
    assert await error_of(auth, "validate_token", issued["access_token"]) == (401, "SESSION_REVOKED")
    fresh = await sessions.create_session(auth.env, await store.get(auth.env, "users", user["id"]))
    principal = await auth.rpc("validate_token", fresh["access_token"])
    assert "db:write" not in principal["permissions"]


async def test_tokens_survive_signing_key_rotation(tmp_path, session):
    user, issued = session
    rotated = auth_harness(
        tmp_path,
        JWT_SECRET="the-new-jwt-secret-0123456789abcdef0123456789",
        JWT_PREVIOUS_KEYS=f"k1:{SECRETS['JWT_SECRET']}",
    )
    rotated.env.JWT_KEY_ID = "k2"
    assert (await rotated.rpc("validate_token", issued["access_token"]))["id"] == user["id"]
    without_old = auth_harness(tmp_path, JWT_SECRET="the-new-jwt-secret-0123456789abcdef0123456789")
    without_old.env.JWT_KEY_ID = "k2"
    assert await error_of(without_old, "validate_token", issued["access_token"]) == (401, "INVALID_TOKEN")


async def test_refresh_tokens_are_stored_only_as_keyed_hashes(auth, session):
    _, issued = session
    record_id, secret = issued["refresh_token"].split(".")
    stored = await store.get(auth.env, "refresh_tokens", record_id)
    assert secret not in str(stored)
    assert issued["access_token"] not in str(stored)
    sessions_row = await store.get(auth.env, "sessions", issued["session_id"])
    assert issued["access_token"] not in str(sessions_row)  # access tokens are not stored at all


async def test_a_user_lists_and_ends_their_own_sessions(auth, session):
    user, issued = session
    other = await sessions.create_session(auth.env, user)
    listed = await auth.fetch("/sessions", headers=bearer(issued["access_token"]))
    ids = [s["id"] for s in (await listed.json())["data"]]
    assert ids == [other["session_id"], issued["session_id"]]
    assert (
        issued["refresh_token"].split(".")[1]
        not in await (await auth.fetch("/sessions", headers=bearer(issued["access_token"]))).text()
    )
    ended = await auth.fetch(
        f"/sessions/{other['session_id']}", method="DELETE", headers=bearer(issued["access_token"])
    )
    assert (await ended.json())["data"] == {"id": other["session_id"], "revoked": True}
    assert await error_of(auth, "validate_token", other["access_token"]) == (401, "SESSION_REVOKED")
    stranger = await new_user(auth)
    stranger_tokens = await sessions.create_session(auth.env, stranger)
    foreign = await auth.fetch(
        f"/sessions/{issued['session_id']}", method="DELETE", headers=bearer(stranger_tokens["access_token"])
    )
    assert foreign.status == 404
    assert (await auth.rpc("validate_token", issued["access_token"]))["id"] == user["id"]


async def test_the_schedule_services_hourly_housekeeping_removes_what_can_no_longer_be_used(auth, session):
    _, issued = session
    env = auth.env
    old = await store.insert(env, "oauth_states", {"redirect_uri": "https://x", "expires_at": "2020-01-01T00:00:00Z"})
    live_state = await store.insert(
        env, "oauth_states", {"redirect_uri": "https://x", "expires_at": "2099-01-01T00:00:00Z"}
    )
    dead_token = await store.insert(
        env, "refresh_tokens", {"session_id": "ses_gone", "token_hash": "h", "expires_at": "2020-01-01T00:00:00Z"}
    )
    ended = await store.insert(env, "sessions", {"user_id": "usr_gone", "expires_at": "2020-01-01T00:00:00Z"})
    schedule = service_principal("schedule", permissions=["auth:maintain"])
    await auth.rpc("remove_expired", schedule, {"scope": "sessions"})  # what its auth-expire-sessions task calls
    assert await store.get(env, "oauth_states", old["id"]) is None
    assert await store.get(env, "refresh_tokens", dead_token["id"]) is None
    assert await store.get(env, "sessions", ended["id"]) is None
    assert await store.get(env, "oauth_states", live_state["id"]) is not None
    assert (await auth.rpc("refresh", issued["refresh_token"]))["session_id"] == issued["session_id"]  # live ones stay


async def test_check_permission_refuses_a_session_that_has_expired(auth, session):
    _, issued = session
    principal = await auth.rpc("validate_token", issued["access_token"])
    assert (await auth.rpc("check_permission", principal, "db:read"))["allowed"] is True
    await store.update(auth.env, "sessions", issued["session_id"], {"expires_at": "2020-01-01T00:00:00Z"})
    assert (await auth.rpc("check_permission", principal, "db:read"))["allowed"] is False
