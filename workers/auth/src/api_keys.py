"""API keys: `sk_live_<key id>_<secret>` / `sk_test_...`, shown once, stored only as a keyed hash.

    sk_live_0mwye3v4k0ut5i5k_Vq3... (16-character key id, then 43 characters = 32 random bytes)

The key id is the record's id (`key_<key id>`), so validation is one query by primary key, never a
table scan: the key with its owner and the owner's grants (`store.api_key_with_owner`), and compares
HMAC-SHA-256(API_KEY_SECRET, key) with the stored hash in constant time. Nothing is cached: a key
revoked, expired or of a disabled owner is refused on the very next request. (The one other statement:
`last_used_at` is written at most once a minute per key.) A key carries its own permissions (scopes):
never more than its creator had. Validation also refuses a key whose owner has since lost the
permissions it names.

Bootstrap: when the secret `BOOTSTRAP_ADMIN_KEY` is set (32+ characters starting with `sk_`) and
no admin holds an unrevoked key, the first use of that key stores it (hashed) as an admin key with
every permission, marked in storage as the bootstrap key (`created_by` = "bootstrap"). It may have
any format starting with `sk_`; one that is not in the format above gets the record id
`key_bootstrap`. The stored bootstrap key works only while the configured secret still hashes to
it: empty or change `BOOTSTRAP_ADMIN_KEY` and it is refused at once (checked on every use). Once
every admin key is revoked, the configured value bootstraps again (a revoked bootstrap record is
taken over).
"""

from __future__ import annotations

import base64
import contextlib
import re
import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import hashing
import store
import users
from shared.clock import is_past, iso_in, now_iso, parse_iso, seconds_since, to_iso
from shared.errors import Conflict, Forbidden, NotFound, Unauthorized
from shared.logs import log
from shared.permissions import allows, valid_permission
from shared.validation import validate

