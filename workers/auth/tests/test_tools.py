"""auth's MCP tools and user/permission routes: each checked against the caller's own permissions."""

import json

import pytest
from conftest import BOOTSTRAP_KEY, bearer
from helpers import user_key

import store

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def call_tool(auth, key, name, arguments):
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    reply = await auth.fetch("/mcp", method="POST", json=message, headers=bearer(key))
    assert reply.status == 200, await reply.text()
    result = (await reply.json())["result"]
    return result["isError"], json.loads(result["content"][0]["text"])


async def test_tools_are_listed_with_schemas(auth):
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    reply = await auth.fetch("/mcp", method="POST", json=message, headers=bearer(BOOTSTRAP_KEY))
    tools = {t["name"]: t for t in (await reply.json())["result"]["tools"]}
    assert set(tools) == {
        "auth_create_api_key",
        "auth_list_api_keys",
        "auth_revoke_api_key",
        "auth_get_user",
        "auth_set_role",
        "auth_set_user_disabled",
        "auth_grant_permission",
        "auth_check_permission",
        "auth_create_user",
        "auth_create_api_key_for_user",
    }
    assert tools["auth_create_api_key"]["inputSchema"]["required"] == ["name", "permissions"]
    assert tools["auth_create_user"]["inputSchema"]["required"] == ["email", "name"]
    assert tools["auth_create_api_key_for_user"]["inputSchema"]["required"] == ["name", "permissions", "id"]


