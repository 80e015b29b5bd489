"""API keys end to end: auth in-process, its records in the real db worker over RPC."""

import asyncio
import hashlib
import hmac
import re

import pytest
from conftest import BOOTSTRAP_KEY, SECRETS, bearer
from helpers import make_key, new_user, user_key

import store
from shared.errors import from_rpc_exception

pytestmark = pytest.mark.asyncio(loop_scope="module")

KEY_FORMAT = re.compile(r"^sk_(live|test)_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$")


async def status_and_code(reply):
    body = await reply.json()
    return reply.status, (body.get("error") or {}).get("code")


async def test_bootstrap_key_creates_a_key_that_validates_over_rpc_and_http(auth):
    reply = await auth.fetch(
        "/apikeys", method="POST", json={"name": "ci", "permissions": ["deploy"]}, headers=bearer(BOOTSTRAP_KEY)
    )
    assert reply.status == 201, await reply.text()
    created = (await reply.json())["data"]
    key = created["key"]
    assert KEY_FORMAT.match(key)
    assert created["api_key"]["permissions"] == ["deploy"]
    assert "key_hash" not in created["api_key"]
    assert key not in str(created["api_key"])
    principal = await auth.rpc("validate_api_key", key)
    assert principal["auth"] == "api_key"
    assert principal["permissions"] == ["deploy"]
    assert principal["key_id"] == created["api_key"]["id"]
    assert (await auth.rpc("validate_token", key))["key_id"] == principal["key_id"]
    me = await auth.fetch("/me", headers=bearer(key))
    assert me.status == 200
    assert (await me.json())["data"]["principal"]["key_id"] == principal["key_id"]


async def test_bootstrap_is_refused_once_an_admin_holds_a_key(auth):
    assert (await auth.rpc("validate_api_key", BOOTSTRAP_KEY))["role"] == "admin"
    # Another bootstrap value, configured later, is not stored: an admin key exists.
    other = auth.env.BOOTSTRAP_ADMIN_KEY = "sk_test_another_bootstrap_value_0123456789abcdef"
    reply = await auth.fetch("/me", headers=bearer(other))
    assert await status_and_code(reply) == (401, "INVALID_API_KEY")


async def test_bootstrap_needs_the_configured_value(auth):
    reply = await auth.fetch("/me", headers=bearer("sk_test_bootstrap_wrong_0123456789abcdefghijklmnop"))
    assert await status_and_code(reply) == (401, "INVALID_API_KEY")
    assert (await auth.rpc("validate_api_key", BOOTSTRAP_KEY))["permissions"] == ["*"]


async def test_concurrent_first_uses_of_the_bootstrap_key_store_it_once(auth, tmp_path):
    results = await asyncio.gather(*(auth.rpc("validate_api_key", BOOTSTRAP_KEY) for _ in range(5)))
    assert {r["key_id"] for r in results} == {"key_bootstrap"}


async def test_keys_are_stored_only_as_keyed_hashes(auth):
    key, record = await make_key(auth, ["db:read"])
    stored = await store.get(auth.env, "api_keys", record["id"])
    expected = hmac.new(SECRETS["API_KEY_SECRET"].encode(), key.encode(), hashlib.sha256).hexdigest()
    assert stored["key_hash"] == expected
    assert key not in str(stored)
    assert stored["key_hash"] != hashlib.sha256(key.encode()).hexdigest()  # keyed, not a plain digest
    assert stored["id"] == "key_" + key.split("_")[2]  # found by the id inside the key: no scan


async def test_each_key_is_random(auth):
    keys = {(await make_key(auth, ["db:read"]))[0] for _ in range(3)}
    assert len(keys) == 3


@pytest.mark.parametrize(
    "token",
    [
        "",
        "sk_live_",
        "sk_live_aaaaaaaaaaaaaaaa_" + "A" * 43,  # well-formed, unknown id
        "sk_live_0000000000000000_" + "A" * 43 + "x",
        "not-a-key",
        "sk_" + "x" * 600,
    ],
)
async def test_unknown_or_malformed_keys_are_refused(auth, token):
    with pytest.raises(Exception, match="dotdo-error") as info:
        await auth.rpc("validate_api_key", token)
    err = from_rpc_exception(info.value)
    assert (err.status, err.code) == (401, "INVALID_API_KEY")


async def test_right_id_wrong_secret_is_refused(auth):
    key, _ = await make_key(auth, ["db:read"])
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    reply = await auth.fetch("/me", headers=bearer(forged))
    assert await status_and_code(reply) == (401, "INVALID_API_KEY")
    assert "invalid_token" in reply.headers.get("www-authenticate")


