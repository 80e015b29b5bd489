"""Sign-in with WorkOS (AuthKit / SSO): `/login` sends the browser to WorkOS, `/callback` comes back.

1. `start_login(redirect_uri)`: the app's `redirect_uri` must be on `AUTH_REDIRECT_ALLOWLIST`
   (exact origins); a one-time `state` (32 random bytes) is stored, hashed, for 10 minutes with it.
2. `finish_login(code, state)`: the state is used up (compare-and-set: a reused, unknown or expired
   state is 400 `INVALID_STATE`), the code is exchanged with WorkOS and the access token WorkOS
   returns is verified against WorkOS's JWKS (`sso.py`); the user is found or created and linked;
   a session starts.

Tokens never travel in a URL: the refresh token goes into an HttpOnly cookie on the redirect,
and the app gets its access token from `POST /refresh` (JSON, with that cookie).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import hashing
import sessions
import sso
import store
import users
from shared.clock import iso_in, now_iso
from shared.errors import BadRequest
from shared.settings import setting

STATE_TTL = 600


def allowed_origins(env: Any) -> set[str]:
    raw = setting(env, "AUTH_REDIRECT_ALLOWLIST") or ""
    return {o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip()}


def check_redirect(env: Any, redirect_uri: Any) -> str:
    """`redirect_uri` if its origin is allowed (http(s), no credentials), else 400 `INVALID_REDIRECT_URI`."""
    if isinstance(redirect_uri, str) and len(redirect_uri) <= 2000 and not any(c in redirect_uri for c in "\r\n\\"):
        parts = urlsplit(redirect_uri)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        plain = parts.scheme in ("http", "https") and parts.hostname and "@" not in parts.netloc
        if plain and origin in allowed_origins(env):
            return redirect_uri
    raise BadRequest("redirect_uri is not on the allowlist", code="INVALID_REDIRECT_URI")


def _state_id(env: Any, state: str) -> str:
    return "st_" + hashing.keyed_hash(env, state)[:48]


async def start_login(env: Any, redirect_uri: Any) -> str:
    """The WorkOS authorization URL to send the browser to."""
    config = sso.WorkOSConfig.from_env(env)
    target = check_redirect(env, redirect_uri)
    state = secrets.token_urlsafe(32)
    await store.insert(
        env, "oauth_states", {"id": _state_id(env, state), "redirect_uri": target, "expires_at": iso_in(STATE_TTL)}
    )
    callback = setting(env, "AUTH_CALLBACK_URL") or "https://auth.do/callback"
    return sso.authorization_url(config, redirect_uri=callback, state=state)


async def consume_state(env: Any, state: Any) -> str:
    """The redirect_uri stored with a one-time `state`, which is used up; 400 `INVALID_STATE` otherwise."""
    if not isinstance(state, str) or not 20 <= len(state) <= 200:
        raise BadRequest("Unknown, used or expired sign-in state", code="INVALID_STATE")
    state_id = _state_id(env, state)
    now = now_iso()
    where = [{"field": "used_at", "value": None}, {"field": "expires_at", "operator": "gt", "value": now}]
    record = await store.update(env, "oauth_states", state_id, {"used_at": now}, where=where)
    if record is None:
        raise BadRequest("Unknown, used or expired sign-in state", code="INVALID_STATE")
    return record["redirect_uri"]


async def finish_login(
    env: Any, code: Any, state: Any, *, ip: str | None = None, user_agent: str | None = None
) -> tuple[str, dict[str, Any]]:
    """(where to send the browser, the new session's tokens)."""
    sso.WorkOSConfig.from_env(env)  # not configured: 503 before the state is used up
    redirect_uri = await consume_state(env, state)
    if not isinstance(code, str) or not 1 <= len(code) <= 512:
        raise BadRequest("The sign-in code is missing", code="INVALID_CODE")
    result = await sso.authenticate(env, code)
    user = await users.find_or_create_sso_user(env, result.user)
    org_id = None
    if result.organization_id:
        org = await users.find_or_create_org(env, result.organization_id)
        org_id = org["id"]
        await users.ensure_membership(env, user["id"], org_id, result.claims.get("role"))
    issued = await sessions.create_session(env, user, org_id=org_id, ip=ip, user_agent=user_agent)
    return redirect_uri, issued