async def test_mcp_needs_a_token(auth):
    reply = await auth.fetch("/mcp", method="POST", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert reply.status == 401


async def test_key_lifecycle_through_tools(auth):
    _, key, _ = await user_key(auth, ["apikeys:read", "apikeys:write", "db:read"])
    failed, created = await call_tool(auth, key, "auth_create_api_key", {"name": "agent", "permissions": ["db:read"]})
    assert failed is False
    assert created["key"].startswith("sk_live_")
    failed, listed = await call_tool(auth, key, "auth_list_api_keys", {})
    assert created["api_key"]["id"] in [k["id"] for k in listed["items"]]
    failed, revoked = await call_tool(auth, key, "auth_revoke_api_key", {"id": created["api_key"]["id"]})
    assert revoked["revoked_at"] is not None
    with pytest.raises(Exception, match="INVALID_API_KEY"):
        await auth.rpc("validate_api_key", created["key"])


async def test_tools_refuse_what_the_caller_may_not_do(auth):
    user, key, _ = await user_key(auth, ["apikeys:read", "db:read"])
    failed, error = await call_tool(auth, key, "auth_create_api_key", {"name": "x", "permissions": ["db:read"]})
    assert (failed, error["code"]) == (True, "FORBIDDEN")
    failed, error = await call_tool(auth, key, "auth_set_role", {"id": user["id"], "role": "admin"})
    assert (failed, error["code"]) == (True, "FORBIDDEN")
    assert (await store.get(auth.env, "users", user["id"]))["role"] == "user"
    failed, error = await call_tool(auth, key, "auth_get_user", {"id": "usr_someone_else"})
    assert (failed, error["code"]) == (True, "FORBIDDEN")
    failed, me = await call_tool(auth, key, "auth_get_user", {"id": user["id"]})
    assert (failed, me["id"]) == (False, user["id"])
    failed, check = await call_tool(auth, key, "auth_check_permission", {"permission": "db:write"})
    assert check == {"permission": "db:write", "allowed": False}


async def test_admin_grants_a_permission_per_organisation(auth):
    user, _, _ = await user_key(auth, ["db:read"], role="viewer")
    assert await auth.rpc("check_user_permission", user["id"], "deploy") is False
    failed, grant = await call_tool(
        auth, BOOTSTRAP_KEY, "auth_grant_permission", {"id": user["id"], "permission": "deploy", "org_id": "org_a"}
    )
    assert failed is False
    assert grant["permission"] == "deploy"
    assert await auth.rpc("check_user_permission", user["id"], "deploy", "org_a") is True
    assert await auth.rpc("check_user_permission", user["id"], "deploy", "org_b") is False
    assert await auth.rpc("check_user_permission", user["id"], "deploy") is False
    # granting twice is harmless
    again = await auth.fetch(
        f"/users/{user['id']}/grants",
        method="POST",
        json={"permission": "deploy", "org_id": "org_a"},
        headers=bearer(BOOTSTRAP_KEY),
    )
    assert again.status == 201
    assert (await again.json())["data"]["id"] == grant["id"]


async def test_role_changes_over_http(auth):
    user, key, _ = await user_key(auth, ["db:read"])
    denied = await auth.fetch(f"/users/{user['id']}/role", method="PUT", json={"role": "admin"}, headers=bearer(key))
    assert denied.status == 403
    bad = await auth.fetch(
        f"/users/{user['id']}/role", method="PUT", json={"role": "root"}, headers=bearer(BOOTSTRAP_KEY)
    )
    assert (bad.status, (await bad.json())["error"]["code"]) == (400, "INVALID_ROLE")
    ok = await auth.fetch(
        f"/users/{user['id']}/role", method="PUT", json={"role": "viewer"}, headers=bearer(BOOTSTRAP_KEY)
    )
    assert (await ok.json())["data"]["role"] == "viewer"
    missing = await auth.fetch(
        "/users/usr_missing/role", method="PUT", json={"role": "viewer"}, headers=bearer(BOOTSTRAP_KEY)
    )
    assert missing.status == 404


async def test_permission_check_route(auth):
    _, key, _ = await user_key(auth, ["db:read"])
    for permission, allowed in (("db:read", True), ("db:write", False)):
        reply = await auth.fetch(
            "/permissions/check", method="POST", json={"permission": permission}, headers=bearer(key)
        )
        assert (await reply.json())["data"]["allowed"] is allowed
    bad = await auth.fetch(
        "/permissions/check", method="POST", json={"permission": "NOT A PERMISSION"}, headers=bearer(key)
    )
    assert (bad.status, (await bad.json())["error"]["code"]) == (400, "INVALID_PERMISSION")


async def test_check_permission_follows_the_credential_now(auth):
    _, key, record = await user_key(auth, ["db:read"])
    principal = await auth.rpc("validate_api_key", key)
    assert (await auth.rpc("check_permission", principal, "db:read"))["allowed"] is True
    await auth.rpc("revoke_api_key", await auth.rpc("validate_api_key", BOOTSTRAP_KEY), record["id"])
    assert (await auth.rpc("check_permission", principal, "db:read"))[
        "allowed"
    ] is False  # revoked since it was validated


async def test_disabling_a_user_stops_their_keys_and_sessions_at_once(auth):
    import sessions

    user, key, _ = await user_key(auth, ["db:read"])
    issued = await sessions.create_session(auth.env, await store.get(auth.env, "users", user["id"]))
    denied = await auth.fetch(
        f"/users/{user['id']}/disabled", method="PUT", json={"disabled": True}, headers=bearer(key)
    )
    assert denied.status == 403
    failed, done = await call_tool(auth, BOOTSTRAP_KEY, "auth_set_user_disabled", {"id": user["id"], "disabled": True})
    assert failed is False
    assert done["disabled_at"] is not None
    assert (await auth.fetch("/me", headers=bearer(key))).status == 401
    assert (await auth.fetch("/me", headers=bearer(issued["access_token"]))).status == 401
    enabled = await auth.fetch(
        f"/users/{user['id']}/disabled", method="PUT", json={"disabled": False}, headers=bearer(BOOTSTRAP_KEY)
    )
    assert (await enabled.json())["data"]["disabled_at"] is None
    assert (await auth.fetch("/me", headers=bearer(key))).status == 200  # keys work again; sessions stay ended
    assert (await auth.fetch("/me", headers=bearer(issued["access_token"]))).status == 401
    bad = await auth.fetch(
        f"/users/{user['id']}/disabled", method="PUT", json={"disabled": "yes"}, headers=bearer(BOOTSTRAP_KEY)
    )
    assert bad.status == 400
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    with pytest.raises(Exception, match="CANNOT_DISABLE_SELF"):
        await auth.rpc("set_user_disabled", admin, admin["id"], True)


async def test_users_and_their_keys_through_tools(auth):
    failed, user = await call_tool(
        auth, BOOTSTRAP_KEY, "auth_create_user", {"email": "Tool.User@Example.com", "name": "Tool", "role": "user"}
    )
    assert (failed, user["email"], user["role"]) == (False, "tool.user@example.com", "user")
    failed, error = await call_tool(auth, BOOTSTRAP_KEY, "auth_create_user", {"email": user["email"], "name": "x"})
    assert (failed, error["code"]) == (True, "USER_EXISTS")
    arguments = {"id": user["id"], "name": "agent", "permissions": ["db:read"]}
    failed, created = await call_tool(auth, BOOTSTRAP_KEY, "auth_create_api_key_for_user", arguments)
    assert (failed, created["api_key"]["owner_id"]) == (False, user["id"])
    assert (await auth.rpc("validate_api_key", created["key"]))["id"] == user["id"]
    failed, error = await call_tool(
        auth, BOOTSTRAP_KEY, "auth_create_api_key_for_user", arguments | {"permissions": ["deploy"]}
    )
    assert (failed, error["code"]) == (True, "PERMISSIONS_EXCEED_USER")
    # a role-user key may do neither
    _, key, _ = await user_key(auth, ["apikeys:read", "apikeys:write", "db:read"])
    failed, error = await call_tool(auth, key, "auth_create_user", {"email": "someone@example.com", "name": "x"})
    assert (failed, error["code"]) == (True, "FORBIDDEN")
    failed, error = await call_tool(auth, key, "auth_create_api_key_for_user", arguments)
    assert (failed, error["code"]) == (True, "FORBIDDEN")
