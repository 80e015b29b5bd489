"""The bootstrap admin key's lifecycle: stored on first use, valid only while it is still configured.

Each test has an empty database of its own (`auth`): bootstrap depends on which admin keys exist.
"""

import pytest
from conftest import BOOTSTRAP_KEY, bearer
from helpers import make_key

import store
from shared.errors import from_rpc_exception

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: A second bootstrap value in the API-key format (`sk_test_<16>_<43>`): stored under its own record id.
WELL_FORMED = "sk_test_0123456789abcdef_" + "W" * 43


async def refused(auth, key: str) -> tuple[int, str]:
    """The status and code `/me` answers `key` with."""
    reply = await auth.fetch("/me", headers=bearer(key))
    return reply.status, ((await reply.json()).get("error") or {}).get("code")


async def rpc_error(auth, method: str, *args) -> tuple[int, str]:
    with pytest.raises(Exception, match="dotdo-error") as info:
        await auth.rpc(method, *args)
    err = from_rpc_exception(info.value)
    return err.status, err.code


async def test_the_stored_bootstrap_key_is_marked_and_listed_as_such(auth):
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    assert (admin["role"], admin["permissions"], admin["key_id"]) == ("admin", ["*"], "key_bootstrap")
    _, real = await make_key(auth, ["db:read"], as_key=BOOTSTRAP_KEY)
    listed = {k["id"]: k for k in (await auth.rpc("list_api_keys", admin))["items"]}
    assert listed["key_bootstrap"]["bootstrap"] is True
    assert listed["key_bootstrap"]["created_by"] == "bootstrap"
    assert listed[real["id"]]["bootstrap"] is False


@pytest.mark.parametrize("absent", ["", None, "delete"])
async def test_the_bootstrap_key_stops_working_once_the_secret_is_emptied(auth, absent):
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    real, _ = await make_key(auth, ["db:read"], as_key=BOOTSTRAP_KEY)  # a key made with it
    if absent == "delete":
        del auth.env.BOOTSTRAP_ADMIN_KEY
    else:
        auth.env.BOOTSTRAP_ADMIN_KEY = absent
    assert await refused(auth, BOOTSTRAP_KEY) == (401, "INVALID_API_KEY")
    assert await rpc_error(auth, "validate_token", BOOTSTRAP_KEY) == (401, "INVALID_API_KEY")
    # a principal obtained before no longer holds anything
    assert (await auth.rpc("check_permission", admin, "db:read"))["allowed"] is False
    # the keys made with it are real keys: they go on working
    assert (await auth.rpc("validate_api_key", real))["permissions"] == ["db:read"]


async def test_the_bootstrap_key_stops_working_once_the_secret_is_changed(auth):
    admin = await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    auth.env.BOOTSTRAP_ADMIN_KEY = "sk_test_a_changed_bootstrap_value_0123456789abcdef"
    assert await refused(auth, BOOTSTRAP_KEY) == (401, "INVALID_API_KEY")
    assert (await auth.rpc("check_permission", admin, "*"))["allowed"] is False
    # the new value is not stored either: the old key is still an unrevoked admin key
    assert await refused(auth, auth.env.BOOTSTRAP_ADMIN_KEY) == (401, "INVALID_API_KEY")
    # configured again, the stored key is valid again (it is checked on every use, not deleted)
    auth.env.BOOTSTRAP_ADMIN_KEY = BOOTSTRAP_KEY
    assert (await auth.rpc("validate_api_key", BOOTSTRAP_KEY))["permissions"] == ["*"]