async def test_revoked_key_is_refused_over_rpc_and_http(auth):
    key, record = await make_key(auth, ["db:read", "apikeys:write"])
    reply = await auth.fetch(f"/apikeys/{record['id']}", method="DELETE", headers=bearer(BOOTSTRAP_KEY))
    assert reply.status == 200
    first_revoked_at = (await reply.json())["data"]["revoked_at"]
    assert first_revoked_at is not None
    assert await status_and_code(await auth.fetch("/me", headers=bearer(key))) == (401, "INVALID_API_KEY")
    with pytest.raises(Exception, match="INVALID_API_KEY"):
        await auth.rpc("validate_token", key)
    again = await auth.fetch(f"/apikeys/{record['id']}", method="DELETE", headers=bearer(BOOTSTRAP_KEY))
    assert again.status == 200  # revoking twice is harmless and keeps the first time
    assert (await again.json())["data"]["revoked_at"] == first_revoked_at


async def test_expired_key_is_refused(auth):
    key, record = await make_key(auth, ["db:read"], expires_in_days=1)
    assert (await auth.rpc("validate_api_key", key))["key_id"] == record["id"]
    await store.update(auth.env, "api_keys", record["id"], {"expires_at": "2020-01-01T00:00:00.000Z"})
    assert await status_and_code(await auth.fetch("/me", headers=bearer(key))) == (401, "INVALID_API_KEY")


async def test_missing_and_wrong_scheme_get_401_with_www_authenticate(auth):
    for headers in ({}, {"authorization": "Basic abc"}, {"authorization": "Bearer"}):
        reply = await auth.fetch("/apikeys", headers=headers)
        assert await status_and_code(reply) == (401, "UNAUTHORIZED")
        assert reply.headers.get("www-authenticate").startswith("Bearer")


async def test_a_key_without_the_permission_gets_403(auth):
    _, key, _ = await user_key(auth, ["db:read"])
    reply = await auth.fetch(
        "/apikeys", method="POST", json={"name": "x", "permissions": ["db:read"]}, headers=bearer(key)
    )
    body = await reply.json()
    assert (reply.status, body["error"]["code"]) == (403, "FORBIDDEN")
    assert body["error"]["details"] == {"permission": "apikeys:write"}
    assert (await auth.rpc("check_permission", await auth.rpc("validate_token", key), "db:read"))["allowed"] is True
    assert (await auth.rpc("check_permission", await auth.rpc("validate_token", key), "deploy"))["allowed"] is False


async def test_a_key_cannot_mint_permissions_its_creator_lacks(auth):
    _, key, _ = await user_key(auth, ["apikeys:write", "db:read"])
    for wanted in (["deploy"], ["*"], ["db:*"], ["db:read", "db:write"]):
        reply = await auth.fetch(
            "/apikeys", method="POST", json={"name": "x", "permissions": wanted}, headers=bearer(key)
        )
        assert await status_and_code(reply) == (403, "FORBIDDEN"), wanted
    ok = await auth.fetch(
        "/apikeys", method="POST", json={"name": "x", "permissions": ["db:read"]}, headers=bearer(key)
    )
    assert ok.status == 201


async def test_a_key_loses_what_its_owner_loses(auth):
    user, key, _ = await user_key(auth, ["db:write", "db:read"])
    assert (await auth.rpc("validate_api_key", key))["permissions"] == ["db:read", "db:write"]
    await store.update(auth.env, "users", user["id"], {"role": "viewer"})
    assert (await auth.rpc("validate_api_key", key))["permissions"] == ["db:read"]
    await store.update(auth.env, "users", user["id"], {"disabled_at": "2026-01-01T00:00:00.000Z"})
    with pytest.raises(Exception, match="INVALID_API_KEY"):
        await auth.rpc("validate_api_key", key)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"permissions": ["db:read"]}, "VALIDATION_ERROR"),
        ({"name": "x", "permissions": []}, "VALIDATION_ERROR"),
        ({"name": "x", "permissions": ["DB READ"]}, "VALIDATION_ERROR"),
        ({"name": "x", "permissions": ["db:read"], "expires_at": "2020-01-01T00:00:00Z"}, "VALIDATION_ERROR"),
        ({"name": "x", "permissions": ["db:read"], "expires_at": "tomorrow"}, "VALIDATION_ERROR"),
        ({"name": "x", "permissions": ["db:read"], "environment": "prod"}, "VALIDATION_ERROR"),
        ({"name": "x", "permissions": ["db:read"], "owner_id": "usr_nobody"}, "NOT_FOUND"),
        ({"name": "x", "permissions": ["db:read"], "extra": 1}, "VALIDATION_ERROR"),
    ],
)
async def test_bad_key_requests_get_4xx(auth, body, code):
    reply = await auth.fetch("/apikeys", method="POST", json=body, headers=bearer(BOOTSTRAP_KEY))
    assert reply.status in (400, 404)
    assert (await reply.json())["error"]["code"] == code


