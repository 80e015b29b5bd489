"""Exactly once: an event is recorded before it is processed, processed through the queue, marked done only
after its effect; a provider's retry of a done event changes nothing; a failed event is processed again on the
provider's retry; unknown types are stored and acknowledged. Also the 1 MiB limit and the per-address limit,
both before any signature is checked.
"""

import json

from conftest import QUEUE, body_of, deliver, post, stripe_event, stripe_headers

from dotdo_dev.config import load_worker
from dotdo_dev.runtime.bindings.rate_limits import RateLimit, RateLimitConfig, RateLimitCounters
from dotdo_dev.testing import envelope

RESEND = {"type": "email.bounced", "created_at": "2026-12-02T10:00:00.000Z", "data": {"email_id": "re_42"}}


async def billing(worker):
    import store

    return await store.find(worker.env, "billing_records", {})


async def test_an_event_is_recorded_queued_then_processed(worker, clock):
    reply = await post(worker, "stripe", stripe_event())
    data = (await envelope(reply))["data"]
    assert (data["status"], data["type"], data["event_id"]) == ("received", "payment_intent.succeeded", "evt_1")
    (message,) = worker.isolate.queue_store.messages(QUEUE)
    assert message["body"]["data"] == {"event": data["id"]}
    assert await billing(worker) == []  # nothing happens before the consumer runs
    await deliver(worker, clock)
    (record,) = await billing(worker)
    assert (record["kind"], record["stripe_id"], record["status"], record["amount"]) == (
        "payment",
        "pi_1",
        "succeeded",
        2000,
    )
    import store

    event = await store.get_event(worker.env, data["id"])
    assert (event["status"], event["attempts"]) == ("done", 1)
    assert event["processed_at"]


async def test_the_same_event_three_times_has_one_effect(worker, clock, email):
    first = await post(worker, "resend", RESEND, msg_id="msg_same")
    await deliver(worker, clock)
    again = [await post(worker, "resend", RESEND, msg_id="msg_same") for _ in range(2)]
    await deliver(worker, clock)
    assert [first.status, *(r.status for r in again)] == [200, 200, 200]
    assert [(await envelope(r))["data"]["duplicate"] for r in again] == [True, True]
    assert len(email.events) == 1
    assert worker.isolate.queue_store.messages(QUEUE) == []
    import store

    (event,) = (await store.list_events(worker.env, provider="resend", status=None, type=None, limit=10, offset=0))[0]
    assert (event["deliveries"], event["attempts"], event["status"]) == (3, 1, "done")


async def test_three_deliveries_before_processing_still_one_effect(worker, clock, email):
    """Retries that arrive while the first is still queued send nothing more; the effect happens once."""
    for _ in range(3):
        assert (await post(worker, "resend", RESEND, msg_id="msg_fast")).status == 200
    assert len(worker.isolate.queue_store.messages(QUEUE)) == 1
    await deliver(worker, clock)
    assert len(email.events) == 1


async def test_a_redelivered_message_of_a_done_event_is_acknowledged_without_effect(worker, clock, email):
    await post(worker, "resend", RESEND)
    (message,) = worker.isolate.queue_store.messages(QUEUE)
    await deliver(worker, clock)
    await worker.env.EVENTS.send(message["body"])  # the queue delivering the same message again (at least once)
    await deliver(worker, clock)
    assert len(email.events) == 1


async def test_a_failed_event_is_processed_again_on_the_providers_retry(worker, clock, email):
    email.failures = 100  # email is down for longer than the queue's retries
    reply = await post(worker, "resend", RESEND, msg_id="msg_fail")
    event_id = (await envelope(reply))["data"]["id"]
    await deliver(worker, clock)
    import store

    event = await store.get_event(worker.env, event_id)
    assert event["status"] == "failed"
    assert event["error"] == "UPSTREAM_ERROR: The email service failed"
    assert event["attempts"] == 6  # the first try and max_retries (5) more, then the dead-letter queue
    assert email.events == []
    email.failures = 0
    retry = await post(worker, "resend", RESEND, msg_id="msg_fail")  # the provider tries again later
    assert (await envelope(retry))["data"]["duplicate"] is True
    await deliver(worker, clock)
    assert len(email.events) == 1
    assert (await store.get_event(worker.env, event_id))["status"] == "done"


