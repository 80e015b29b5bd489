"""Directory sync from WorkOS, applied as the webhooks service reports it (`apply_directory_event`, `auth:webhooks`).

- `organization.upsert` {workos_org_id}: the organisation with that WorkOS id, made if missing.
- `user.upsert` {workos_user_id, email?, name?, workos_org_id?, active}: the user by WorkOS id, else by email
  (linked now), else made (role `user`); email and name updated; a member of the organisation; disabled when
  not `active` (sessions end, keys stop), enabled again when active.
- `user.deactivate` {workos_user_id}: the user disabled (an unknown user: nothing to do, answered `found: false`).

Each sets a state rather than toggling one, so an event applied twice (webhooks retries) changes nothing more.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import revocation
import store
import users
from shared.clock import now_iso
from shared.errors import Conflict, ValidationError


class DirectoryEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Literal["organization.upsert", "user.upsert", "user.deactivate"]
    workos_org_id: str | None = Field(default=None, min_length=1, max_length=128)
    workos_user_id: str | None = Field(default=None, min_length=1, max_length=128)
    email: str | None = Field(default=None, max_length=254)
    name: str | None = Field(default=None, max_length=100)
    active: bool = True


async def apply(env: Any, event: DirectoryEvent) -> dict[str, Any]:
    if event.action == "organization.upsert":
        if not event.workos_org_id:
            raise _missing("workos_org_id")
        org = await users.find_or_create_org(env, event.workos_org_id)
        return {"id": org["id"], "workos_org_id": org["workos_org_id"]}
    if not event.workos_user_id:
        raise _missing("workos_user_id")
    if event.action == "user.deactivate":
        found = await store.find(env, "users", {"workos_user_id": event.workos_user_id}, limit=1)
        if not found["items"]:
            return {"id": None, "found": False}
        return await _set_active(env, found["items"][0], False)
    email = event.email.lower() if event.email and users.EMAIL.fullmatch(event.email) else None
    profile = {"id": event.workos_user_id, "email": email, "first_name": event.name}
    user = await users.find_or_create_sso_user(env, profile)
    changes = {k: v for k, v in (("email", email), ("name", event.name)) if v and user.get(k) != v}
    if changes:
        with contextlib.suppress(Conflict):  # the email belongs to another user: this one keeps its own
            user = await store.update(env, "users", user["id"], changes) or user
    if event.workos_org_id:
        org = await users.find_or_create_org(env, event.workos_org_id)
        await users.ensure_membership(env, user["id"], org["id"], "member")
    return await _set_active(env, user, event.active)


async def _set_active(env: Any, user: dict[str, Any], active: bool) -> dict[str, Any]:
    if active and user.get("disabled_at"):
        user = await store.update(env, "users", user["id"], {"disabled_at": None}) or user
    elif not active and not user.get("disabled_at"):
        user = await store.update(env, "users", user["id"], {"disabled_at": now_iso()}) or user
        await revocation.revoke_user_sessions(env, user["id"], reason="directory_deactivated")
    return users.public_user(user) | {"found": True, "active": not user.get("disabled_at")}


def _missing(field: str) -> ValidationError:
    return ValidationError("Invalid input", details=[{"field": field, "message": "is required", "type": "missing"}])