async def test_listing_shows_own_keys_without_secrets(auth):
    _user, key, record = await user_key(auth, ["apikeys:read", "apikeys:write"])
    _other_user, _, other = await user_key(auth, ["apikeys:read"])
    listed = (await (await auth.fetch("/apikeys", headers=bearer(key))).json())["data"]
    assert [k["id"] for k in listed] == [record["id"]]
    assert all("key_hash" not in k for k in listed)
    assert listed[0]["hint"].endswith(key[-4:])
    assert key not in str(listed)
    everyone = (await (await auth.fetch("/apikeys", headers=bearer(BOOTSTRAP_KEY))).json())["data"]
    assert {record["id"], other["id"]} <= {k["id"] for k in everyone}
    # someone else's key cannot be revoked (nor seen to exist)
    reply = await auth.fetch(f"/apikeys/{other['id']}", method="DELETE", headers=bearer(key))
    assert await status_and_code(reply) == (404, "NOT_FOUND")
    assert await auth.rpc("validate_api_key", key)


async def test_last_used_is_recorded(auth):
    key, record = await make_key(auth, ["db:read"])
    assert record["last_used_at"] is None
    await asyncio.gather(*(auth.rpc("validate_api_key", key) for _ in range(5)))
    stored = await store.get(auth.env, "api_keys", record["id"])
    assert stored["last_used_at"] is not None


async def test_rpc_key_management(auth):
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    user = await new_user(auth)
    created = await auth.rpc(
        "create_api_key", admin, {"name": "rpc", "permissions": ["deploy"], "owner_id": user["id"]}
    )
    assert (await auth.rpc("validate_api_key", created["key"]))["id"] == user["id"]
    listed = (await auth.rpc("list_api_keys", admin, user["id"]))["items"]
    assert [k["id"] for k in listed] == [created["api_key"]["id"]]
    await auth.rpc("revoke_api_key", admin, created["api_key"]["id"])
    with pytest.raises(Exception, match="INVALID_API_KEY"):
        await auth.rpc("validate_api_key", created["key"])


# -- the permission matrix of key management ---------------------------------------------------------


async def test_a_key_for_another_user_needs_apikeys_admin(auth):
    me, key, _ = await user_key(auth, ["apikeys:read", "apikeys:write", "db:read"])
    other = await new_user(auth)
    body = {"name": "x", "permissions": ["db:read"], "owner_id": other["id"]}
    reply = await auth.fetch("/apikeys", method="POST", json=body, headers=bearer(key))
    error = (await reply.json())["error"]
    assert (reply.status, error["code"], error["details"]) == (403, "FORBIDDEN", {"permission": "apikeys:admin"})
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    assert (await auth.rpc("list_api_keys", admin, other["id"]))["items"] == []  # nothing was made
    # naming oneself as owner needs nothing more
    mine = await auth.fetch("/apikeys", method="POST", json=body | {"owner_id": me["id"]}, headers=bearer(key))
    assert mine.status == 201


async def test_listing_keys_needs_apikeys_read_and_others_keys_apikeys_admin(auth):
    _, writer, _ = await user_key(auth, ["apikeys:write", "db:read"])
    reply = await auth.fetch("/apikeys", headers=bearer(writer))
    error = (await reply.json())["error"]
    assert (reply.status, error["code"], error["details"]) == (403, "FORBIDDEN", {"permission": "apikeys:read"})
    other, _, _ = await user_key(auth, ["db:read"])
    _, reader, _ = await user_key(auth, ["apikeys:read"])
    reply = await auth.fetch(f"/apikeys?owner_id={other['id']}", headers=bearer(reader))
    error = (await reply.json())["error"]
    assert (reply.status, error["details"]) == (403, {"permission": "apikeys:admin"})
    with pytest.raises(Exception, match="FORBIDDEN"):
        (await auth.rpc("list_api_keys", await auth.rpc("validate_api_key", writer)))["items"]


async def test_revoking_needs_apikeys_write_even_for_ones_own_key(auth):
    _, key, record = await user_key(auth, ["apikeys:read", "db:read"])
    reply = await auth.fetch(f"/apikeys/{record['id']}", method="DELETE", headers=bearer(key))
    error = (await reply.json())["error"]
    assert (reply.status, error["code"], error["details"]) == (403, "FORBIDDEN", {"permission": "apikeys:write"})
    assert (await auth.rpc("validate_api_key", key))["key_id"] == record["id"]  # still live
    with pytest.raises(Exception, match="FORBIDDEN"):
        await auth.rpc("revoke_api_key", await auth.rpc("validate_api_key", key), record["id"])