async def test_bootstrap_is_refused_while_an_admin_holds_a_key_even_a_well_formed_value(auth):
    await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    admin_user = await store.insert(auth.env, "users", {"role": "admin"})
    admin_key, admin_record = await make_key(auth, ["*"], owner_id=admin_user["id"])
    revoked = await auth.fetch("/apikeys/key_bootstrap", method="DELETE", headers=bearer(admin_key))
    assert revoked.status == 200
    auth.env.BOOTSTRAP_ADMIN_KEY = WELL_FORMED
    assert await refused(auth, WELL_FORMED) == (401, "INVALID_API_KEY")
    # every admin key revoked: the configured value bootstraps again
    gone = await auth.fetch(f"/apikeys/{admin_record['id']}", method="DELETE", headers=bearer(admin_key))
    assert gone.status == 200
    principal = await auth.rpc("validate_api_key", WELL_FORMED)
    assert (principal["role"], principal["permissions"]) == ("admin", ["*"])
    assert principal["key_id"] == "key_0123456789abcdef"
    # and once it is stored, the revoked one stays revoked
    auth.env.BOOTSTRAP_ADMIN_KEY = BOOTSTRAP_KEY
    assert await refused(auth, BOOTSTRAP_KEY) == (401, "INVALID_API_KEY")


async def test_a_revoked_bootstrap_key_is_taken_over_once_no_admin_holds_a_key(auth):
    await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    reply = await auth.fetch("/apikeys/key_bootstrap", method="DELETE", headers=bearer(BOOTSTRAP_KEY))
    assert (await reply.json())["data"]["revoked_at"] is not None
    # the same record id, revoked: a new value takes it over with a new hash
    other = "sk_test_the_next_bootstrap_value_0123456789abcdefgh"
    assert await refused(auth, other) == (401, "INVALID_API_KEY")  # not configured yet
    auth.env.BOOTSTRAP_ADMIN_KEY = other
    principal = await auth.rpc("validate_api_key", other)
    assert (principal["key_id"], principal["permissions"]) == ("key_bootstrap", ["*"])
    auth.env.BOOTSTRAP_ADMIN_KEY = BOOTSTRAP_KEY
    assert await refused(auth, BOOTSTRAP_KEY) == (401, "INVALID_API_KEY")
    assert await refused(auth, other) == (401, "INVALID_API_KEY")


async def test_bootstrap_makes_the_bootstrap_user_an_enabled_admin_again(auth):
    await auth.rpc("validate_api_key", BOOTSTRAP_KEY)
    await auth.fetch("/apikeys/key_bootstrap", method="DELETE", headers=bearer(BOOTSTRAP_KEY))
    await store.update(
        auth.env, "users", "usr_bootstrap_admin", {"role": "viewer", "disabled_at": "2026-01-01T00:00:00Z"}
    )
    assert (await auth.rpc("validate_api_key", BOOTSTRAP_KEY))["permissions"] == ["*"]


@pytest.mark.parametrize(
    "configured",
    [
        "sk_test_short",
        "sk_" + "a" * 28,  # 31 characters
        "pk_test_" + "a" * 40,  # long enough, not `sk_`
        "x" * 48,
    ],
)
async def test_bootstrap_never_with_a_short_or_non_sk_value(auth, configured):
    auth.env.BOOTSTRAP_ADMIN_KEY = configured
    if configured.startswith("sk_"):
        assert await refused(auth, configured) == (401, "INVALID_API_KEY")
    else:  # not an API key at all: validate_token reads it as a JWT
        assert await refused(auth, configured) == (401, "INVALID_TOKEN")
        assert await rpc_error(auth, "validate_api_key", configured) == (401, "INVALID_API_KEY")
    assert await store.get(auth.env, "users", "usr_bootstrap_admin") is None


async def test_bootstrap_with_exactly_32_characters(auth):
    auth.env.BOOTSTRAP_ADMIN_KEY = "sk_" + "a" * 29
    assert (await auth.rpc("validate_api_key", "sk_" + "a" * 29))["permissions"] == ["*"]


async def test_a_key_over_the_length_cap_is_refused_even_when_configured(auth):
    # Were the 512-character cap gone, this configured value would be stored as the admin key.
    auth.env.BOOTSTRAP_ADMIN_KEY = long = "sk_test_" + "x" * 600
    assert await rpc_error(auth, "validate_api_key", long) == (401, "INVALID_API_KEY")
    assert await store.get(auth.env, "api_keys", "key_bootstrap") is None
