"""Sessions: a JWT access token (1 hour) and a refresh token (30 days) that rotates on every use.

    tokens = await create_session(env, user)        # {"access_token", "refresh_token", "expires_in", ...}
    tokens = await refresh(env, tokens["refresh_token"])

Every refresh token is single-use: using it marks it used (compare-and-set, so two concurrent
uses cannot both win) and issues the next one in the same session. Presenting a used token again
means it was copied: the whole session (the token family) is revoked, so the thief's newer token
dies too. Access tokens name their session (`sid`) and are refused once it is revoked (logout
takes effect at once, not at expiry). Refresh tokens are stored only as keyed hashes.
"""

from __future__ import annotations

import secrets
from typing import Any

import hashing
import store
import tokens
import users
from revocation import revoke_session
from shared.clock import is_past, iso_in, now_iso
from shared.errors import NotFound, Unauthorized
from shared.logs import log
from shared.settings import setting

ACCESS_TTL = 3600
REFRESH_TTL = 30 * 86400


def _jwt_settings(env: Any) -> tuple[tokens.SigningKeys, str, str]:
    issuer = setting(env, "JWT_ISSUER") or "https://auth.do"
    audience = setting(env, "JWT_AUDIENCE") or "dotdo"
    return tokens.SigningKeys.from_env(env), issuer, audience


def _refused(code: str = "INVALID_REFRESH_TOKEN", message: str = "Invalid or expired refresh token") -> Unauthorized:
    return Unauthorized(message, code=code)


async def _new_refresh_token(env: Any, session_id: str) -> str:
    secret = secrets.token_urlsafe(32)
    record = await store.insert(
        env,
        "refresh_tokens",
        {"session_id": session_id, "token_hash": hashing.keyed_hash(env, secret), "expires_at": iso_in(REFRESH_TTL)},
    )
    return f"{record['id']}.{secret}"


async def _tokens(env: Any, user: dict[str, Any], session: dict[str, Any], refresh_token: str) -> dict[str, Any]:
    keys, issuer, audience = _jwt_settings(env)
    permissions = await users.effective_permissions(env, user, session.get("org_id"))
    claims = {"role": user.get("role"), "org_id": session.get("org_id"), "permissions": permissions}
    access = tokens.issue_access_token(
        keys,
        subject=user["id"],
        session_id=session["id"],
        issuer=issuer,
        audience=audience,
        claims=claims,
        ttl=ACCESS_TTL,
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh_token,
        "refresh_expires_in": REFRESH_TTL,
        "session_id": session["id"],
    }


async def create_session(
    env: Any, user: dict[str, Any], *, org_id: str | None = None, ip: str | None = None, user_agent: str | None = None
) -> dict[str, Any]:
    """Start a session for `user`: its first access and refresh tokens."""
    if user.get("disabled_at"):
        raise Unauthorized("This user is disabled", code="USER_DISABLED")
    values = {
        "user_id": user["id"],
        "org_id": org_id,
        "expires_at": iso_in(REFRESH_TTL),
        "ip": ip,
        "user_agent": (user_agent or "")[:300] or None,
    }
    session = await store.insert(env, "sessions", values)
    return await _tokens(env, user, session, await _new_refresh_token(env, session["id"]))


async def live_session(env: Any, session_id: str) -> dict[str, Any] | None:
    """The session, if it is neither revoked nor expired."""
    session = await store.get(env, "sessions", session_id)
    if session is None or session["revoked_at"] is not None or is_past(session["expires_at"]):
        return None
    return session


def parse_refresh_token(value: Any) -> tuple[str, str] | None:
    """(record id, secret) of a refresh token, or None if it cannot be one."""
    if not isinstance(value, str) or len(value) > 200 or value.count(".") != 1:
        return None
    record_id, secret = value.split(".")
    if not record_id.startswith("rt_") or not secret:
        return None
    return record_id, secret


