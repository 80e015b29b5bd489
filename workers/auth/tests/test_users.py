"""Users without SSO: admins create them (`POST /users`) and issue their keys (`POST /users/{id}/apikeys`)."""

import json
import uuid

import pytest
from conftest import BOOTSTRAP_KEY, bearer
from helpers import make_key, new_user, user_key

import store
from shared.permissions import ROLES

pytestmark = pytest.mark.asyncio(loop_scope="module")


def email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


async def answer(reply) -> tuple[int, str | None, object]:
    """Status, error code (None on success) and data or error details."""
    body = await reply.json()
    if body["success"]:
        return reply.status, None, body["data"]
    return reply.status, body["error"]["code"], body["error"]["details"]


async def create_user(auth, body, key=BOOTSTRAP_KEY):
    return await answer(await auth.fetch("/users", method="POST", json=body, headers=bearer(key)))


async def issue(auth, user_id, body, key=BOOTSTRAP_KEY):
    return await answer(await auth.fetch(f"/users/{user_id}/apikeys", method="POST", json=body, headers=bearer(key)))


async def grant(auth, user_id: str, *permissions: str) -> None:
    for permission in permissions:
        await store.insert(auth.env, "permission_grants", {"user_id": user_id, "permission": permission})


# -- creating users ------------------------------------------------------------------------------------


async def test_an_admin_creates_a_user(auth):
    address = email()
    status, code, user = await create_user(auth, {"email": address.upper(), "name": " Ada ", "role": "user"})
    assert (status, code) == (201, None)
    assert user["id"].startswith("usr_")
    assert (user["email"], user["name"], user["role"], user["disabled_at"]) == (address, "Ada", "user", None)
    assert user["workos_user_id"] is None
    shown = await auth.fetch(f"/users/{user['id']}", headers=bearer(BOOTSTRAP_KEY))
    assert (await shown.json())["data"] == user


async def test_role_defaults_to_user_and_may_be_admin(auth):
    _, _, plain = await create_user(auth, {"email": email(), "name": "Plain"})
    assert plain["role"] == "user"
    status, _, admin = await create_user(auth, {"email": email(), "name": "Root", "role": "admin"})
    assert (status, admin["role"]) == (201, "admin")


async def test_a_duplicate_email_is_409_whatever_its_case(auth):
    address = email()
    assert (await create_user(auth, {"email": address, "name": "First"}))[0] == 201
    for again in (address, address.upper(), " " + address.title() + " "):
        status, code, details = await create_user(auth, {"email": again, "name": "Second"})
        assert (status, code, details) == (409, "USER_EXISTS", {"email": address})


@pytest.mark.parametrize(
    "body",
    [
        {"name": "No email"},
        {"email": "not-an-email", "name": "x"},
        {"email": "a@b", "name": "x"},
        {"email": "two@@example.com", "name": "x"},
        {"email": "x" * 250 + "@example.com", "name": "x"},
        {"email": "ok@example.com"},
        {"email": "ok@example.com", "name": ""},
        {"email": "ok@example.com", "name": "x", "role": "viewer"},
        {"email": "ok@example.com", "name": "x", "role": "owner"},
        {"email": "ok@example.com", "name": "x", "id": "usr_chosen"},
        {"email": "ok@example.com", "name": "x", "org_id": ""},
        {"email": 5, "name": "x"},
        ["ok@example.com"],
        "ok@example.com",
    ],
)
async def test_bad_user_requests_are_400(auth, body):
    status, code, _ = await create_user(auth, body)
    assert (status, code) == (400, "VALIDATION_ERROR")


async def test_a_body_that_is_not_json_is_400(auth):
    reply = await auth.fetch("/users", method="POST", body="{email", headers=bearer(BOOTSTRAP_KEY))
    assert (await answer(reply))[:2] == (400, "INVALID_JSON")


async def test_a_user_may_join_an_existing_organisation(auth):
    org = await store.insert(auth.env, "organizations", {"name": "Acme"})
    status, _, user = await create_user(auth, {"email": email(), "name": "Member", "org_id": org["id"]})
    assert status == 201
    found = await store.find(auth.env, "memberships", {"user_id": user["id"]}, limit=10)
    assert [(m["org_id"], m["role"]) for m in found["items"]] == [(org["id"], "member")]
    address = email()
    status, code, details = await create_user(auth, {"email": address, "name": "x", "org_id": "org_nowhere"})
    assert (status, code, details) == (404, "NOT_FOUND", {"org_id": "org_nowhere"})
    assert (await store.find(auth.env, "users", {"email": address}, limit=1))["items"] == []


