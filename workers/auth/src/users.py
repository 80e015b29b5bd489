"""Users, organisations and what they may do (RBAC).

A user has one platform role (admin, user, viewer: `shared.permissions.ROLES`) and may be granted
more permissions, platform-wide or within one organisation. Effective permissions = the role's
plus the grants (those of the organisation asked about, and the platform-wide ones).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import revocation
import store
from shared.clock import now_iso
from shared.errors import BadRequest, Conflict, Forbidden, NotFound
from shared.permissions import ROLES, allows, role_permissions, valid_permission
from shared.validation import validate

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PUBLIC_FIELDS = ("id", "email", "name", "role", "workos_user_id", "disabled_at", "created_at", "updated_at")


class CreateUser(BaseModel):
    """What `POST /users` and `create_user` take: a user who signs in with API keys (no SSO needed)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254, description="Unique, compared case-insensitively")
    name: str = Field(min_length=1, max_length=100)
    role: Literal["user", "admin"] = "user"
    org_id: str | None = Field(default=None, min_length=1, max_length=64, description="An organisation to join")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.fullmatch(value):
            raise ValueError("must be an email address, e.g. ada@example.com")
        return value.lower()


def public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {k: user.get(k) for k in PUBLIC_FIELDS}


async def get_user(env: Any, user_id: str) -> dict[str, Any]:
    """The user, or 404."""
    user = await store.get(env, "users", user_id) if isinstance(user_id, str) and user_id else None
    if user is None:
        raise NotFound("No such user", details={"id": str(user_id)[:64]})
    return user


async def grants_of(env: Any, user_id: str, org_id: str | None = None) -> list[str]:
    """Permissions granted to a user beyond the role: platform-wide ones, and those of `org_id`."""
    orgs = [None] if org_id is None else [None, org_id]
    where: list[dict[str, Any]] = [{"field": "user_id", "value": user_id}]
    if org_id is None:
        where.append({"field": "org_id", "operator": "exists", "value": False})
    found = await store.find(env, "permission_grants", where, limit=1000)
    return sorted({g["permission"] for g in found["items"] if g["org_id"] in orgs})


async def effective_permissions(env: Any, user: dict[str, Any], org_id: str | None = None) -> list[str]:
    """What the user may do: role permissions plus grants. A disabled user may do nothing."""
    if user.get("disabled_at"):
        return []
    return sorted({*role_permissions(user.get("role")), *await grants_of(env, user["id"], org_id)})


async def check_user_permission(env: Any, user_id: str, permission: str, org_id: str | None = None) -> bool:
    if not valid_permission(permission):
        raise BadRequest("Not a permission", code="INVALID_PERMISSION", details={"permission": str(permission)[:64]})
    user = await store.get(env, "users", user_id)
    if user is None:
        return False
    return allows(await effective_permissions(env, user, org_id), permission)


def _require(principal: dict[str, Any], permission: str) -> None:
    if not allows(principal.get("permissions") or (), permission):
        raise Forbidden(f"This needs the permission {permission!r}", details={"permission": permission})


async def create_user(env: Any, principal: dict[str, Any], request: Any) -> dict[str, Any]:
    """Make a user (needs `users:admin`, and every permission of the role given): 409 `USER_EXISTS` for a
    known email (case-insensitive), 404 for an unknown `org_id` (the user joins it as a member)."""
    _require(principal, "users:admin")
    spec = validate(CreateUser, request)
    beyond = [p for p in role_permissions(spec.role) if not allows(principal.get("permissions") or (), p)]
    if beyond:
        raise Forbidden("A user cannot get a role beyond your own permissions", details={"role": spec.role})
    if (await store.find(env, "users", {"email": spec.email}, limit=1))["items"]:
        raise _user_exists(spec.email)
    if spec.org_id is not None and await store.get(env, "organizations", spec.org_id) is None:
        raise NotFound("No such organisation", details={"org_id": spec.org_id})
    values = {"email": spec.email, "name": spec.name, "role": spec.role}
    try:
        user = await store.insert(env, "users", values, actor=principal["id"])
    except Conflict:  # a concurrent request made the same email
        raise _user_exists(spec.email) from None
    if spec.org_id is not None:
        await ensure_membership(env, user["id"], spec.org_id, "member")
    return public_user(user)


def _user_exists(email: str) -> Conflict:
    return Conflict("A user with this email exists", code="USER_EXISTS", details={"email": email})


