"""auth's operations for a signed-in principal, each declared once: RPC, HTTP, MCP and OpenAPI follow.

The permission declared here is checked before anything else on every face; the domain functions
keep their finer rules (another user's keys need `apikeys:admin`, a key never carries more than
its creator holds, a user may read themselves without `users:read`).

Not operations, because no principal exists yet or the transport is the point: `validate_token`
and `validate_api_key` (RPC, the gateway and services authenticate with them), and sign-in over
HTTP (`/login`, `/callback`, `/refresh`, `/logout`: redirects and cookies, in `routes.py`).
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import api_keys
import cleanup
import directory
import principals
import sessions
import users
from shared.errors import Forbidden
from shared.permissions import allows
from shared.service import Call, NoInput, Service

service = Service(
    "auth", version="0.1.0", description="Identity: API keys, users and organisations with RBAC, JWT sessions, SSO."
)


class KeyId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=256, description="The key's id (key_...)")


class ListKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: str | None = Field(default=None, max_length=64, description="Another user's keys (apikeys:admin)")
    include_revoked: bool = False


class UserId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, description="The user's id (usr_...)")


class SessionId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, description="The session's id (ses_...)")


class SetRole(UserId):
    role: str = Field(description="admin, user or viewer")


class Disable(UserId):
    disabled: bool = Field(strict=True, description="true: the user's sessions end and keys stop working; false: undo")


class Grant(UserId):
    permission: str = Field(description="e.g. deploy, db:write")
    org_id: str | None = Field(default=None, max_length=64)


class UserApiKey(api_keys.KeySpec):
    id: str = Field(min_length=1, max_length=64, description="The user who will own the key (usr_...)")


class CheckPermission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    permission: str = Field(min_length=1, max_length=100)
    org_id: str | None = Field(default=None, max_length=64)


class RemoveExpired(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["sessions", "api_keys"] = Field(
        description="sessions: expired sign-in states, refresh tokens, sessions ended 30 days ago; "
        "api_keys: keys expired or revoked 90 days ago"
    )


def _caller(call: Call) -> dict[str, Any]:
    assert call.principal is not None  # the kit lets no operation here run without one
    return call.principal


# -- who am I ---------------------------------------------------------------------------------------


@service.operation(http="GET /me")
async def me(call: Call, args: NoInput) -> dict:
    """The calling principal and its user."""
    principal = _caller(call)
    user = await users.get_user(call.env, principal["id"])
    return {"principal": dict(principal), "user": users.public_user(user)}


@service.operation(http="POST /permissions/check", tool="auth_check_permission")
async def check_permission(call: Call, args: CheckPermission) -> dict:
    """Whether you hold a permission now (in an organisation, if given)."""
    allowed = await principals.check_permission(call.env, _caller(call), args.permission, args.org_id)
    return {"permission": args.permission, "allowed": allowed}


@service.operation(http="GET /sessions")
async def list_sessions(call: Call, args: NoInput) -> list:
    """Your signed-in sessions."""
    return await sessions.list_sessions(call.env, _caller(call)["id"])


@service.operation(http="DELETE /sessions/{id}")
async def end_session(call: Call, args: SessionId) -> dict:
    """End one of your sessions (its refresh token stops working)."""
    return await sessions.end_session(call.env, _caller(call)["id"], args.id)


# -- API keys ---------------------------------------------------------------------------------------


@service.operation(http="POST /apikeys", permission="apikeys:write", tool="auth_create_api_key", status=201)
async def create_api_key(call: Call, args: api_keys.CreateApiKey) -> dict:
    """Create an API key (shown once) with permissions you hold."""
    return await api_keys.create_api_key(call.env, _caller(call), args)


@service.operation(http="GET /apikeys", permission="apikeys:read", tool="auth_list_api_keys", page=())
async def list_api_keys(call: Call, args: ListKeys) -> dict:
    """List API keys, newest first (never the keys themselves): `{"items": [...]}`; HTTP answers the list."""
    return {"items": await api_keys.list_api_keys(call.env, _caller(call), args.owner_id, args.include_revoked)}


@service.operation(http="DELETE /apikeys/{id}", permission="apikeys:write", tool="auth_revoke_api_key")
async def revoke_api_key(call: Call, args: KeyId) -> dict:
    """Revoke an API key."""
    return await api_keys.revoke_api_key(call.env, _caller(call), args.id)


@service.operation(
    http="POST /users/{id}/apikeys", permission="apikeys:admin", tool="auth_create_api_key_for_user", status=201
)
async def create_api_key_for_user(call: Call, args: UserApiKey) -> dict:
    """Issue an API key (shown once) owned by another user, within your permissions and theirs."""
    spec = args.model_dump(exclude_unset=True, exclude={"id"})
    return await api_keys.create_api_key_for_user(call.env, _caller(call), args.id, spec)


# -- users ------------------------------------------------------------------------------------------


@service.operation(http="POST /users", permission="users:admin", tool="auth_create_user", status=201)
async def create_user(call: Call, args: users.CreateUser) -> dict:
    """Create a user who signs in with API keys (email, name, role user|admin, optional organisation)."""
    return await users.create_user(call.env, _caller(call), args)


@service.operation(http="GET /users/{id}", tool="auth_get_user")
async def get_user(call: Call, args: UserId) -> dict:
    """Get a user: yourself, or anyone with users:read."""
    principal = _caller(call)
    if args.id != principal["id"] and not allows(principal.get("permissions") or (), "users:read"):
        raise Forbidden("This needs the permission 'users:read'", details={"permission": "users:read"})
    return users.public_user(await users.get_user(call.env, args.id))


@service.operation(http="PUT /users/{id}/role", permission="users:admin", tool="auth_set_role")
async def set_user_role(call: Call, args: SetRole) -> dict:
    """Set a user's role (admin, user, viewer)."""
    return await users.set_role(call.env, _caller(call), args.id, args.role)


@service.operation(http="PUT /users/{id}/disabled", permission="users:admin", tool="auth_set_user_disabled")
async def set_user_disabled(call: Call, args: Disable) -> dict:
    """Disable (or enable) a user: a disabled user's sessions end and keys stop working."""
    return await users.set_disabled(call.env, _caller(call), args.id, args.disabled)


@service.operation(http="POST /users/{id}/grants", permission="users:admin", tool="auth_grant_permission", status=201)
async def grant_permission(call: Call, args: Grant) -> dict:
    """Grant a user a permission (in an organisation, if given)."""
    return await users.grant(call.env, _caller(call), args.id, args.permission, args.org_id)


# -- housekeeping ------------------------------------------------------------------------------------


@service.operation(http="POST /maintenance/remove-expired", permission="auth:maintain")
async def remove_expired(call: Call, args: RemoveExpired) -> dict:
    """Delete what can no longer be used (the schedule service runs it): how many records of each kind."""
    if args.scope == "sessions":
        return await cleanup.remove_expired(call.env)
    return await cleanup.remove_old_api_keys(call.env)


# -- directory sync (the webhooks service) -----------------------------------------------------------


@service.operation(permission="auth:webhooks")
async def apply_directory_event(call: Call, args: directory.DirectoryEvent) -> dict:
    """Apply a WorkOS directory-sync event: an organisation made, a user made or updated (linked by WorkOS id or
    email, joined to the organisation, disabled while inactive) or deactivated. RPC only: the webhooks service
    calls it after verifying WorkOS's signature."""
    return await directory.apply(call.env, args)
