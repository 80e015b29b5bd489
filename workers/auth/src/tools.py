"""The auth MCP tools: key and user management for agents, each checked against the caller's permissions."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import api_keys
import principals
import users
from shared.mcp import ToolRegistry
from shared.middleware.authentication import principal_of, require_permission

registry = ToolRegistry()


class KeyId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, description="The key's id (key_...)")


class ListKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: str | None = Field(default=None, max_length=64, description="Another user's keys (apikeys:admin)")
    include_revoked: bool = False


class UserId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, description="The user's id (usr_...)")


class SetRole(UserId):
    role: str = Field(description="admin, user or viewer")


class Disable(UserId):
    disabled: bool = Field(description="true: the user's sessions end and keys stop working; false: undo")


class Grant(UserId):
    permission: str = Field(description="e.g. deploy, db:write")
    org_id: str | None = Field(default=None, max_length=64)


class UserApiKey(api_keys.KeySpec):
    id: str = Field(min_length=1, max_length=64, description="The user who will own the key (usr_...)")


class CheckPermission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    permission: str
    org_id: str | None = Field(default=None, max_length=64)


@registry.tool(
    "auth_create_api_key", "Create an API key (shown once) with permissions you hold.", api_keys.CreateApiKey
)
async def create_api_key(args: api_keys.CreateApiKey, ctx: Any) -> dict:
    return await api_keys.create_api_key(ctx.env, principal_of(ctx), args.model_dump(exclude_none=True))


@registry.tool("auth_list_api_keys", "List API keys (never the keys themselves).", ListKeys)
async def list_api_keys(args: ListKeys, ctx: Any) -> dict:
    keys = await api_keys.list_api_keys(ctx.env, principal_of(ctx), args.owner_id, args.include_revoked)
    return {"keys": keys}


@registry.tool("auth_revoke_api_key", "Revoke an API key.", KeyId)
async def revoke_api_key(args: KeyId, ctx: Any) -> dict:
    return await api_keys.revoke_api_key(ctx.env, principal_of(ctx), args.id)


@registry.tool(
    "auth_create_api_key_for_user",
    "Issue an API key (shown once) owned by another user, within your permissions and theirs; needs apikeys:admin.",
    UserApiKey,
)
async def create_api_key_for_user(args: UserApiKey, ctx: Any) -> dict:
    spec = args.model_dump(exclude_none=True, exclude={"id"})
    return await api_keys.create_api_key_for_user(ctx.env, principal_of(ctx), args.id, spec)


@registry.tool("auth_create_user", "Create a user (email, name, role user|admin); needs users:admin.", users.CreateUser)
async def create_user(args: users.CreateUser, ctx: Any) -> dict:
    return await users.create_user(ctx.env, principal_of(ctx), args.model_dump(exclude_none=True))


@registry.tool("auth_get_user", "Get a user (yourself, or anyone with users:read).", UserId)
async def get_user(args: UserId, ctx: Any) -> dict:
    principal = principal_of(ctx)
    if args.id != principal["id"]:
        require_permission(ctx, "users:read")
    return users.public_user(await users.get_user(ctx.env, args.id))


@registry.tool("auth_set_role", "Set a user's role (admin, user, viewer); needs users:admin.", SetRole)
async def set_role(args: SetRole, ctx: Any) -> dict:
    return await users.set_role(ctx.env, principal_of(ctx), args.id, args.role)


@registry.tool("auth_set_user_disabled", "Disable (or enable) a user; needs users:admin.", Disable)
async def set_user_disabled(args: Disable, ctx: Any) -> dict:
    return await users.set_disabled(ctx.env, principal_of(ctx), args.id, args.disabled)


@registry.tool("auth_grant_permission", "Grant a user a permission; needs users:admin.", Grant)
async def grant_permission(args: Grant, ctx: Any) -> dict:
    return await users.grant(ctx.env, principal_of(ctx), args.id, args.permission, args.org_id)


@registry.tool("auth_check_permission", "Whether you hold a permission now.", CheckPermission)
async def check_permission(args: CheckPermission, ctx: Any) -> dict:
    allowed = await principals.check_permission(ctx.env, principal_of(ctx), args.permission, args.org_id)
    return {"permission": args.permission, "allowed": allowed}
