"""`apply_directory_event`, what the webhooks service calls for WorkOS directory-sync events, as its own principal
(`auth:webhooks`): organisations and users made, linked, updated, disabled; applying an event twice changes
nothing more; nobody else may call it."""

import store
from dotdo_dev.testing import rpc_fails
from shared.principals import service_principal

WEBHOOKS = service_principal("webhooks", permissions=["auth:webhooks", "email:events"])
USER = {"action": "user.upsert", "workos_user_id": "directory_user_1", "email": "Ada@Example.com", "name": "Ada"}


async def test_an_organisation_is_made_once(auth):
    first = await auth.rpc("apply_directory_event", WEBHOOKS, {"action": "organization.upsert", "workos_org_id": "o1"})
    again = await auth.rpc("apply_directory_event", WEBHOOKS, {"action": "organization.upsert", "workos_org_id": "o1"})
    assert first["id"] == again["id"]
    assert (await store.get(auth.env, "organizations", first["id"]))["workos_org_id"] == "o1"


async def test_a_directory_user_is_made_joined_and_updated(auth):
    user = await auth.rpc("apply_directory_event", WEBHOOKS, USER | {"workos_org_id": "o1"})
    assert (user["email"], user["name"], user["workos_user_id"], user["active"]) == (
        "ada@example.com",
        "Ada",
        "directory_user_1",
        True,
    )
    (membership,) = (await store.find(auth.env, "memberships", {"user_id": user["id"]}))["items"]
    org = await store.get(auth.env, "organizations", membership["org_id"])
    assert org["workos_org_id"] == "o1"
    renamed = await auth.rpc("apply_directory_event", WEBHOOKS, USER | {"name": "Ada Lovelace"})
    assert (renamed["id"], renamed["name"]) == (user["id"], "Ada Lovelace")
    twice = await auth.rpc("apply_directory_event", WEBHOOKS, USER | {"name": "Ada Lovelace"})
    assert twice == renamed


async def test_an_existing_user_is_linked_by_email(auth):
    made = await store.insert(auth.env, "users", {"email": "ada@example.com", "name": "Ada", "role": "user"})
    user = await auth.rpc("apply_directory_event", WEBHOOKS, USER)
    assert user["id"] == made["id"]
    assert user["workos_user_id"] == "directory_user_1"


async def test_inactive_and_deleted_users_are_disabled_and_can_come_back(auth):
    user = await auth.rpc("apply_directory_event", WEBHOOKS, USER)
    inactive = await auth.rpc("apply_directory_event", WEBHOOKS, USER | {"active": False})
    assert inactive["active"] is False
    assert inactive["disabled_at"]
    back = await auth.rpc("apply_directory_event", WEBHOOKS, USER)
    assert (back["active"], back["disabled_at"]) == (True, None)
    gone = {"action": "user.deactivate", "workos_user_id": "directory_user_1"}
    deleted = await auth.rpc("apply_directory_event", WEBHOOKS, gone)
    assert (deleted["id"], deleted["active"]) == (user["id"], False)
    again = await auth.rpc("apply_directory_event", WEBHOOKS, gone)
    assert again["disabled_at"] == deleted["disabled_at"]  # applied twice: the same state, not a new one
    unknown = await auth.rpc("apply_directory_event", WEBHOOKS, gone | {"workos_user_id": "nobody"})
    assert unknown == {"id": None, "found": False}


async def test_only_a_principal_with_auth_webhooks_may_apply_them(auth):
    schedule = service_principal("schedule", permissions=["auth:maintain"])
    assert (await rpc_fails(auth, "apply_directory_event", schedule, USER)).status == 403
    assert (await rpc_fails(auth, "apply_directory_event", None, USER)).status == 401
    bad = await rpc_fails(auth, "apply_directory_event", WEBHOOKS, {"action": "user.upsert"})
    assert bad.status == 400