KEY = re.compile(r"^sk_(live|test)_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$")
BOOTSTRAP_ID = "key_bootstrap"
BOOTSTRAP_USER = "usr_bootstrap_admin"
BOOTSTRAP_ACTOR = "bootstrap"  # created_by of the stored bootstrap key: how it is told apart
MIN_BOOTSTRAP = 32
MAX_KEY_LENGTH = 512
LAST_USED_EVERY = 60  # seconds: last_used_at is written at most this often per key
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class KeySpec(BaseModel):
    """What `POST /users/{id}/apikeys` and `create_api_key_for_user` take: a key's name, scopes and expiry."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    permissions: list[str] = Field(min_length=1, max_length=50, description="e.g. ['deploy', 'db:read']")
    environment: Literal["live", "test"] = "live"
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    expires_at: str | None = Field(default=None, description="ISO-8601 time with zone; or use expires_in_days")

    @field_validator("permissions")
    @classmethod
    def _permissions(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not valid_permission(p)]
        if bad:
            raise ValueError("each permission is like 'deploy', 'db:read', 'db:*' or '*'")
        return sorted(set(value))

    @field_validator("expires_at")
    @classmethod
    def _expires_at(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            moment = parse_iso(value)
        except ValueError:
            raise ValueError("must be an ISO-8601 time with a zone, e.g. 2027-01-01T00:00:00Z") from None
        if is_past(to_iso(moment)):
            raise ValueError("must be in the future")
        return to_iso(moment)


class CreateApiKey(KeySpec):
    """What `POST /apikeys` and `create_api_key` take."""

    owner_id: str | None = Field(default=None, max_length=64, description="Another user (needs apikeys:admin)")


def _key_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))


def new_key(environment: str) -> tuple[str, str]:
    """A fresh plain key and its record id."""
    kid = _key_id()
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return f"sk_{environment}_{kid}_{secret}", f"key_{kid}"


def record_id_of(key: str) -> str | None:
    """The record id a presented key would be stored under (None: not an API key at all)."""
    match = KEY.fullmatch(key)
    if match:
        return f"key_{match.group(2)}"
    return BOOTSTRAP_ID if key.startswith("sk_") else None


def public_key(record: dict[str, Any]) -> dict[str, Any]:
    """A key as it is shown after creation: everything but its hash (and never the key)."""
    kid = record["id"].removeprefix("key_")
    return {
        "id": record["id"],
        "name": record["name"],
        "owner_id": record["owner_id"],
        "environment": record["environment"],
        "hint": f"sk_{record['environment']}_{kid}_…{record['last4']}",
        "permissions": record["permissions"],
        "expires_at": record["expires_at"],
        "revoked_at": record["revoked_at"],
        "last_used_at": record["last_used_at"],
        "created_at": record["created_at"],
        "created_by": record["created_by"],
        "bootstrap": is_bootstrap(record),
    }


def is_bootstrap(record: dict[str, Any]) -> bool:
    """Whether a stored key is the bootstrap admin key (valid only while `BOOTSTRAP_ADMIN_KEY` is it)."""
    return record.get("created_by") == BOOTSTRAP_ACTOR


def configured_bootstrap(env: Any) -> str | None:
    """`BOOTSTRAP_ADMIN_KEY` if it is set and acceptable (32+ characters, starting `sk_`), else None."""
    configured = getattr(env, "BOOTSTRAP_ADMIN_KEY", None)
    if not isinstance(configured, str) or len(configured) < MIN_BOOTSTRAP:
        return None
    return configured if configured.startswith("sk_") else None


def bootstrap_current(env: Any, record: dict[str, Any]) -> bool:
    """Whether the stored bootstrap key is still the configured one (False once it is emptied or changed)."""
    configured = configured_bootstrap(env)
    return configured is not None and hashing.matches_configured(env, configured, record["key_hash"])


def _refuse() -> Unauthorized:
    return Unauthorized("Invalid, expired or revoked API key", code="INVALID_API_KEY")


async def validate_api_key(env: Any, key: str) -> dict[str, Any]:
    """The principal an API key stands for, or 401 `INVALID_API_KEY` (unknown, wrong, expired, revoked).

    One query (the key, its owner, the owner's grants); the bootstrap key's first use stores it first.
    """
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
        raise _refuse()
    record_id = record_id_of(key)
    if record_id is None:
        raise _refuse()
    found = await store.api_key_with_owner(env, record_id)
    if found is None or (is_bootstrap(found[0]) and found[0]["revoked_at"] is not None):
        stored = await _bootstrap(env, key, record_id, found[0] if found else None)
        if stored is not None and (found is None or stored is not found[0]):
            found = await store.api_key_with_owner(env, record_id)  # stored just now: read it with its owner
    if found is None or not hashing.matches(env, key, found[0]["key_hash"]):
        raise _refuse()
    record, owner = found
    if owner is None or not usable(env, record, owner):
        raise _refuse()
    held = {*users.role_permissions(owner.get("role")), *owner["grants"]}
    scopes = [p for p in record["permissions"] or [] if allows(held, p)]
    await _touch(env, record)
    return {
        "id": owner["id"],
        "type": "user",
        "auth": "api_key",
        "key_id": record["id"],
        "role": owner.get("role"),
        "email": owner.get("email"),
        "org_id": None,
        "permissions": scopes,
    }


def usable(env: Any, record: dict[str, Any], owner: dict[str, Any] | None) -> bool:
    """Whether a key (as `store.api_key_with_owner` reads it) works now: neither revoked nor expired, its
    owner exists and is enabled, and the bootstrap key is still what `BOOTSTRAP_ADMIN_KEY` says."""
    if record["revoked_at"] is not None or is_past(record["expires_at"]):
        return False
    if is_bootstrap(record) and not bootstrap_current(env, record):
        return False
    return owner is not None and not owner.get("disabled_at")


async def _touch(env: Any, record: dict[str, Any]) -> None:
    last = record.get("last_used_at")
    if last is None or seconds_since(last) >= LAST_USED_EVERY:
        await store.update(env, "api_keys", record["id"], {"last_used_at": now_iso()})


async def _bootstrap(env: Any, key: str, record_id: str, revoked: dict[str, Any] | None) -> dict[str, Any] | None:
    """Store `BOOTSTRAP_ADMIN_KEY` as an admin key if `key` is it and no admin has an unrevoked key.

    `revoked` is a revoked bootstrap record under `record_id`, taken over; else the key is inserted.
    """
    configured = configured_bootstrap(env)
    if configured is None or not hashing.matches(env, key, hashing.configured_hash(env, configured)):
        return revoked
    if await _an_admin_holds_a_key(env):
        # Perhaps it is this very key, stored a moment ago by a concurrent first request.
        return await store.get(env, "api_keys", record_id)
    await _bootstrap_user(env)
    values = {
        "name": "bootstrap admin key",
        "owner_id": BOOTSTRAP_USER,
        "key_hash": hashing.keyed_hash(env, key),
        "environment": "test" if key.startswith("sk_test_") else "live",
        "last4": key[-4:],
        "permissions": ["*"],
    }
    if revoked is not None:
        resumed = {"revoked_at": None, "expires_at": None, "last_used_at": None}
        record = await store.update(
            env, "api_keys", record_id, values | resumed, where={"revoked_at": revoked["revoked_at"]}
        )
        record = record or await store.get(env, "api_keys", record_id)  # a concurrent request took it over
    else:
        try:
            record = await store.insert(env, "api_keys", values | {"id": record_id}, actor=BOOTSTRAP_ACTOR)
        except Conflict:  # a concurrent first request stored it
            record = await store.get(env, "api_keys", record_id)
    log({"type": "audit", "service": "auth", "action": "bootstrap_admin_key", "key_id": record_id})
    return record


async def _an_admin_holds_a_key(env: Any) -> bool:
    """Whether any admin, however many there are, holds an unrevoked key (read 100 admins at a time: the most
    an `in` condition takes)."""
    offset = 0
    while True:
        admins = await store.find(env, "users", {"role": "admin"}, limit=100, offset=offset)
        admin_ids = [u["id"] for u in admins["items"]]
        live = [{"field": "owner_id", "operator": "in", "value": admin_ids}, {"field": "revoked_at", "value": None}]
        if admin_ids and await store.count(env, "api_keys", live):
            return True
        if not admins["has_more"]:
            return False
        offset += len(admin_ids)


async def _bootstrap_user(env: Any) -> None:
    """The bootstrap admin user, made (or made an enabled admin again) for a bootstrap key."""
    user = await store.get(env, "users", BOOTSTRAP_USER)
    if user is None:
        with contextlib.suppress(Conflict):  # a concurrent bootstrap made it
            await store.insert(env, "users", {"id": BOOTSTRAP_USER, "name": "Bootstrap admin", "role": "admin"})
    elif user.get("role") != "admin" or user.get("disabled_at"):
        await store.update(env, "users", BOOTSTRAP_USER, {"role": "admin", "disabled_at": None})


async def create_api_key(env: Any, principal: dict[str, Any], request: Any) -> dict[str, Any]:
    """Make a key for the principal (or, with `apikeys:admin`, for `owner_id`): `{"key", "api_key"}`.

    The plain key is in this answer only. Its permissions must all be held by the principal.
    """
    spec = validate(CreateApiKey, request)
    held = principal.get("permissions") or []
    if not allows(held, "apikeys:write"):
        raise Forbidden("This needs the permission 'apikeys:write'", details={"permission": "apikeys:write"})
    beyond = [p for p in spec.permissions if not allows(held, p)]
    if beyond:
        raise Forbidden("A key cannot carry permissions its creator lacks", details={"permissions": beyond})
    owner_id = principal["id"]
    if spec.owner_id is not None and spec.owner_id != owner_id:
        if not allows(held, "apikeys:admin"):
            raise Forbidden("Making keys for others needs 'apikeys:admin'", details={"permission": "apikeys:admin"})
        owner_id = (await users.get_user(env, spec.owner_id))["id"]
    return await _store_key(env, spec, owner_id, actor=principal["id"])


async def create_api_key_for_user(env: Any, principal: dict[str, Any], user_id: str, request: Any) -> dict[str, Any]:
    """Issue a key owned by user `user_id` (needs `apikeys:admin`): `{"key", "api_key"}`.

    403 `PERMISSIONS_EXCEED_CALLER` for permissions the caller lacks, `PERMISSIONS_EXCEED_USER` for
    ones beyond the user's role and grants; 404 for an unknown or disabled user. The key is the
    user's: it authenticates as them, and their rate budget applies.
    """
    held = principal.get("permissions") or []
    for needed in ("apikeys:write", "apikeys:admin"):
        if not allows(held, needed):
            raise Forbidden(f"This needs the permission {needed!r}", details={"permission": needed})
    spec = validate(KeySpec, request)
    user = await users.get_user(env, user_id)
    if user.get("disabled_at"):
        raise NotFound("This user is disabled", code="USER_DISABLED", details={"id": user["id"]})
    beyond = [p for p in spec.permissions if not allows(held, p)]
    if beyond:
        message = "A key cannot carry permissions its creator lacks"
        raise Forbidden(message, code="PERMISSIONS_EXCEED_CALLER", details={"permissions": beyond})
    allowed = await users.effective_permissions(env, user)
    beyond = [p for p in spec.permissions if not allows(allowed, p)]
    if beyond:
        message = "A key cannot carry permissions its user's role and grants do not give"
        raise Forbidden(
            message, code="PERMISSIONS_EXCEED_USER", details={"permissions": beyond, "role": user.get("role")}
        )
    return await _store_key(env, spec, user["id"], actor=principal["id"])


async def _store_key(env: Any, spec: KeySpec, owner_id: str, *, actor: str) -> dict[str, Any]:
    """A new key of `owner_id` as `spec` says, stored hashed: `{"key", "api_key"}` (the plain key only here)."""
    expires_at = spec.expires_at
    if spec.expires_in_days is not None:
        expires_at = iso_in(spec.expires_in_days * 86400)
    key, record_id = new_key(spec.environment)
    values = {
        "id": record_id,
        "name": spec.name,
        "owner_id": owner_id,
        "key_hash": hashing.keyed_hash(env, key),
        "environment": spec.environment,
        "last4": key[-4:],
        "permissions": spec.permissions,
        "expires_at": expires_at,
    }
    record = await store.insert(env, "api_keys", values, actor=actor)
    return {"key": key, "api_key": public_key(record)}


async def list_api_keys(
    env: Any, principal: dict[str, Any], owner_id: str | None = None, include_revoked: bool = False
) -> list[dict[str, Any]]:
    """The principal's keys (with `apikeys:admin`: anyone's, or `owner_id`'s), newest first."""
    held = principal.get("permissions") or []
    if not allows(held, "apikeys:read"):
        raise Forbidden("This needs the permission 'apikeys:read'", details={"permission": "apikeys:read"})
    where: list[dict[str, Any]] = []
    if owner_id is not None and owner_id != principal["id"] and not allows(held, "apikeys:admin"):
        raise Forbidden("Listing others' keys needs 'apikeys:admin'", details={"permission": "apikeys:admin"})
    if owner_id is not None or not allows(held, "apikeys:admin"):
        where.append({"field": "owner_id", "value": owner_id or principal["id"]})
    if not include_revoked:
        where.append({"field": "revoked_at", "value": None})
    found = await store.find(env, "api_keys", where, order_by="-created_at", limit=1000)
    return [public_key(r) for r in found["items"]]


async def revoke_api_key(env: Any, principal: dict[str, Any], key_id: str) -> dict[str, Any]:
    """Revoke a key of the principal's (any key, with `apikeys:admin`); 404 for a key it cannot see."""
    held = principal.get("permissions") or []
    if not allows(held, "apikeys:write"):
        raise Forbidden("This needs the permission 'apikeys:write'", details={"permission": "apikeys:write"})
    record = await store.get(env, "api_keys", key_id) if isinstance(key_id, str) and key_id.startswith("key_") else None
    if record is None or (record["owner_id"] != principal["id"] and not allows(held, "apikeys:admin")):
        raise NotFound("No such API key", details={"id": str(key_id)[:64]})
    if record["revoked_at"] is None:
        record = await store.update(env, "api_keys", key_id, {"revoked_at": now_iso()}, where={"revoked_at": None})
        record = record or await store.get(env, "api_keys", key_id)
    return public_key(record)
