"""API keys at their edges: each limit of a key request, the hint and environment a key is listed with,
whose keys a caller may list or revoke whatever the ids, the bootstrap key's owner and length, and
requests that race each other.

Each test has an empty database of its own (`auth`).
"""

import asyncio
import datetime
from types import SimpleNamespace

import pytest
from conftest import BOOTSTRAP_KEY, bearer
from helpers import make_key, new_user, user_key

import api_keys
import shared.clock
import store
from shared.clock import to_iso
from shared.errors import NotFound

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def answer(reply) -> tuple[int, str | None, object]:
    """Status, error code (None on success) and data or error details."""
    body = await reply.json()
    if body["success"]:
        return reply.status, None, body["data"]
    return reply.status, body["error"]["code"], body["error"]["details"]


async def create(auth, body: dict, key: str = BOOTSTRAP_KEY):
    return await answer(await auth.fetch("/apikeys", method="POST", json=body, headers=bearer(key)))


async def listed(auth, key: str = BOOTSTRAP_KEY, query: str = ""):
    return await answer(await auth.fetch(f"/apikeys{query}", headers=bearer(key)))


async def revoke(auth, key_id: str, key: str = BOOTSTRAP_KEY):
    return await answer(await auth.fetch(f"/apikeys/{key_id}", method="DELETE", headers=bearer(key)))


async def stored_key(auth, owner_id: str, key_id: str, permissions=("db:read",)) -> None:
    """A key record stored straight into auth's database (its plain key matters not here)."""
    values = {"name": "k", "owner_id": owner_id, "key_hash": "h" * 64, "environment": "live", "last4": "abcd"}
    await store.insert(auth.env, "api_keys", values | {"id": key_id, "permissions": list(permissions)})


async def me(auth, key: str) -> int:
    return (await auth.fetch("/me", headers=bearer(key))).status


# -- what a key request may ask for ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"name": ""}, 400),
        ({"name": "   "}, 400),  # blank once stripped
        ({"name": "n" * 100}, 201),
        ({"name": "n" * 101}, 400),
        ({"permissions": [f"p{i}" for i in range(50)]}, 201),
        ({"permissions": [f"p{i}" for i in range(51)]}, 400),
        ({"expires_in_days": 0}, 400),
        ({"expires_in_days": 1}, 201),
        ({"expires_in_days": 3650}, 201),
        ({"expires_in_days": 3651}, 400),
    ],
)
async def test_the_limits_of_a_key_request(auth, extra, status):
    result, code, _ = await create(auth, {"name": "ci", "permissions": ["db:read"]} | extra)
    assert (result, code) == (status, None if status == 201 else "VALIDATION_ERROR")


async def test_an_owner_id_of_64_characters_is_looked_up_and_one_of_65_is_refused(auth):
    body = {"name": "ci", "permissions": ["db:read"]}
    assert (await create(auth, body | {"owner_id": "u" * 64}))[:2] == (404, "NOT_FOUND")  # nobody has that id
    assert (await create(auth, body | {"owner_id": "u" * 65}))[:2] == (400, "VALIDATION_ERROR")


async def test_a_keys_name_and_permissions_are_stripped_of_white_space(auth):
    status, _, created = await create(auth, {"name": "  ci  ", "permissions": [" db:read "]})
    assert status == 201
    assert (created["api_key"]["name"], created["api_key"]["permissions"]) == ("ci", ["db:read"])


# -- how a key is shown ---------------------------------------------------------------------------------


async def test_a_key_is_listed_with_a_hint_of_its_id_and_last_four_characters(auth):
    key, record = await make_key(auth, ["db:read"])
    kid = key.split("_")[2]
    assert record["hint"] == f"sk_live_{kid}_…{key[-4:]}"
    _, _, keys = await listed(auth)
    (shown,) = [k for k in keys if k["id"] == record["id"]]
    assert shown["hint"] == record["hint"]
    assert key not in str(keys)


@pytest.mark.parametrize(
    ("configured", "environment"),
    [(BOOTSTRAP_KEY, "test"), ("sk_live_bootstrap_0123456789abcdefghijklmnopqrstuv", "live")],
)
async def test_the_stored_bootstrap_key_is_listed_with_its_environment_and_last_four_characters(
    auth, configured, environment
):
    auth.env.BOOTSTRAP_ADMIN_KEY = configured
    assert (await auth.rpc("validate_api_key", configured))["key_id"] == "key_bootstrap"
    _, _, keys = await listed(auth, configured)
    (shown,) = [k for k in keys if k["id"] == "key_bootstrap"]
    assert (shown["environment"], shown["hint"]) == (environment, f"sk_{environment}_bootstrap_…{configured[-4:]}")
    assert configured not in str(keys)
    assert configured not in str(await store.get(auth.env, "api_keys", "key_bootstrap"))


