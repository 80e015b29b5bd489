"""The admin API: list (filters, pagination), get one with its payload, replay one; webhooks:admin only. And the
schema: the migrations make exactly the declared tables."""

import pytest
from conftest import ADMIN, HOOKS, PRINCIPALS, QUEUE, USER, deliver, post, stripe_event

from dotdo_dev.testing import envelope, mcp_call, rpc_fails

RESEND = {"type": "email.opened", "created_at": "2026-12-02T10:00:00.000Z", "data": {"email_id": "re_1"}}


async def _three(worker, clock):
    await post(worker, "stripe", stripe_event(id="evt_a"))
    await post(worker, "stripe", stripe_event("customer.created", id="evt_b", obj={"id": "cus_1"}))
    await post(worker, "resend", RESEND)
    await deliver(worker, clock)


async def test_list_filters_and_pages(worker, clock):
    await _three(worker, clock)
    reply = await worker.fetch("/events?limit=2", headers=HOOKS)
    assert reply.status == 200
    body = await envelope(reply)
    assert len(body["data"]) == 2
    assert body["meta"]["total"] == 3
    assert body["meta"]["has_more"] is True
    assert "payload" not in body["data"][0]
    rest = await envelope(await worker.fetch("/events?limit=2&offset=2", headers=HOOKS))
    assert len(rest["data"]) == 1
    assert rest["meta"]["has_more"] is False
    stripe = await envelope(await worker.fetch("/events?provider=stripe", headers=HOOKS))
    assert {e["event_id"] for e in stripe["data"]} == {"evt_a", "evt_b"}
    unhandled = await envelope(await worker.fetch("/events?status=unhandled", headers=ADMIN))
    assert [e["type"] for e in unhandled["data"]] == ["customer.created"]
    by_type = await envelope(await worker.fetch("/events?type=email.opened", headers=HOOKS))
    assert [e["provider"] for e in by_type["data"]] == ["resend"]
    assert (await worker.fetch("/events?provider=paypal", headers=HOOKS)).status == 400


async def test_get_one_with_its_payload(worker, clock):
    reply = await post(worker, "stripe", stripe_event(id="evt_get"))
    event_id = (await envelope(reply))["data"]["id"]
    await deliver(worker, clock)
    event = (await envelope(await worker.fetch(f"/events/{event_id}", headers=HOOKS)))["data"]
    assert event["payload"]["id"] == "evt_get"
    assert event["status"] == "done"
    assert event["result"]["kind"] == "payment"
    assert (await worker.fetch("/events/whe_missing", headers=HOOKS)).status == 404


async def test_replay_processes_the_event_again(worker, clock, email):
    reply = await post(worker, "resend", RESEND)
    event_id = (await envelope(reply))["data"]["id"]
    await deliver(worker, clock)
    replayed = await worker.fetch(f"/events/{event_id}/replay", method="POST", headers=HOOKS, json={})
    assert replayed.status == 200
    assert (await envelope(replayed))["data"]["status"] == "received"
    assert len(worker.isolate.queue_store.messages(QUEUE)) == 1
    await deliver(worker, clock)
    assert len(email.events) == 2  # a replay is an admin's explicit request to apply it again
    assert (await worker.fetch("/events/whe_missing/replay", method="POST", headers=HOOKS, json={})).status == 404


async def test_a_replay_while_processing_is_a_conflict(worker, clock):
    import store

    reply = await post(worker, "resend", RESEND)
    event_id = (await envelope(reply))["data"]["id"]
    await store.claim(worker.env, event_id, 120)
    conflict = await worker.fetch(f"/events/{event_id}/replay", method="POST", headers=HOOKS, json={})
    assert (conflict.status, (await envelope(conflict))["error"]["code"]) == (409, "EVENT_BUSY")


async def test_the_events_api_needs_webhooks_admin(worker):
    assert (await worker.fetch("/events")).status == 401
    reply = await worker.fetch("/events", headers=USER)
    assert reply.status == 403
    assert (await envelope(reply))["error"]["details"] == {"permission": "webhooks:admin"}
    err = await rpc_fails(worker, "list_events", PRINCIPALS["user-token"], {})
    assert err.status == 403


async def test_over_rpc_and_mcp(worker, clock):
    await _three(worker, clock)
    page = await worker.rpc("list_events", PRINCIPALS["hooks-token"], {"provider": "resend"})
    assert [e["type"] for e in page["items"]] == ["email.opened"]
    status, reply = await mcp_call(
        worker, "tools/call", {"name": "webhooks_list_events", "arguments": {"limit": 1}}, headers=HOOKS
    )
    assert status == 200
    assert not reply["result"].get("isError")


async def test_receivers_are_public_and_the_rest_is_not(worker):
    import routes

    assert routes.PATHS == ("/stripe", "/workos", "/github", "/resend")
    assert (await worker.fetch("/stripe", method="POST", body=b"{}")).status == 401  # the signature's 401
    assert (await worker.fetch("/health")).status == 200


@pytest.mark.parametrize("table", ["events", "billing_records", "github_events", "directory_objects"])
async def test_the_migrations_make_the_declared_tables(worker, table):
    import store
    from tables import TABLES

    db = await store.DATABASE.open(worker.env)
    await db.ready()  # this database, whatever an earlier test's isolate did
    columns = {row["name"] for row in await db.all(f"PRAGMA table_info({table})")}
    assert columns == set(TABLES[table].all_columns)