async def set_role(env: Any, principal: dict[str, Any], user_id: str, role: str) -> dict[str, Any]:
    """Change a user's role (needs `users:admin`). The user's sessions end: their tokens carried the old role."""
    _require(principal, "users:admin")
    if role not in ROLES:
        raise BadRequest(f"Unknown role: one of {', '.join(ROLES)}", code="INVALID_ROLE")
    user = await get_user(env, user_id)
    updated = await store.update(env, "users", user["id"], {"role": role})
    await revocation.revoke_user_sessions(env, user["id"], reason="role_changed")
    return public_user(updated or user)


async def set_disabled(env: Any, principal: dict[str, Any], user_id: str, disabled: bool) -> dict[str, Any]:
    """Disable a user (needs `users:admin`): their sessions end and their API keys stop working at once.
    Enabling again restores the keys (not the sessions)."""
    _require(principal, "users:admin")
    if not isinstance(disabled, bool):
        raise BadRequest("disabled is true or false", code="VALIDATION_ERROR")
    user = await get_user(env, user_id)
    if disabled and user["id"] == principal.get("id"):
        raise BadRequest("You cannot disable yourself", code="CANNOT_DISABLE_SELF")
    updated = await store.update(env, "users", user["id"], {"disabled_at": now_iso() if disabled else None})
    if disabled:
        await revocation.revoke_user_sessions(env, user["id"], reason="user_disabled")
    return public_user(updated or user)


async def grant(
    env: Any, principal: dict[str, Any], user_id: str, permission: str, org_id: str | None = None
) -> dict[str, Any]:
    """Grant a user one more permission (needs `users:admin`); granting it twice is harmless."""
    _require(principal, "users:admin")
    if not valid_permission(permission):
        raise BadRequest("Not a permission", code="INVALID_PERMISSION")
    user = await get_user(env, user_id)
    values = {"user_id": user["id"], "permission": permission, "org_id": org_id}
    try:
        return await store.insert(env, "permission_grants", values, actor=principal["id"])
    except Conflict:
        where = [{"field": "user_id", "value": user["id"]}, {"field": "permission", "value": permission}]
        where.append({"field": "org_id", "value": org_id})
        return (await store.find(env, "permission_grants", where, limit=1))["items"][0]


async def find_or_create_sso_user(env: Any, profile: dict[str, Any]) -> dict[str, Any]:
    """The user a WorkOS profile belongs to: by WorkOS id, else by email (linked now), else a new user."""
    workos_id = profile.get("id")
    email = (profile.get("email") or "").strip().lower() or None
    if not isinstance(workos_id, str) or not workos_id:
        raise BadRequest("The identity provider sent no user id", code="SSO_PROFILE_INVALID")
    found = await store.find(env, "users", {"workos_user_id": workos_id}, limit=1)
    if found["items"]:
        return found["items"][0]
    if email:
        by_email = await store.find(env, "users", {"email": email}, limit=1)
        if by_email["items"]:
            user = by_email["items"][0]
            return await store.update(env, "users", user["id"], {"workos_user_id": workos_id}) or user
    name = " ".join(p for p in (profile.get("first_name"), profile.get("last_name")) if isinstance(p, str) and p)
    values = {"email": email, "name": name or None, "role": "user", "workos_user_id": workos_id}
    return await store.insert(env, "users", values, actor="sso")


async def ensure_membership(env: Any, user_id: str, org_id: str, role: str | None) -> dict[str, Any]:
    """The user's membership of the organisation, made (or its role updated) as the identity provider says."""
    role = role if isinstance(role, str) and role else "member"
    found = await store.find(env, "memberships", {"user_id": user_id, "org_id": org_id}, limit=1)
    if found["items"]:
        membership = found["items"][0]
        if membership["role"] == role:
            return membership
        return await store.update(env, "memberships", membership["id"], {"role": role}) or membership
    try:
        return await store.insert(env, "memberships", {"user_id": user_id, "org_id": org_id, "role": role})
    except Conflict:  # a concurrent sign-in made it
        return (await store.find(env, "memberships", {"user_id": user_id, "org_id": org_id}, limit=1))["items"][0]


async def find_or_create_org(env: Any, workos_org_id: str) -> dict[str, Any]:
    found = await store.find(env, "organizations", {"workos_org_id": workos_org_id}, limit=1)
    if found["items"]:
        return found["items"][0]
    return await store.insert(env, "organizations", {"name": workos_org_id, "workos_org_id": workos_org_id})