async def test_a_key_made_by_a_user_whose_id_sorts_before_bootstrap_is_an_ordinary_key(auth):
    # Only the created_by "bootstrap" marks the bootstrap key; "admin_1" < "bootstrap" < "usr_..." as text.
    maker = await new_user(auth, "admin", id="admin_1")
    maker_key, _ = await make_key(auth, ["*"], owner_id=maker["id"])
    key, record = await make_key(auth, ["db:read"], as_key=maker_key)
    assert record["created_by"] == "admin_1"
    assert record["bootstrap"] is False
    assert (await auth.rpc("validate_api_key", key))["permissions"] == ["db:read"]


async def test_issuing_a_key_for_a_user_needs_apikeys_write_as_well_as_apikeys_admin(auth):
    _, key, _ = await user_key(auth, ["apikeys:admin", "db:read"], role="admin")
    target = await new_user(auth)
    body = {"name": "x", "permissions": ["db:read"]}
    reply = await auth.fetch(f"/users/{target['id']}/apikeys", method="POST", json=body, headers=bearer(key))
    assert await answer(reply) == (403, "FORBIDDEN", {"permission": "apikeys:write"})
    assert (await listed(auth, query=f"?owner_id={target['id']}"))[2] == []


# -- listing and revoking: whose keys -------------------------------------------------------------------


async def three_users(auth):
    """A caller and two users whose ids sort before and after the caller's: (caller's key, others, their key ids)."""
    caller = await new_user(auth, id="usr_m_caller")
    others = [await new_user(auth, id=i) for i in ("usr_a_before", "usr_z_after")]
    caller_key, _ = await make_key(auth, ["apikeys:read", "apikeys:write"], owner_id=caller["id"])
    other_ids = [(await make_key(auth, ["db:read"], owner_id=o["id"]))[1]["id"] for o in others]
    return caller_key, others, other_ids


async def test_without_apikeys_admin_nobody_elses_keys_are_listed_whatever_the_ids(auth):
    caller_key, others, other_ids = await three_users(auth)
    for other in others:
        status, code, details = await listed(auth, caller_key, f"?owner_id={other['id']}")
        assert (status, code, details) == (403, "FORBIDDEN", {"permission": "apikeys:admin"})
    status, _, own = await listed(auth, caller_key)
    assert status == 200
    assert not {k["id"] for k in own} & set(other_ids)


async def test_without_apikeys_admin_nobody_elses_key_is_revoked_whatever_the_ids(auth):
    caller_key, _, other_ids = await three_users(auth)
    for key_id in other_ids:
        assert (await revoke(auth, key_id, caller_key))[:2] == (404, "NOT_FOUND")
    _, _, everyone = await listed(auth)
    assert all(k["revoked_at"] is None for k in everyone if k["id"] in other_ids)


async def test_revoked_keys_are_listed_only_when_asked_for(auth):
    _, kept = await make_key(auth, ["db:read"])
    _, gone = await make_key(auth, ["db:read"])
    assert (await revoke(auth, gone["id"]))[0] == 200
    _, _, default = await listed(auth)
    assert kept["id"] in {k["id"] for k in default}
    assert gone["id"] not in {k["id"] for k in default}
    for flag in ("true", "1"):
        _, _, everything = await listed(auth, query=f"?include_revoked={flag}")
        assert {kept["id"], gone["id"]} <= {k["id"] for k in everything}
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    assert gone["id"] not in {k["id"] for k in (await auth.rpc("list_api_keys", admin))["items"]}


async def test_a_listing_shows_up_to_1000_keys(auth):
    user = await new_user(auth)
    for i in range(1000):
        await stored_key(auth, user["id"], f"key_{i:016d}")
    status, _, keys = await listed(auth, query=f"?owner_id={user['id']}")
    assert (status, len(keys)) == (200, 1000)


@pytest.mark.parametrize("key_id", ["bad%20id", "usr_bootstrap_admin"])
async def test_revoking_what_is_not_a_key_id_is_a_404(auth, key_id):
    assert (await revoke(auth, key_id))[:2] == (404, "NOT_FOUND")


async def test_a_404_names_the_key_id_up_to_64_characters(auth):
    for key_id in ("key_" + "a" * 60, "key_" + "b" * 120):
        assert await revoke(auth, key_id) == (404, "NOT_FOUND", {"id": key_id[:64]})


async def test_revoking_a_key_id_that_is_not_a_string_is_a_404(auth):
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    with pytest.raises(NotFound):
        await api_keys.revoke_api_key(auth.env, admin, 5)