async def refresh(env: Any, refresh_token: Any) -> dict[str, Any]:
    """New tokens for a refresh token, which is used up. Reuse revokes the session (401 REFRESH_TOKEN_REUSED)."""
    parsed = parse_refresh_token(refresh_token)
    if parsed is None:
        raise _refused()
    record_id, secret = parsed
    record = await store.get(env, "refresh_tokens", record_id)
    if record is None or not hashing.matches(env, secret, record["token_hash"]):
        raise _refused()
    session = await live_session(env, record["session_id"])
    if session is None:
        raise _refused()
    if record["used_at"] is not None:
        await _reused(env, record)
    if is_past(record["expires_at"]):
        raise _refused()
    won = await store.update(env, "refresh_tokens", record_id, {"used_at": now_iso()}, where={"used_at": None})
    if won is None:  # a concurrent request used it first: one of the two is not the owner
        await _reused(env, record)
    user = await store.get(env, "users", session["user_id"])
    if user is None or user.get("disabled_at"):
        await revoke_session(env, session["id"], reason="user_disabled")
        raise _refused()
    await store.update(env, "sessions", session["id"], {"expires_at": iso_in(REFRESH_TTL)})
    return await _tokens(env, user, session, await _new_refresh_token(env, session["id"]))


async def _reused(env: Any, record: dict[str, Any]) -> None:
    await revoke_session(env, record["session_id"], reason="refresh_token_reuse")
    event = {"type": "security", "service": "auth", "event": "refresh_token_reuse", "session_id": record["session_id"]}
    log(event)
    raise _refused("REFRESH_TOKEN_REUSED", "This refresh token was already used; the session is revoked")


async def validate_access_token(env: Any, token: str) -> dict[str, Any]:
    """The principal of a JWT access token whose session is still live, or 401."""
    keys, issuer, audience = _jwt_settings(env)
    claims = tokens.verify_access_token(keys, token, issuer=issuer, audience=audience)
    session = await live_session(env, claims["sid"])
    if session is None or session["user_id"] != claims["sub"]:
        raise Unauthorized("This session has ended", code="SESSION_REVOKED")
    permissions = claims.get("permissions")
    return {
        "id": claims["sub"],
        "type": "user",
        "auth": "session",
        "session_id": claims["sid"],
        "role": claims.get("role"),
        "org_id": claims.get("org_id"),
        "permissions": list(permissions) if isinstance(permissions, list) else [],
    }


PUBLIC_SESSION_FIELDS = ("id", "org_id", "expires_at", "revoked_at", "ip", "user_agent", "created_at", "updated_at")


async def list_sessions(env: Any, user_id: str) -> list[dict[str, Any]]:
    """A user's live sessions, newest first (what `GET /sessions` shows: never a token)."""
    live = await store.find(env, "sessions", {"user_id": user_id, "revoked_at": None}, order_by="-created_at")
    return [{k: s[k] for k in PUBLIC_SESSION_FIELDS} for s in live["items"] if not is_past(s["expires_at"])]


async def end_session(env: Any, user_id: str, session_id: str) -> dict[str, Any]:
    """End one of the user's own sessions (a lost laptop); 404 for anyone else's."""
    session = await store.get(env, "sessions", session_id) if isinstance(session_id, str) else None
    if session is None or session["user_id"] != user_id:
        raise NotFound("No such session", details={"id": str(session_id)[:64]})
    await revoke_session(env, session["id"], reason="ended_by_user")
    return {"id": session["id"], "revoked": True}


async def logout(env: Any, *, session_id: str | None = None, refresh_token: Any = None) -> bool:
    """End the session named by `session_id` or holding `refresh_token`; whether one ended."""
    if session_id is None and refresh_token is not None:
        parsed = parse_refresh_token(refresh_token)
        record = await store.get(env, "refresh_tokens", parsed[0]) if parsed else None
        if record is not None and hashing.matches(env, parsed[1], record["token_hash"]):
            session_id = record["session_id"]
    if session_id is None:
        return False
    return await revoke_session(env, session_id, reason="logout")
