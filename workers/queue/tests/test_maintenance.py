"""`purge_dead_letters`, the housekeeping the schedule service runs over RPC as its own principal
(`queue:maintain`, which no role grants): dead letters recorded before the retention (7 days at least, 30 by
default) are deleted whatever their status, and a job still dead whose dead letter goes is marked discarded."""

import pytest
from conftest import ADMIN, WRITER, drain, enqueue

from dotdo_dev.testing import envelope, rpc_fails
from shared.clock import iso_in
from shared.principals import service_principal

SCHEDULE = service_principal("schedule", permissions=["queue:maintain"])
EMAIL = {"to": ["ada@example.com"], "subject": "Receipt", "text": "Thank you."}


async def dead_letter(worker, clock, *, days_ago: float) -> tuple[dict, dict]:
    """A send-email job dead-lettered (no email service bound: final at once), recorded `days_ago` days ago."""
    job = (await envelope(await enqueue(worker, WRITER, "send-email", EMAIL)))["data"]
    await drain(worker, clock)
    letter_id = (await get_job(worker, job["id"]))["dead_letter_id"]
    assert letter_id
    moment = iso_in(-days_ago * 86400)
    await (
        worker.env.QUEUE_DB.prepare("UPDATE dead_letters SET created_at = ? WHERE id = ?").bind(moment, letter_id).run()
    )
    return job, await get_letter(worker, letter_id)


async def get_letter(worker, letter_id):
    reply = await worker.fetch(f"/dead-letters/{letter_id}", headers=ADMIN)
    return (await envelope(reply))["data"] if reply.status == 200 else None


async def get_job(worker, job_id):
    return (await envelope(await worker.fetch(f"/jobs/{job_id}", headers=ADMIN)))["data"]


async def test_dead_letters_past_the_default_30_days_go_whatever_their_status(worker, clock):
    old_dead_job, old_dead = await dead_letter(worker, clock, days_ago=31)
    old_discarded_job, old_discarded = await dead_letter(worker, clock, days_ago=40)
    discard = await worker.fetch(f"/dead-letters/{old_discarded['id']}/discard", method="POST", headers=ADMIN, json={})
    assert discard.status == 200
    recent_job, recent = await dead_letter(worker, clock, days_ago=29)

    removed = await worker.rpc("purge_dead_letters", SCHEDULE, {})
    assert (removed["dead_letters"], removed["jobs_discarded"]) == (2, 1)
    assert removed["before"] < iso_in(-30 * 86400 + 60)

    assert await get_letter(worker, old_dead["id"]) is None
    assert await get_letter(worker, old_discarded["id"]) is None
    assert (await get_letter(worker, recent["id"]))["status"] == "dead"
    # a job whose dead letter is gone can no longer be replayed: discarded, not left dead
    purged_job = await get_job(worker, old_dead_job["id"])
    assert (purged_job["status"], purged_job["dead_letter_id"]) == ("discarded", None)
    assert (await get_job(worker, old_discarded_job["id"]))["status"] == "discarded"
    assert (await get_job(worker, recent_job["id"]))["status"] == "dead"
    again = await worker.rpc("purge_dead_letters", SCHEDULE, {})
    assert (again["dead_letters"], again["jobs_discarded"]) == (0, 0)


async def test_a_retention_given_is_used_down_to_a_week(worker, clock):
    _, eight_days = await dead_letter(worker, clock, days_ago=8)
    _, six_days = await dead_letter(worker, clock, days_ago=6)
    assert (await worker.rpc("purge_dead_letters", SCHEDULE, {"older_than_days": 7}))["dead_letters"] == 1
    assert await get_letter(worker, eight_days["id"]) is None
    assert await get_letter(worker, six_days["id"]) is not None


@pytest.mark.parametrize("args", [{"older_than_days": 6}, {"older_than_days": 0}, {"older_than_days": 4000}, {"x": 1}])
async def test_a_retention_under_a_week_or_an_unknown_field_is_400(worker, args):
    refused = await rpc_fails(worker, "purge_dead_letters", SCHEDULE, args)
    assert (refused.status, refused.code) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("principal", "code"),
    [
        (service_principal("other", permissions=["queue:admin", "queue:read", "queue:write"]), "FORBIDDEN"),
        (None, "UNAUTHORIZED"),
    ],
)
async def test_only_a_principal_holding_queue_maintain_may_run_it(worker, principal, code):
    assert (await rpc_fails(worker, "purge_dead_letters", principal, {})).code == code


async def test_over_http_an_admin_may_and_a_writer_may_not(worker):
    refused = await worker.fetch("/maintenance/purge-dead-letters", method="POST", headers=WRITER, json={})
    assert refused.status == 403
    reply = await worker.fetch("/maintenance/purge-dead-letters", method="POST", headers=ADMIN, json={})
    assert reply.status == 200
    assert (await envelope(reply))["data"]["dead_letters"] == 0


def test_no_role_grants_queue_maintain():
    from shared.registry import SERVICES

    assert "queue:maintain" in SERVICES["queue"]["permissions"]
    assert not any("queue:maintain" in granted for granted in SERVICES["queue"]["roles"].values())