# -- the bootstrap key ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "works"), [(512, True), (513, False)])
async def test_a_configured_bootstrap_key_may_be_512_characters_and_not_one_more(auth, length, works):
    auth.env.BOOTSTRAP_ADMIN_KEY = configured = "sk_test_" + "x" * (length - 8)
    assert await me(auth, configured) == (200 if works else 401)
    assert (await store.get(auth.env, "api_keys", "key_bootstrap") is not None) is works


async def test_a_stored_bootstrap_key_whose_user_was_demoted_carries_only_the_users_permissions(auth):
    # Stored and unrevoked, it is an ordinary key now: its use does not bootstrap (nor promote) again.
    await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    await store.update(auth.env, "users", "usr_bootstrap_admin", {"role": "viewer"})
    principal = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    assert (principal["role"], principal["permissions"]) == ("viewer", [])
    assert (await store.get(auth.env, "users", "usr_bootstrap_admin"))["role"] == "viewer"


@pytest.mark.parametrize("change", [{"role": "viewer"}, {"role": "user"}, {"disabled_at": "2026-01-01T00:00:00Z"}])
async def test_bootstrapping_again_makes_the_bootstrap_user_an_enabled_admin(auth, change):
    await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    assert (await revoke(auth, "key_bootstrap"))[0] == 200
    await store.update(auth.env, "users", "usr_bootstrap_admin", change)
    principal = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    assert (principal["role"], principal["permissions"]) == ("admin", ["*"])
    user = await store.get(auth.env, "users", "usr_bootstrap_admin")
    assert (user["role"], user["disabled_at"]) == ("admin", None)


@pytest.mark.parametrize("holder", [0, 99, 100, None])
async def test_bootstrap_is_refused_while_any_admin_holds_a_key_however_many_admins_there_are(auth, holder):
    # 101 admins (more than one page of 100), one of them (the first, the 100th, the last) or none with a key.
    admins = [await new_user(auth, "admin", id=f"usr_admin_{i:03d}") for i in range(101)]
    if holder is not None:
        await stored_key(auth, admins[holder]["id"], "key_0000000000000101", ["*"])
    assert await me(auth, BOOTSTRAP_KEY) == (401 if holder is not None else 200)
    assert (await store.get(auth.env, "api_keys", "key_bootstrap") is None) is (holder is not None)


# -- races --------------------------------------------------------------------------------------------------


async def test_concurrent_first_uses_of_a_revoked_bootstrap_key_all_take_it_over(auth):
    await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    assert (await revoke(auth, "key_bootstrap"))[0] == 200
    auth.env.BOOTSTRAP_ADMIN_KEY = other = "sk_test_the_next_bootstrap_value_0123456789abcdefgh"
    results = await asyncio.gather(*(auth.rpc("validate_api_key", other) for _ in range(5)))
    assert {(r["key_id"], tuple(r["permissions"])) for r in results} == {("key_bootstrap", ("*",))}


async def test_concurrent_revocations_of_one_key_all_answer_with_it_revoked(auth):
    _, record = await make_key(auth, ["db:read"])
    answers = await asyncio.gather(*(revoke(auth, record["id"]) for _ in range(5)))
    assert {(status, code) for status, code, _ in answers} == {(200, None)}
    assert len({data["revoked_at"] for _, _, data in answers}) == 1


# -- last use --------------------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """A stopped clock for `shared.clock`; `clock.now += timedelta(...)` moves it."""
    fake = SimpleNamespace(now=datetime.datetime.now(datetime.UTC).replace(microsecond=0))

    class StoppedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return fake.now.astimezone(tz)

    stand_in = SimpleNamespace(datetime=StoppedDatetime, UTC=datetime.UTC, timedelta=datetime.timedelta)
    monkeypatch.setattr(shared.clock, "datetime", stand_in)
    return fake


async def test_last_used_at_is_written_again_any_time_after_the_minute(auth, clock):
    key, record = await make_key(auth, ["db:read"])
    for wait in (0, 61, 3600):
        clock.now += datetime.timedelta(seconds=wait)
        await auth.rpc("validate_api_key", key)
        assert (await store.get(auth.env, "api_keys", record["id"]))["last_used_at"] == to_iso(clock.now)


async def test_bootstrapping_again_leaves_an_enabled_admin_bootstrap_user_as_it_was(auth, clock):
    await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    before = await store.get(auth.env, "users", "usr_bootstrap_admin")
    assert (await revoke(auth, "key_bootstrap"))[0] == 200
    clock.now += datetime.timedelta(minutes=5)
    assert (await auth.rpc("validate_api_key", BOOTSTRAP_KEY))["permissions"] == ["*"]
    assert await store.get(auth.env, "users", "usr_bootstrap_admin") == before  # not even updated_at moved
