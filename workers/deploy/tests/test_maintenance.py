"""`prune_bundles` (the schedule service's weekly task, `deploy:maintain`): bundles outside each service's
newest deployments per environment are deleted; the live one and the one a rollback would use stay."""

from conftest import PRINCIPALS

import store
from dotdo_dev.testing import rpc_fails
from shared.principals import service_principal

SCHEDULE = service_principal("schedule", permissions=["deploy:maintain"])


async def deployment(env, service: str, sha: str, status: str = "uploaded", environment: str = "staging"):
    await store.put_bundle(env, sha, sha.encode())
    values = {"service": service, "environment": environment, "bundle_sha256": sha, "status": status}
    return await store.insert(env, values | {"action": "deploy"})


async def test_bundles_past_the_newest_deployments_are_deleted_but_live_and_rollback_ones_stay(worker):
    env = worker.env
    await deployment(env, "orders", "a" * 64)  # an old success: the one a rollback would re-upload
    await deployment(env, "orders", "b" * 64, status="failed")
    await deployment(env, "orders", "c" * 64, status="failed")
    await deployment(env, "orders", "d" * 64)  # live
    await deployment(env, "orders", "e" * 64, status="failed")
    await deployment(env, "orders", "f" * 64, status="failed")
    await deployment(env, "orders", "a" * 64, environment="production")  # another environment: its own count

    result = await worker.rpc("prune_bundles", SCHEDULE, {"keep": 2})
    assert result["bundles"] == 2  # b and c
    for sha in "adef":
        assert await store.get_bundle(env, sha * 64) == (sha * 64).encode(), sha
    for sha in "bc":
        assert await store.get_bundle(env, sha * 64) is None, sha
    assert (await worker.rpc("prune_bundles", SCHEDULE, {"keep": 2}))["bundles"] == 0


async def test_only_deploy_maintain_may_prune(worker):
    refused = await rpc_fails(worker, "prune_bundles", PRINCIPALS["deployer-token"], {})
    assert (refused.code, refused.details) == ("FORBIDDEN", {"permission": "deploy:maintain"})
    assert (await rpc_fails(worker, "prune_bundles", SCHEDULE, {"keep": 1})).code == "VALIDATION_ERROR"
