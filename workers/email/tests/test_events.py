"""Resend's delivery events (handed over by the webhooks service, which holds email:events): each updates the
send it names once, statuses only move forward, bounces and complaints suppress the recipients."""

import pytest
from conftest import ADMIN, PLAIN, SENDER, SENDER_P, WEBHOOKS_P, post

from dotdo_dev.testing import envelope, rpc_fails


async def sent_email(worker, body=PLAIN):
    reply = await post(worker, "/send", body, SENDER)
    assert reply.status == 201
    return (await envelope(reply))["data"]


async def event(worker, provider_id, type, at="2026-12-01T10:00:00.000Z"):
    return await worker.rpc(
        "apply_delivery_event", WEBHOOKS_P, {"provider_id": provider_id, "type": type, "created_at": at}
    )


async def record(worker, email_id):
    return (await envelope(await worker.fetch(f"/emails/{email_id}", headers=ADMIN)))["data"]


async def test_delivered_updates_the_send(worker, resend):
    email = await sent_email(worker)
    applied = await event(worker, email["provider_id"], "email.delivered", "2026-12-01T10:00:05.000Z")
    assert (applied["applied"], applied["status"], applied["email_id"]) == (True, "delivered", email["id"])
    now = await record(worker, email["id"])
    assert (now["status"], now["last_event"], now["delivered_at"]) == (
        "delivered",
        "email.delivered",
        "2026-12-01T10:00:05.000Z",
    )
    assert [e["type"] for e in now["events"]] == ["email.delivered"]


async def test_resend_time_forms_are_one_event(worker, resend):
    email = await sent_email(worker)
    first = await event(worker, email["provider_id"], "email.delivered", "2026-12-01 10:00:05.000+00")
    again = await event(worker, email["provider_id"], "email.delivered", "2026-12-01T10:00:05Z")
    assert (first["applied"], again["duplicate"]) == (True, True)
    assert (await record(worker, email["id"]))["delivered_at"] == "2026-12-01T10:00:05.000Z"


async def test_the_same_event_twice_has_one_effect(worker, resend):
    email = await sent_email(worker)
    first = await event(worker, email["provider_id"], "email.bounced")
    again = await event(worker, email["provider_id"], "email.bounced")
    assert (first["duplicate"], first["suppressed"]) == (False, ["ada@example.com"])
    assert (again["applied"], again["duplicate"]) == (False, True)
    assert len((await record(worker, email["id"]))["events"]) == 1


async def test_a_bounce_suppresses_the_recipient_and_the_next_send_is_refused(worker, resend):
    email = await sent_email(worker)
    await event(worker, email["provider_id"], "email.bounced")
    assert (await record(worker, email["id"]))["status"] == "bounced"
    listed = (await envelope(await worker.fetch("/suppressions", headers=ADMIN)))["data"]
    assert [(s["address"], s["reason"], s["email_id"]) for s in listed] == [("ada@example.com", "bounced", email["id"])]
    reply = await post(worker, "/send", PLAIN, SENDER)
    assert reply.status == 422
    assert (await envelope(reply))["error"]["code"] == "RECIPIENT_SUPPRESSED"
    assert len(resend.sent) == 1


async def test_a_complaint_suppresses_too(worker, resend):
    email = await sent_email(worker, PLAIN | {"to": ["a@example.com", "b@example.com"]})
    await event(worker, email["provider_id"], "email.delivered")
    applied = await event(worker, email["provider_id"], "email.complained", "2026-12-02T08:00:00.000Z")
    assert applied["status"] == "complained"
    assert sorted(applied["suppressed"]) == ["a@example.com", "b@example.com"]
    reasons = {s["reason"] for s in (await envelope(await worker.fetch("/suppressions", headers=ADMIN)))["data"]}
    assert reasons == {"complained"}


async def test_statuses_only_move_forward(worker, resend):
    email = await sent_email(worker)
    await event(worker, email["provider_id"], "email.bounced", "2026-12-01T10:00:09.000Z")
    await event(worker, email["provider_id"], "email.delivered", "2026-12-01T10:00:05.000Z")  # late, out of order
    await event(worker, email["provider_id"], "email.sent", "2026-12-01T10:00:01.000Z")
    assert (await record(worker, email["id"]))["status"] == "bounced"


async def test_delays_then_delivery(worker, resend):
    email = await sent_email(worker)
    await event(worker, email["provider_id"], "email.delivery_delayed", "2026-12-01T10:00:00.000Z")
    await event(worker, email["provider_id"], "email.delivery_delayed", "2026-12-01T11:00:00.000Z")
    now = await record(worker, email["id"])
    assert (now["status"], now["last_event_at"]) == ("delivery_delayed", "2026-12-01T11:00:00.000Z")
    await event(worker, email["provider_id"], "email.delivered", "2026-12-01T12:00:00.000Z")
    assert (await record(worker, email["id"]))["status"] == "delivered"


async def test_opens_and_clicks_stamp_the_first_time_and_keep_the_status(worker, resend):
    email = await sent_email(worker)
    await event(worker, email["provider_id"], "email.delivered", "2026-12-01T10:00:00.000Z")
    await event(worker, email["provider_id"], "email.opened", "2026-12-01T10:05:00.000Z")
    await event(worker, email["provider_id"], "email.opened", "2026-12-01T10:09:00.000Z")
    await event(worker, email["provider_id"], "email.clicked", "2026-12-01T10:06:00.000Z")
    now = await record(worker, email["id"])
    assert (now["status"], now["opened_at"], now["clicked_at"]) == (
        "delivered",
        "2026-12-01T10:05:00.000Z",
        "2026-12-01T10:06:00.000Z",
    )
    assert len(now["events"]) == 4


async def test_events_of_other_sends_or_types_are_acknowledged_not_applied(worker, resend):
    email = await sent_email(worker)
    unknown = await event(worker, "4ef9a417-02e9-4d39-ad75-9611e0fcc33c", "email.delivered")
    assert (unknown["applied"], unknown["reason"]) == (False, "no send here has this provider id")
    other = await event(worker, email["provider_id"], "contact.created")
    assert other["applied"] is False
    assert (await record(worker, email["id"]))["status"] == "sent"


async def test_events_need_email_events(worker, resend):
    email = await sent_email(worker)
    body = {"provider_id": email["provider_id"], "type": "email.bounced", "created_at": "2026-12-01T10:00:00Z"}
    err = await rpc_fails(worker, "apply_delivery_event", SENDER_P, body)
    assert (err.status, err.details["permission"]) == (403, "email:events")
    assert (await post(worker, "/events", body, SENDER)).status == 403
    assert (await post(worker, "/events", body, {})).status == 401
    assert (await post(worker, "/events", body | {"created_at": "yesterday"}, ADMIN)).status == 400
    assert (await post(worker, "/events", body, ADMIN)).status == 200  # admins hold every permission


@pytest.mark.parametrize("missing", ["provider_id", "type", "created_at"])
async def test_an_event_without_a_field_is_a_400(worker, missing):
    body = {"provider_id": "x", "type": "email.sent", "created_at": "2026-12-01T10:00:00Z"}
    body.pop(missing)
    err = await rpc_fails(worker, "apply_delivery_event", WEBHOOKS_P, body)
    assert err.status == 400


async def test_the_migrations_make_the_tables_as_declared(worker):
    from tables import TABLES

    await worker.fetch("/emails", headers=ADMIN)  # the first open migrates
    for name, spec in TABLES.items():
        rows = (await worker.env.EMAIL_DB.prepare(f'PRAGMA table_info("{name}")').all())["results"]
        assert {row["name"] for row in rows} == set(spec.all_columns), name