async def test_creating_users_needs_users_admin(auth):
    _, key, _ = await user_key(auth, ["db:read", "db:write", "apikeys:read", "apikeys:write"])
    address = email()
    status, code, details = await create_user(auth, {"email": address, "name": "x"}, key=key)
    assert (status, code, details) == (403, "FORBIDDEN", {"permission": "users:admin"})
    assert (await store.find(auth.env, "users", {"email": address}, limit=1))["items"] == []


async def test_users_admin_makes_only_roles_within_the_callers_permissions(auth):
    manager = await new_user(auth)
    await grant(auth, manager["id"], "users:admin")
    key, _ = await make_key(auth, [*ROLES["user"], "users:admin"], owner_id=manager["id"])
    assert (await create_user(auth, {"email": email(), "name": "ok"}, key=key))[0] == 201
    narrow, _ = await make_key(auth, ["users:admin", "db:read"], owner_id=manager["id"])
    status, code, details = await create_user(auth, {"email": email(), "name": "x"}, key=narrow)
    assert (status, code, details) == (403, "FORBIDDEN", {"role": "user"})
    status, code, details = await create_user(auth, {"email": email(), "name": "x", "role": "admin"}, key=key)
    assert (status, code, details) == (403, "FORBIDDEN", {"role": "admin"})


async def test_create_user_over_rpc(auth):
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    user = await auth.rpc("create_user", admin, {"email": email(), "name": "Rpc", "role": "admin"})
    assert user["role"] == "admin"
    with pytest.raises(Exception, match="USER_EXISTS"):
        await auth.rpc("create_user", admin, {"email": user["email"], "name": "Again"})
    with pytest.raises(Exception, match="VALIDATION_ERROR"):
        await auth.rpc("create_user", admin, {"email": "nope", "name": "x"})


# -- issuing keys for users ---------------------------------------------------------------------------


async def test_an_admin_issues_a_key_that_authenticates_as_the_user(auth):
    _, _, user = await create_user(auth, {"email": email(), "name": "Keyed"})
    status, code, created = await issue(auth, user["id"], {"name": "ci", "permissions": ["db:read", "db:write"]})
    assert (status, code) == (201, None)
    assert created["api_key"]["owner_id"] == user["id"]
    assert created["api_key"]["created_by"] == "usr_bootstrap_admin"
    assert created["api_key"]["permissions"] == ["db:read", "db:write"]
    me = (await (await auth.fetch("/me", headers=bearer(created["key"]))).json())["data"]
    assert (me["principal"]["id"], me["principal"]["role"], me["user"]["email"]) == (user["id"], "user", user["email"])
    assert me["principal"]["permissions"] == ["db:read", "db:write"]
    stored = await store.get(auth.env, "api_keys", created["api_key"]["id"])
    assert created["key"] not in json.dumps(dict(stored))


async def test_a_key_for_a_user_may_expire(auth):
    _, _, user = await create_user(auth, {"email": email(), "name": "Brief"})
    body = {"name": "brief", "permissions": ["db:read"], "expires_at": "2099-01-01T00:00:00Z"}
    status, _, created = await issue(auth, user["id"], body)
    assert (status, created["api_key"]["expires_at"]) == (201, "2099-01-01T00:00:00.000Z")
    past = body | {"expires_at": "2020-01-01T00:00:00Z"}
    assert (await issue(auth, user["id"], past))[:2] == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize("wanted", [["deploy"], ["*"], ["db:*"], ["users:admin"], ["db:read", "apikeys:admin"]])
async def test_a_key_never_exceeds_what_the_users_role_allows(auth, wanted):
    _, _, user = await create_user(auth, {"email": email(), "name": "Limited"})
    status, code, details = await issue(auth, user["id"], {"name": "x", "permissions": wanted})
    assert (status, code) == (403, "PERMISSIONS_EXCEED_USER")
    assert details["role"] == "user"
    assert details["permissions"] == [p for p in wanted if p not in ("db:read",)]


