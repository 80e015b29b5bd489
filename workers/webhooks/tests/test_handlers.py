"""Each of the 28 event types and its effect (the README's table): Stripe's 7 on billing records, WorkOS's 8 on
auth's users and organisations and the directory objects kept here, GitHub's 4 recorded, Resend's 9 through
the email service (a Resend event without `created_at` at the time it was received)."""

import time

import pytest
from conftest import deliver, post, stripe_event

import handlers
import store
from dotdo_dev.testing import envelope

STRIPE = {
    "payment_intent.succeeded": ("payment", "succeeded"),
    "payment_intent.payment_failed": ("payment", "failed"),
    "customer.subscription.created": ("subscription", "active"),
    "customer.subscription.updated": ("subscription", "active"),
    "customer.subscription.deleted": ("subscription", "canceled"),
    "invoice.payment_succeeded": ("invoice", "paid"),
    "invoice.payment_failed": ("invoice", "payment_failed"),
}
WORKOS = [
    "dsync.activated",
    "dsync.deleted",
    "dsync.user.created",
    "dsync.user.updated",
    "dsync.user.deleted",
    "dsync.group.created",
    "dsync.group.updated",
    "dsync.group.deleted",
]
GITHUB = ["push", "pull_request", "issues", "release"]
RESEND = [
    "email.sent",
    "email.delivered",
    "email.delivery_delayed",
    "email.opened",
    "email.clicked",
    "email.bounced",
    "email.complained",
    "email.failed",
    "email.suppressed",
]


def test_there_are_28_handled_types():
    assert len(handlers.HANDLERS) == 28
    assert sorted(handlers.HANDLERS) == sorted(
        [("stripe", t) for t in STRIPE]
        + [("workos", t) for t in WORKOS]
        + [("github", t) for t in GITHUB]
        + [("resend", t) for t in RESEND]
    )


async def _done(worker, reply):
    event = await store.get_event(worker.env, (await envelope(reply))["data"]["id"])
    assert event["status"] == "done", event
    return event


@pytest.mark.parametrize("kind", list(STRIPE))
async def test_stripe_events_update_billing_records(worker, clock, kind):
    record_kind, status = STRIPE[kind]
    obj = {"id": f"{record_kind[:3]}_1", "customer": "cus_1", "currency": "eur", "status": "active"}
    obj |= {"amount": 500, "amount_paid": 500, "amount_due": 500}
    reply = await post(worker, "stripe", stripe_event(kind, id=f"evt_{kind}", obj=obj))
    await deliver(worker, clock)
    await _done(worker, reply)
    (record,) = await store.find(worker.env, "billing_records", {})
    assert (record["kind"], record["stripe_id"], record["status"], record["customer"]) == (
        record_kind,
        obj["id"],
        status,
        "cus_1",
    )
    assert record["amount"] == 500
    assert record["event_id"] == f"evt_{kind}"


async def test_an_older_stripe_event_does_not_undo_a_newer_one(worker, clock):
    now = int(time.time())
    sub = {"id": "sub_1", "status": "active", "customer": "cus_1"}
    await post(worker, "stripe", stripe_event("customer.subscription.deleted", id="evt_new", obj=sub, created=now))
    await post(worker, "stripe", stripe_event("customer.subscription.updated", id="evt_old", obj=sub, created=now - 60))
    await deliver(worker, clock)
    (record,) = await store.find(worker.env, "billing_records", {})
    assert (record["status"], record["event_id"]) == ("canceled", "evt_new")


def _workos(kind, data):
    return {"id": f"event_{kind}", "event": kind, "data": data, "created_at": "2026-12-02T10:00:00.000Z"}


async def test_workos_directory_activated_and_deleted(worker, clock, auth):
    directory = {"object": "directory", "id": "directory_1", "organization_id": "org_01W", "name": "Okta"}
    await post(worker, "workos", _workos("dsync.activated", directory))
    await deliver(worker, clock)
    assert auth.directory[-1][1] == {"action": "organization.upsert", "workos_org_id": "org_01W"}
    assert auth.directory[-1][0]["id"] == "svc_webhooks"
    (record,) = await store.find(worker.env, "directory_objects", {})
    assert (record["kind"], record["state"], record["organization_id"]) == ("directory", "active", "org_01W")
    await post(worker, "workos", _workos("dsync.deleted", directory | {"state": "deleting"}))
    await deliver(worker, clock)
    (record,) = await store.find(worker.env, "directory_objects", {})
    assert record["state"] == "deleted"