async def test_a_failure_once_is_retried_by_the_queue(worker, clock, email):
    email.failures = 1
    await post(worker, "resend", RESEND)
    await deliver(worker, clock)
    assert len(email.events) == 1
    (principal, args) = email.events[0]
    assert principal["id"] == "svc_webhooks"
    assert "email:events" in principal["permissions"]
    assert args == {"provider_id": "re_42", "type": "email.bounced", "created_at": "2026-12-02T10:00:00.000Z"}


async def test_without_the_email_service_the_event_fails_and_stays_retryable(worker, clock):
    del worker.env.EMAIL_SERVICE
    reply = await post(worker, "resend", RESEND)
    await deliver(worker, clock)
    import store

    event = await store.get_event(worker.env, (await envelope(reply))["data"]["id"])
    assert event["status"] == "failed"
    assert "EMAIL_SERVICE is not bound" in event["error"]


async def test_an_unknown_type_is_stored_and_acknowledged(worker, clock):
    reply = await post(worker, "stripe", stripe_event("customer.created", id="evt_unknown", obj={"id": "cus_9"}))
    assert reply.status == 200
    data = (await envelope(reply))["data"]
    assert data["status"] == "unhandled"
    assert worker.isolate.queue_store.messages(QUEUE) == []  # nothing to process
    import store

    event = await store.get_event(worker.env, data["id"])
    assert json.loads(event["payload"])["data"]["object"]["id"] == "cus_9"
    ping = await post(worker, "github", {"zen": "Keep it simple."}, event="ping", delivery="d-ping")
    assert (await envelope(ping))["data"]["status"] == "unhandled"


async def test_a_body_over_1_mib_is_413_before_verification(worker):
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    # no signature at all: the size is refused first, so no MAC over a megabyte is ever computed
    reply = await worker.fetch("/stripe", method="POST", body=body, headers={"content-type": "application/json"})
    assert reply.status == 413
    assert (await envelope(reply))["error"]["code"] == "PAYLOAD_TOO_LARGE"
    signed = await worker.fetch("/stripe", method="POST", body=body, headers=stripe_headers(body))
    assert signed.status == 413
    exactly = b'{"id": "evt_big", "type": "customer.created", "pad": "' + b"x" * (1024 * 1024 - 60) + b'"}'
    assert len(exactly) <= 1024 * 1024
    assert (await worker.fetch("/stripe", method="POST", body=exactly, headers=stripe_headers(exactly))).status == 200


def test_the_front_door_cuts_at_the_same_size():
    import receive

    for environment in (None, "staging", "development"):
        config = load_worker(receive.__file__.rsplit("/src/", 1)[0], environment=environment)
        assert int(config.vars["MAX_BODY_BYTES"]) == receive.MAX_BODY, environment


async def test_deliveries_are_limited_per_address(worker):
    limiter = RateLimit(RateLimitConfig("WEBHOOK_LIMITER", "9", 3, 60), counters=RateLimitCounters())
    worker.env.WEBHOOK_LIMITER = limiter
    body = body_of(stripe_event())
    a = {"cf-connecting-ip": "203.0.113.7"}
    codes = [
        (await worker.fetch("/stripe", method="POST", body=body, headers=stripe_headers(body) | a)).status
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    refused = await worker.fetch("/stripe", method="POST", body=body, headers={"content-type": "x"} | a)
    assert refused.status == 429  # before the signature: an unsigned flood costs no MAC
    assert refused.headers["retry-after"] == "60"
    other = {"cf-connecting-ip": "198.51.100.1"}
    assert (await worker.fetch("/stripe", method="POST", body=body, headers=stripe_headers(body) | other)).status == 200
    v6 = [{"cf-connecting-ip": f"2001:db8::{n}"} for n in (1, 2, 3, 4)]  # one /64: one budget
    codes = [(await worker.fetch("/github", method="POST", body=b"{}", headers=h)).status for h in v6]
    assert codes == [401, 401, 401, 429]


async def test_a_queue_that_refuses_leaves_the_event_failed_and_answers_503(worker, clock, email):
    class Broken:
        async def send(self, body, **options):
            raise RuntimeError("queue down")

    real = worker.env.EVENTS
    worker.env.EVENTS = Broken()
    reply = await post(worker, "resend", RESEND, msg_id="msg_q")
    assert reply.status == 503
    worker.env.EVENTS = real
    retry = await post(worker, "resend", RESEND, msg_id="msg_q")  # the provider retries the 503
    assert retry.status == 200
    await deliver(worker, clock)
    assert len(email.events) == 1
