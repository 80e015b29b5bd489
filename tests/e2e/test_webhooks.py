"""webhooks on the platform, real processes (dispatcher, auth, webhooks, gateway): a Stripe event signed with the
official library is accepted at `webhooks.do` and through the gateway with no token (its receivers are public
there), processed by webhooks' own queue consumer into a billing record, and seen done through the admin API;
the same event again is a duplicate; a bad signature is 401 at both doors; over 1 MiB is 413 from the front door.
A WorkOS directory user reaches the real auth as a user with its WorkOS id; a Resend event reaches the real email
service (signed with the official svix library), one without `created_at` at the time it was received."""

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
import stripe
from conftest import BOOTSTRAP, WEBHOOK_SECRETS, as_, running_platform
from svix.webhooks import Webhook

pytestmark = pytest.mark.asyncio(loop_scope="module")

STRIPE_SECRET = WEBHOOK_SECRETS["STRIPE_WEBHOOK_SECRET"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    services = ("auth", "webhooks", "gateway", "email")
    async with running_platform(tmp_path_factory.mktemp("state"), *services) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as client:
        yield client


def signed(event: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_SECRET, timestamp=int(time.time()))
    return body, {"stripe-signature": header, "content-type": "application/json"}


def payment(event_id: str, intent: str) -> dict:
    obj = {"id": intent, "object": "payment_intent", "amount": 4200, "currency": "eur", "customer": "cus_e2e"}
    return {"id": event_id, "type": "payment_intent.succeeded", "created": int(time.time()), "data": {"object": obj}}


async def settled(http, event_id: str, *, wait: float = 20.0) -> dict:
    """The event as the admin API shows it, once it is no longer waiting to be processed."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        reply = await http.get(f"/events/{event_id}", headers=as_(BOOTSTRAP, "webhooks.do"))
        assert reply.status_code == 200, reply.text
        event = reply.json()["data"]
        if event["status"] not in ("received", "processing") or asyncio.get_running_loop().time() > deadline:
            return event
        await asyncio.sleep(0.2)


async def test_a_stripe_event_at_webhooks_do_is_processed_once(http):
    body, headers = signed(payment("evt_e2e_1", "pi_e2e_1"))
    reply = await http.post("/stripe", content=body, headers=headers | {"host": "webhooks.do"})
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    assert (data["event_id"], data["duplicate"]) == ("evt_e2e_1", False)
    event = await settled(http, data["id"])
    assert event["status"] == "done"
    assert event["result"]["kind"] == "payment"
    again = await http.post("/stripe", content=body, headers=headers | {"host": "webhooks.do"})
    assert again.json()["data"]["duplicate"] is True
    assert (await settled(http, data["id"]))["attempts"] == 1  # processed once


async def test_the_receivers_are_public_through_the_gateway(http):
    body, headers = signed(payment("evt_e2e_2", "pi_e2e_2"))
    reply = await http.post("/webhooks/stripe", content=body, headers=headers | {"host": "gateway.do"})
    assert reply.status_code == 200, reply.text
    event = await settled(http, reply.json()["data"]["id"])
    assert event["status"] == "done"
    # the events API is not public there: no token is 401, a key without webhooks:admin would be 403
    assert (await http.get("/webhooks/events", headers={"host": "gateway.do"})).status_code == 401
    listed = await http.get("/webhooks/events?provider=stripe", headers=as_(BOOTSTRAP, "gateway.do"))
    assert {e["event_id"] for e in listed.json()["data"]} >= {"evt_e2e_1", "evt_e2e_2"}


async def test_a_bad_signature_is_401_at_both_doors(http):
    body, headers = signed(payment("evt_e2e_3", "pi_e2e_3"))
    tampered = body.replace(b"4200", b"4201")
    for host, path in (("webhooks.do", "/stripe"), ("gateway.do", "/webhooks/stripe")):
        reply = await http.post(path, content=tampered, headers=headers | {"host": host})
        assert (reply.status_code, reply.json()["error"]["code"]) == (401, "INVALID_SIGNATURE"), host


async def test_over_a_mebibyte_is_413(http):
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    reply = await http.post("/stripe", content=body, headers={"host": "webhooks.do", "stripe-signature": "t=1,v1=0"})
    assert reply.status_code == 413


async def test_a_workos_directory_user_becomes_an_auth_user(http, platform):
    secret = WEBHOOK_SECRETS["WORKOS_WEBHOOK_SECRET"]
    data = {"id": "directory_user_e2e", "first_name": "Grace", "last_name": "Hopper", "state": "active"}
    data["emails"] = [{"primary": True, "value": "grace@example.com"}]
    body = json.dumps({"id": "event_e2e_1", "event": "dsync.user.created", "data": data}).encode()
    t = int(time.time() * 1000)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {"workos-signature": f"t={t}, v1={mac}", "host": "webhooks.do", "content-type": "application/json"}
    reply = await http.post("/workos", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    event = await settled(http, reply.json()["data"]["id"])
    assert event["status"] == "done", event
    user = await http.get(f"/users/{event['result']['user']}", headers=as_(BOOTSTRAP, "auth.do"))
    assert (user.json()["data"]["email"], user.json()["data"]["workos_user_id"]) == (
        "grace@example.com",
        "directory_user_e2e",
    )


async def test_a_resend_event_reaches_the_email_service(http):
    body = json.dumps(
        {"type": "email.delivered", "created_at": "2026-12-02T10:00:00.000Z", "data": {"email_id": "re_not_ours"}}
    )
    now = int(time.time())
    resend = Webhook(WEBHOOK_SECRETS["RESEND_WEBHOOK_SECRET"])
    signature = resend.sign("msg_e2e_1", datetime.fromtimestamp(now, UTC), body)
    headers = {"svix-id": "msg_e2e_1", "svix-timestamp": str(now), "svix-signature": signature, "host": "webhooks.do"}
    reply = await http.post("/resend", content=body.encode(), headers=headers)
    assert reply.status_code == 200, reply.text
    event = await settled(http, reply.json()["data"]["id"])
    assert event["status"] == "done", event
    # email answered for a provider id none of its sends has (another sender on the Resend account)
    assert event["result"]["email"]["applied"] is False


async def test_a_resend_event_without_created_at_reaches_the_email_service_at_its_received_time(http):
    body = json.dumps({"type": "email.delivery_delayed", "data": {"email_id": "re_not_ours_either"}})
    now = int(time.time())
    resend = Webhook(WEBHOOK_SECRETS["RESEND_WEBHOOK_SECRET"])
    signature = resend.sign("msg_e2e_2", datetime.fromtimestamp(now, UTC), body)
    headers = {"svix-id": "msg_e2e_2", "svix-timestamp": str(now), "svix-signature": signature, "host": "webhooks.do"}
    reply = await http.post("/resend", content=body.encode(), headers=headers)
    assert reply.status_code == 200, reply.text
    event = await settled(http, reply.json()["data"]["id"])
    # email took the received time (it answers a missing time with 400): applied false, an id none of its sends has
    assert event["status"] == "done", event
    assert event["result"]["email"]["applied"] is False
