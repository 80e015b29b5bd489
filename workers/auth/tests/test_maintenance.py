"""`remove_expired`, the housekeeping the schedule service runs over RPC as its own principal
(`auth:maintain`): expired sign-in states, refresh tokens and long-ended sessions; API keys expired or
revoked more than 90 days ago, never the bootstrap key's record."""

import pytest
from conftest import BOOTSTRAP_KEY, bearer

import api_keys
import store
from dotdo_dev.testing import rpc_fails
from shared.clock import iso_in
from shared.principals import service_principal

SCHEDULE = service_principal("schedule", permissions=["auth:maintain"])


async def test_the_sessions_scope_deletes_expired_states_tokens_and_old_sessions(auth):
    env = auth.env
    old = await store.insert(env, "oauth_states", {"redirect_uri": "https://x", "expires_at": "2020-01-01T00:00:00Z"})
    live = await store.insert(env, "oauth_states", {"redirect_uri": "https://x", "expires_at": "2099-01-01T00:00:00Z"})
    ended = await store.insert(env, "sessions", {"user_id": "usr_gone", "expires_at": "2020-01-01T00:00:00Z"})
    recent = await store.insert(env, "sessions", {"user_id": "usr_gone", "expires_at": iso_in(-86400)})
    removed = await auth.rpc("remove_expired", SCHEDULE, {"scope": "sessions"})
    assert removed == {"oauth_states": 1, "refresh_tokens": 0, "sessions": 1}
    assert await store.get(env, "oauth_states", old["id"]) is None
    assert await store.get(env, "sessions", ended["id"]) is None
    assert await store.get(env, "oauth_states", live["id"]) is not None
    assert await store.get(env, "sessions", recent["id"]) is not None  # ended a day ago: kept 30 days


async def test_the_api_keys_scope_deletes_keys_ended_90_days_ago_but_not_the_bootstrap_record(auth):
    env = auth.env
    assert (await auth.fetch("/me", headers=bearer(BOOTSTRAP_KEY))).status == 200  # stores the bootstrap key
    base = {"owner_id": "usr_x", "key_hash": "h", "environment": "live", "last4": "abcd", "name": "k"}
    expired_long_ago = await store.insert(env, "api_keys", base | {"expires_at": iso_in(-100 * 86400)})
    revoked_long_ago = await store.insert(env, "api_keys", base | {"revoked_at": iso_in(-91 * 86400)})
    revoked_lately = await store.insert(env, "api_keys", base | {"revoked_at": iso_in(-10 * 86400)})
    live = await store.insert(env, "api_keys", base)
    await store.update(env, "api_keys", api_keys.BOOTSTRAP_ID, {"revoked_at": iso_in(-365 * 86400)})

    assert await auth.rpc("remove_expired", SCHEDULE, {"scope": "api_keys"}) == {"api_keys": 2}
    assert await store.get(env, "api_keys", expired_long_ago["id"]) is None
    assert await store.get(env, "api_keys", revoked_long_ago["id"]) is None
    for kept in (revoked_lately["id"], live["id"], api_keys.BOOTSTRAP_ID):
        assert await store.get(env, "api_keys", kept) is not None


@pytest.mark.parametrize(
    ("principal", "code"),
    [
        (service_principal("other", permissions=["db:read", "db:write"]), "FORBIDDEN"),
        (None, "UNAUTHORIZED"),
    ],
)
async def test_only_a_principal_holding_auth_maintain_may_run_it(auth, principal, code):
    assert (await rpc_fails(auth, "remove_expired", principal, {"scope": "sessions"})).code == code


async def test_an_unknown_scope_is_400(auth):
    refused = await rpc_fails(auth, "remove_expired", SCHEDULE, {"scope": "everything"})
    assert (refused.status, refused.code) == (400, "VALIDATION_ERROR")


def test_auth_has_no_cron_of_its_own_the_schedule_service_runs_its_housekeeping(auth):
    from conftest import ROOT

    from dotdo_dev.config import load_worker

    for environment in (None, "staging", "development"):
        assert load_worker(ROOT, environment=environment).crons == [], environment
    assert not hasattr(auth.isolate.module.Default, "scheduled")
