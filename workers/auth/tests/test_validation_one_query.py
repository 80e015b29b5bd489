"""Validating a credential is one query to auth's own D1, with nothing cached between requests: an API key
with its owner and the owner's grants read together, a JWT's session by its id. Whatever changed in the
database since (a key revoked, an owner disabled or deleted, a grant given) counts on the very next call."""

from pathlib import Path

import pytest
from conftest import BOOTSTRAP_KEY, SECRETS
from helpers import make_key, new_user

import sessions
import store
from dotdo_dev.runtime.bindings.d1 import D1Database
from dotdo_dev.testing import WorkerHarness, rpc_fails
from shared.clock import iso_in

pytestmark = pytest.mark.asyncio(loop_scope="module")


class CountingD1(D1Database):
    """auth's D1, counting its round trips (each statement, batch or exec is one)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls = 0

    async def _call(self, function, *args):
        self.calls += 1
        return await super()._call(function, *args)


@pytest.fixture
def counted(tmp_path):
    """(auth, its counting D1) with the bootstrap key configured."""
    d1 = CountingD1(tmp_path / "auth-counted.sqlite3")
    environ = SECRETS | {"BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY}
    auth = WorkerHarness(Path(__file__).parents[1], state_dir=tmp_path, bindings={"AUTH_DB": d1}, environ=environ)
    return auth, d1


async def round_trips(d1: CountingD1, call) -> tuple[int, object]:
    before = d1.calls
    value = await call
    return d1.calls - before, value


async def test_an_api_key_is_validated_in_one_query_once_its_use_this_minute_is_recorded(counted):
    auth, d1 = counted
    user = await new_user(auth, "user")
    key, _ = await make_key(auth, ["db:read"], owner_id=user["id"])
    first, principal = await round_trips(d1, auth.rpc("validate_token", key))
    assert first == 2  # the key with its owner and grants; then last_used_at, at most once a minute
    assert principal["id"] == user["id"]
    assert principal["permissions"] == ["db:read"]
    for _ in range(3):
        again, principal = await round_trips(d1, auth.rpc("validate_token", key))
        assert again == 1
        assert principal["permissions"] == ["db:read"]


async def test_a_scope_only_a_grant_gives_is_still_one_query(counted):
    auth, d1 = counted
    user = await new_user(auth, "user")
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    await auth.rpc("grant_permission", admin, {"id": user["id"], "permission": "deploy"})
    await auth.rpc("grant_permission", admin, {"id": user["id"], "permission": "email:send", "org_id": "org_x"})
    key, _ = await make_key(auth, ["db:read", "deploy", "email:send"], owner_id=user["id"])
    await auth.rpc("validate_token", key)
    count, principal = await round_trips(d1, auth.rpc("validate_token", key))
    assert count == 1
    # an organisation's grant is not a platform-wide one: a key (no organisation) does not carry it
    assert principal["permissions"] == ["db:read", "deploy"]


async def test_a_jwt_is_validated_in_one_query(counted):
    auth, d1 = counted
    user = await new_user(auth, "user")
    issued = await sessions.create_session(auth.env, user)
    count, principal = await round_trips(d1, auth.rpc("validate_token", issued["access_token"]))
    assert count == 1  # the session, by id: the signature is checked without storage
    assert principal["session_id"] == issued["session_id"]


async def test_check_permission_of_a_key_is_one_query_and_sees_the_organisations_grants(counted):
    auth, d1 = counted
    user = await new_user(auth, "user")
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    await auth.rpc("grant_permission", admin, {"id": user["id"], "permission": "email:send", "org_id": "org_x"})
    key, _ = await make_key(auth, ["db:read", "email:send"], owner_id=user["id"])
    principal = await auth.rpc("validate_token", key)
    check = {"permission": "email:send", "org_id": "org_x"}
    count, answer = await round_trips(d1, auth.rpc("check_permission", principal, check))
    assert answer["allowed"] is True
    assert count == 1  # the key with its owner and the grants of that organisation
    assert (await auth.rpc("check_permission", principal, {"permission": "email:send"}))["allowed"] is False


async def test_a_revoked_key_is_refused_on_the_very_next_call(counted):
    auth, _ = counted
    user = await new_user(auth, "user")
    key, record = await make_key(auth, ["db:read"], owner_id=user["id"])
    assert (await auth.rpc("validate_token", key))["id"] == user["id"]
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    await auth.rpc("revoke_api_key", admin, {"id": record["id"]})
    err = await rpc_fails(auth, "validate_token", key)
    assert (err.status, err.code) == (401, "INVALID_API_KEY")
    assert key not in err.message


async def test_an_owner_disabled_deleted_or_a_key_expired_since_the_last_call_is_refused_next(counted):
    auth, _ = counted
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    disabled, deleted, expiring = [await new_user(auth, "user") for _ in range(3)]
    keys = {}
    for user in (disabled, deleted, expiring):
        keys[user["id"]], record = await make_key(auth, ["db:read"], owner_id=user["id"])
        assert (await auth.rpc("validate_token", keys[user["id"]]))["id"] == user["id"]
        if user is expiring:
            await store.update(auth.env, "api_keys", record["id"], {"expires_at": iso_in(-1)})
    await auth.rpc("set_user_disabled", admin, {"id": disabled["id"], "disabled": True})
    await store.delete_where(auth.env, "users", {"id": deleted["id"]})
    for user in (disabled, deleted, expiring):
        err = await rpc_fails(auth, "validate_token", keys[user["id"]])
        assert err.code == "INVALID_API_KEY"


async def test_a_grant_given_counts_on_the_next_call(counted):
    auth, _ = counted
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    user = await new_user(auth, "user")
    key, _ = await make_key(auth, ["db:read", "deploy"], owner_id=user["id"])
    assert (await auth.rpc("validate_token", key))["permissions"] == ["db:read"]  # deploy: not the user's
    await auth.rpc("grant_permission", admin, {"id": user["id"], "permission": "deploy"})
    assert (await auth.rpc("validate_token", key))["permissions"] == ["db:read", "deploy"]