async def test_workos_directory_users_update_auth(worker, clock, auth):
    user = {
        "id": "directory_user_1",
        "organization_id": "org_01W",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "emails": [{"primary": False, "value": "old@example.com"}, {"primary": True, "value": "ada@example.com"}],
        "state": "active",
    }
    for kind, data in (
        ("dsync.user.created", user),
        ("dsync.user.updated", user | {"state": "inactive"}),
        ("dsync.user.deleted", user),
    ):
        reply = await post(worker, "workos", _workos(kind, data))
        await deliver(worker, clock)
        await _done(worker, reply)
    actions = [args for _, args in auth.directory]
    assert actions[0] == {
        "action": "user.upsert",
        "workos_user_id": "directory_user_1",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "workos_org_id": "org_01W",
        "active": True,
    }
    assert actions[1]["active"] is False
    assert actions[2] == {"action": "user.deactivate", "workos_user_id": "directory_user_1"}


async def test_workos_groups_are_kept_with_their_state(worker, clock):
    group = {"id": "directory_group_1", "directory_id": "directory_1", "organization_id": "org_1", "name": "Eng"}
    for kind in ("dsync.group.created", "dsync.group.updated", "dsync.group.deleted"):
        name = "Engineering" if kind.endswith("updated") else None
        await post(worker, "workos", _workos(kind, group | ({"name": name} if name else {})))
        await deliver(worker, clock)
        (record,) = await store.find(worker.env, "directory_objects", {})
        assert record["state"] == ("deleted" if kind.endswith("deleted") else "active")
    assert record["name"] == "Eng"


GITHUB_PAYLOADS = {
    "push": {"ref": "refs/heads/main", "after": "abc123", "repository": {"full_name": "o/r", "default_branch": "main"}},
    "pull_request": {"action": "opened", "pull_request": {"number": 7, "title": "Fix", "head": {"sha": "def456"}}},
    "issues": {"action": "opened", "issue": {"number": 9, "title": "Bug"}},
    "release": {"action": "published", "release": {"tag_name": "v1.0.0", "name": "One"}},
}


@pytest.mark.parametrize("kind", GITHUB)
async def test_github_events_are_recorded(worker, clock, kind):
    payload = GITHUB_PAYLOADS[kind] | {"sender": {"login": "octocat"}}
    payload.setdefault("repository", {"full_name": "o/r", "default_branch": "main"})
    reply = await post(worker, "github", payload, event=kind, delivery=f"d-{kind}")
    await deliver(worker, clock)
    await _done(worker, reply)
    (record,) = await store.find(worker.env, "github_events", {})
    assert (record["delivery_id"], record["event"], record["repository"], record["sender"]) == (
        f"d-{kind}",
        kind,
        "o/r",
        "octocat",
    )
    assert record["deploy_relevant"] is (kind in ("push", "release"))
    if kind in ("pull_request", "issues"):
        assert record["number"] in (7, 9)


async def test_a_push_to_another_branch_is_not_deploy_relevant(worker, clock):
    payload = {"ref": "refs/heads/feature", "repository": {"full_name": "o/r", "default_branch": "main"}}
    await post(worker, "github", payload, event="push", delivery="d-branch")
    await deliver(worker, clock)
    (record,) = await store.find(worker.env, "github_events", {})
    assert record["deploy_relevant"] is False


@pytest.mark.parametrize("kind", RESEND)
async def test_resend_events_reach_the_email_service(worker, clock, email, kind):
    payload = {"type": kind, "created_at": "2026-12-02T10:00:00.000Z", "data": {"email_id": "re_7", "to": ["a@b.c"]}}
    reply = await post(worker, "resend", payload, msg_id=f"msg_{kind}")
    await deliver(worker, clock)
    event = await _done(worker, reply)
    assert email.events[-1][1] == {"provider_id": "re_7", "type": kind, "created_at": "2026-12-02T10:00:00.000Z"}
    assert event["result"]["email"]["provider_id"] == "re_7"


async def test_a_resend_event_without_created_at_is_applied_at_the_time_it_was_received(worker, clock, email):
    from shared.clock import parse_iso

    payload = {"type": "email.delivered", "data": {"email_id": "re_8"}}
    reply = await post(worker, "resend", payload, msg_id="msg_no_time")
    await deliver(worker, clock)
    event = await _done(worker, reply)
    ((_, args),) = email.events
    assert args == {"provider_id": "re_8", "type": "email.delivered", "created_at": event["created_at"]}
    parse_iso(args["created_at"])  # a time with a zone, as email's apply_delivery_event requires


async def test_a_resend_event_whose_created_at_is_null_is_applied_at_the_time_it_was_received(worker, clock, email):
    payload = {"type": "email.failed", "created_at": None, "data": {"email_id": "re_9"}}
    reply = await post(worker, "resend", payload, msg_id="msg_null_time")
    await deliver(worker, clock)
    event = await _done(worker, reply)
    ((_, args),) = email.events
    assert (args["type"], args["created_at"]) == ("email.failed", event["created_at"])