async def test_a_grant_widens_what_a_users_key_may_carry(auth):
    _, _, user = await create_user(auth, {"email": email(), "name": "Deployer"})
    await grant(auth, user["id"], "deploy")
    status, _, created = await issue(auth, user["id"], {"name": "x", "permissions": ["deploy", "db:read"]})
    assert status == 201
    assert (await auth.rpc("validate_api_key", created["key"]))["permissions"] == ["db:read", "deploy"]


async def test_an_admin_users_key_may_carry_everything(auth):
    _, _, admin = await create_user(auth, {"email": email(), "name": "Second admin", "role": "admin"})
    status, _, created = await issue(auth, admin["id"], {"name": "root", "permissions": ["*"]})
    assert status == 201
    assert (await auth.rpc("validate_api_key", created["key"]))["permissions"] == ["*"]


async def test_a_key_never_exceeds_the_callers_own_permissions(auth):
    manager = await new_user(auth)
    await grant(auth, manager["id"], "apikeys:admin")
    key, _ = await make_key(auth, ["apikeys:write", "apikeys:admin", "db:read"], owner_id=manager["id"])
    target = await new_user(auth)
    status, code, details = await issue(auth, target["id"], {"name": "x", "permissions": ["db:write"]}, key=key)
    assert (status, code, details) == (403, "PERMISSIONS_EXCEED_CALLER", {"permissions": ["db:write"]})
    status, _, created = await issue(auth, target["id"], {"name": "x", "permissions": ["db:read"]}, key=key)
    assert (status, created["api_key"]["owner_id"]) == (201, target["id"])


async def test_keys_for_unknown_or_disabled_users_are_404(auth):
    assert (await issue(auth, "usr_nobody", {"name": "x", "permissions": ["db:read"]}))[:2] == (404, "NOT_FOUND")
    gone = await new_user(auth, disabled_at="2026-01-01T00:00:00.000Z")
    assert (await issue(auth, gone["id"], {"name": "x", "permissions": ["db:read"]}))[:2] == (404, "USER_DISABLED")


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": ["db:read"]},
        {"name": "x", "permissions": []},
        {"name": "x", "permissions": ["DB READ"]},
        {"name": "x", "permissions": ["db:read"], "owner_id": "usr_someone"},
        {"name": "x", "permissions": ["db:read"], "expires_at": "soon"},
        ["db:read"],
    ],
)
async def test_bad_key_requests_for_a_user_are_400(auth, body):
    user = await new_user(auth)
    assert (await issue(auth, user["id"], body))[:2] == (400, "VALIDATION_ERROR")


async def test_a_role_user_key_cannot_create_users_or_keys_for_others(auth):
    me, key, _ = await user_key(auth, ["db:read", "apikeys:read", "apikeys:write"])
    other = await new_user(auth)
    status, code, details = await issue(auth, other["id"], {"name": "x", "permissions": ["db:read"]}, key=key)
    assert (status, code, details) == (403, "FORBIDDEN", {"permission": "apikeys:admin"})
    # not even for themselves by this route: it is an admin's
    assert (await issue(auth, me["id"], {"name": "x", "permissions": ["db:read"]}, key=key))[:2] == (403, "FORBIDDEN")
    assert (await create_user(auth, {"email": email(), "name": "x"}, key=key))[:2] == (403, "FORBIDDEN")
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    assert (await auth.rpc("list_api_keys", admin, other["id"]))["items"] == []


async def test_create_api_key_for_user_over_rpc(auth):
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    user = await auth.rpc("create_user", admin, {"email": email(), "name": "Rpc keyed"})
    created = await auth.rpc(
        "create_api_key_for_user", admin, {"id": user["id"], "name": "rpc", "permissions": ["db:read"]}
    )
    assert (await auth.rpc("validate_api_key", created["key"]))["id"] == user["id"]
    with pytest.raises(Exception, match="PERMISSIONS_EXCEED_USER"):
        await auth.rpc("create_api_key_for_user", admin, {"id": user["id"], "name": "rpc", "permissions": ["deploy"]})
    principal = await auth.rpc("validate_api_key", created["key"])
    with pytest.raises(Exception, match="FORBIDDEN"):
        await auth.rpc(
            "create_api_key_for_user", principal, {"id": user["id"], "name": "x", "permissions": ["db:read"]}
        )
