"""The housekeeping the schedule service runs over RPC as its own principal (`webhooks:maintain`, which no role
grants): `purge_events` deletes processed events (done, unhandled) settled before the retention (7 days at least,
30 by default); `retry_failed` sends failed events to the queue again, the oldest first, a bounded batch, once their
queue retries are over (failed for an hour)."""

import pytest
from conftest import ADMIN, HOOKS, QUEUE, deliver, post, stripe_event

from dotdo_dev.testing import envelope, rpc_fails
from shared.clock import iso_in
from shared.principals import service_principal

SCHEDULE = service_principal("schedule", permissions=["webhooks:maintain"])
RESEND = {"type": "email.opened", "created_at": "2026-12-02T10:00:00.000Z", "data": {"email_id": "re_1"}}


async def event_of(worker, event_id):
    reply = await worker.fetch(f"/events/{event_id}", headers=HOOKS)
    return (await envelope(reply))["data"] if reply.status == 200 else None


async def set_times(worker, event_id, **columns):
    assignments = ", ".join(f"{c} = ?" for c in columns)
    statement = worker.env.WEBHOOKS_DB.prepare(f"UPDATE events SET {assignments} WHERE id = ?")
    await statement.bind(*columns.values(), event_id).run()


async def received(worker, payload, provider="stripe", **sign):
    return (await envelope(await post(worker, provider, payload, **sign)))["data"]["id"]


async def test_processed_events_past_the_default_30_days_go_and_the_others_stay(worker, clock):
    old_done = await received(worker, stripe_event(id="evt_old"))
    recent_done = await received(worker, stripe_event(id="evt_recent"))
    old_unhandled = await received(worker, stripe_event("charge.unknown_kind", id="evt_unknown"))
    await deliver(worker, clock)
    old_failed = await received(worker, RESEND, provider="resend", msg_id="msg_failed")
    old_received = await received(worker, stripe_event(id="evt_waiting"))
    assert (await event_of(worker, old_unhandled))["status"] == "unhandled"
    long_ago = iso_in(-31 * 86400)
    await set_times(worker, old_done, processed_at=long_ago, updated_at=long_ago)
    await set_times(worker, recent_done, processed_at=iso_in(-29 * 86400))
    await set_times(worker, old_unhandled, updated_at=long_ago)
    await set_times(worker, old_failed, status="failed", updated_at=long_ago)
    await set_times(worker, old_received, updated_at=long_ago)

    removed = await worker.rpc("purge_events", SCHEDULE, {})
    assert removed["events"] == 2
    assert removed["before"] < iso_in(-30 * 86400 + 60)
    assert await event_of(worker, old_done) is None
    assert await event_of(worker, old_unhandled) is None
    assert (await event_of(worker, recent_done))["status"] == "done"
    assert (await event_of(worker, old_failed))["status"] == "failed"
    assert (await event_of(worker, old_received))["status"] == "received"
    assert (await worker.rpc("purge_events", SCHEDULE, {}))["events"] == 0


async def test_a_retention_given_is_used_down_to_a_week(worker, clock):
    eight = await received(worker, stripe_event(id="evt_8"))
    six = await received(worker, stripe_event(id="evt_6"))
    await deliver(worker, clock)
    await set_times(worker, eight, processed_at=iso_in(-8 * 86400))
    await set_times(worker, six, processed_at=iso_in(-6 * 86400))
    assert (await worker.rpc("purge_events", SCHEDULE, {"older_than_days": 7}))["events"] == 1
    assert await event_of(worker, eight) is None
    assert await event_of(worker, six) is not None


@pytest.mark.parametrize("args", [{"older_than_days": 6}, {"older_than_days": 0}, {"older_than_days": 4000}, {"x": 1}])
async def test_a_retention_under_a_week_or_an_unknown_field_is_400(worker, args):
    refused = await rpc_fails(worker, "purge_events", SCHEDULE, args)
    assert (refused.status, refused.code) == (400, "VALIDATION_ERROR")


async def failed_event(worker, clock, email, msg_id):
    """A Resend event whose processing failed every try (email down), its queue retries over."""
    email.failures = 100
    event_id = await received(worker, RESEND | {"data": {"email_id": msg_id}}, provider="resend", msg_id=msg_id)
    await deliver(worker, clock)
    assert (await event_of(worker, event_id))["status"] == "failed"
    assert not worker.isolate.queue_store.pending(QUEUE)
    return event_id


async def test_failed_events_are_sent_again_oldest_first_in_a_bounded_batch(worker, clock, email):
    first, second, third = [await failed_event(worker, clock, email, f"msg_{n}") for n in range(3)]
    for n, event_id in enumerate((first, second, third)):
        await set_times(worker, event_id, updated_at=iso_in(-7200 + n))
    email.failures = 0

    batch = await worker.rpc("retry_failed", SCHEDULE, {"limit": 2})
    assert (batch["retried"], batch["count"], batch["has_more"]) == ([first, second], 2, True)
    assert (await event_of(worker, third))["status"] == "failed"
    await deliver(worker, clock)
    assert [(await event_of(worker, e))["status"] for e in (first, second)] == ["done", "done"]

    rest = await worker.rpc("retry_failed", SCHEDULE, {})
    assert (rest["retried"], rest["has_more"]) == ([third], False)
    await deliver(worker, clock)
    assert (await event_of(worker, third))["status"] == "done"
    assert sorted(args["provider_id"] for _, args in email.events) == ["msg_0", "msg_1", "msg_2"]
    assert (await worker.rpc("retry_failed", SCHEDULE, {}))["count"] == 0


async def test_an_event_failed_less_than_an_hour_ago_is_left_to_the_queue(worker, clock, email):
    event_id = await failed_event(worker, clock, email, "msg_recent")
    await set_times(worker, event_id, updated_at=iso_in(-600))
    assert (await worker.rpc("retry_failed", SCHEDULE, {}))["retried"] == []
    assert (await event_of(worker, event_id))["status"] == "failed"


@pytest.mark.parametrize("args", [{"limit": 0}, {"limit": 101}, {"x": 1}])
async def test_a_batch_out_of_bounds_is_400(worker, args):
    refused = await rpc_fails(worker, "retry_failed", SCHEDULE, args)
    assert (refused.status, refused.code) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize("operation", ["purge_events", "retry_failed"])
@pytest.mark.parametrize(
    ("principal", "code"),
    [(service_principal("other", permissions=["webhooks:admin"]), "FORBIDDEN"), (None, "UNAUTHORIZED")],
)
async def test_only_a_principal_holding_webhooks_maintain_may_run_them(worker, operation, principal, code):
    assert (await rpc_fails(worker, operation, principal, {})).code == code


@pytest.mark.parametrize("path", ["/maintenance/purge-events", "/maintenance/retry-failed"])
async def test_over_http_an_admin_may_and_a_webhooks_admin_may_not(worker, path):
    assert (await worker.fetch(path, method="POST", headers=HOOKS, json={})).status == 403
    assert (await worker.fetch(path, method="POST", headers=ADMIN, json={})).status == 200


def test_no_role_grants_webhooks_maintain():
    from shared.registry import SERVICES

    assert "webhooks:maintain" in SERVICES["webhooks"]["permissions"]
    assert not any("webhooks:maintain" in granted for granted in SERVICES["webhooks"]["roles"].values())
