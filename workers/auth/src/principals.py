"""Who is calling: one entry point for every kind of credential, and permission checks.

`validate_token` takes what follows `Bearer `: an API key (`sk_...`) or a JWT access token, and
answers the principal every service sees:

    {"id": "usr_...", "type": "user", "auth": "api_key" | "session", "role": "user",
     "permissions": ["db:read", ...], "org_id": None, "key_id" | "session_id": "..."}

or raises 401. The permissions are what this credential allows: an API key's own scopes, a
session's role and grants.
"""

from __future__ import annotations

from typing import Any

import api_keys
import sessions
import store
import users
from shared.errors import BadRequest, Unauthorized
from shared.ids import valid_request_id
from shared.logs import log
from shared.permissions import allows, valid_permission


async def validate_token(env: Any, token: Any, request_id: str | None = None) -> dict[str, Any]:
    """The principal of a bearer credential, or 401 (logged with the request id, never the credential)."""
    try:
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise Unauthorized("Invalid API key or token", code="INVALID_TOKEN")
        if token.startswith("sk_"):
            return await api_keys.validate_api_key(env, token)
        return await sessions.validate_access_token(env, token)
    except Unauthorized as refused:
        kind = "api_key" if isinstance(token, str) and token.startswith("sk_") else "jwt"
        line = {"type": "auth", "event": "credential_refused", "kind": kind, "code": refused.code}
        log(line | {"request_id": request_id if valid_request_id(request_id) else None})
        raise


async def check_permission(env: Any, principal: Any, permission: str, org_id: str | None = None) -> bool:
    """Whether `principal` may do `permission` now.

    `principal` is a principal from `validate_token` (its credential is looked at again: a key
    revoked or expired, or a session ended or expired since gives False) or a user id (role and grants, in `org_id`).
    """
    if not valid_permission(permission):
        raise BadRequest("Not a permission", code="INVALID_PERMISSION", details={"permission": str(permission)[:64]})
    if isinstance(principal, str):
        return await users.check_user_permission(env, principal, permission, org_id)
    if not hasattr(principal, "get"):
        raise BadRequest("principal is a principal object or a user id", code="INVALID_PRINCIPAL")
    if principal.get("key_id"):
        key_id = principal["key_id"]
        found = await store.api_key_with_owner(env, key_id, org_id) if isinstance(key_id, str) else None
        if found is None or found[0]["owner_id"] != principal.get("id") or not api_keys.usable(env, *found):
            return False
        key, owner = found
        held = {*users.role_permissions(owner.get("role")), *owner["grants"]}
        return allows(key["permissions"] or [], permission) and allows(held, permission)
    if principal.get("session_id"):
        session = await sessions.live_session(env, principal["session_id"])
        if session is None or session["user_id"] != principal.get("id"):
            return False
        return await users.check_user_permission(env, session["user_id"], permission, org_id or session["org_id"])
    if principal.get("id"):
        return await users.check_user_permission(env, principal["id"], permission, org_id)
    return False
