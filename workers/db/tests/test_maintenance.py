"""db's housekeeping for the schedule service (`db:maintain`): the audit log purged past its retention
(the purge audited), and usage totals over every owner."""

import pytest
from conftest import P_WRITER, PRINCIPALS

import records
from dotdo_dev.testing import rpc_fails
from shared.clock import iso_in
from shared.principals import service_principal
from storage import storage

SCHEDULE = service_principal("schedule", permissions=["db:maintain"])


async def test_the_audit_log_is_purged_past_its_retention_and_the_purge_is_audited(worker):
    env = worker.env
    await records.audit(env, {"actor": "usr_admin", "action": "sql", "target": "things"})
    db = await storage(env)
    await db.run("UPDATE audit_log SET created_at = ?", [iso_in(-100 * 86400)])
    await records.audit(env, {"actor": "usr_admin", "action": "sql", "target": "recent"})

    result = await worker.rpc("purge_audit_log", SCHEDULE, {"older_than_days": 90})
    assert result["audit_log"] == 1
    rows = await db.all("SELECT actor, action, target FROM audit_log ORDER BY created_at")
    assert [(r["actor"], r["action"]) for r in rows] == [("usr_admin", "sql"), ("svc_schedule", "purge_audit_log")]


@pytest.mark.parametrize("days", [0, 29, 3651])
async def test_a_retention_under_30_days_or_absurd_is_400(worker, days):
    refused = await rpc_fails(worker, "purge_audit_log", SCHEDULE, {"older_than_days": days})
    assert (refused.status, refused.code) == (400, "VALIDATION_ERROR")


async def test_usage_totals_count_every_owners_things(worker):
    for owner in (P_WRITER, PRINCIPALS["alice-token"]):
        thing = {"ns": "acme", "id": owner["id"], "type": "Note", "content": "x", "visibility": "private"}
        await worker.rpc("upsert_thing", owner, thing)
    usage = await worker.rpc("usage_stats", SCHEDULE, {})
    assert usage["things"] == 2  # private things of two owners, counted (not shown)
    assert (await worker.rpc("stats", P_WRITER))["things"] == 1


@pytest.mark.parametrize("operation", ["purge_audit_log", "usage_stats"])
async def test_only_db_maintain_may_run_housekeeping(worker, operation):
    refused = await rpc_fails(worker, operation, P_WRITER, {})
    assert (refused.code, refused.details) == ("FORBIDDEN", {"permission": "db:maintain"})
