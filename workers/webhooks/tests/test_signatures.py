"""The four receivers against payloads signed by the providers' official libraries (stripe, svix) or by hand as
documented (WorkOS, checked with workos-python's own verifier; GitHub, with GitHub's documented test vector).
Valid: 200. One byte changed, a stale timestamp, the wrong secret, a missing or malformed header: 401, never 500.
"""

import base64
import hashlib
import hmac
import json
import time

import pytest
import stripe
from conftest import (
    GITHUB_SECRET,
    RESEND_SECRET,
    SIGNERS,
    STRIPE_SECRET,
    WORKOS_SECRET,
    body_of,
    github_headers,
    post,
    resend_headers,
    stripe_event,
    stripe_headers,
    workos_headers,
)
from svix.webhooks import Webhook, WebhookVerificationError
from workos.webhooks._verification import verify_header as workos_verify

from dotdo_dev.testing import envelope

PAYLOADS = {
    "stripe": stripe_event(),
    "workos": {"id": "event_01", "event": "dsync.group.created", "data": {"id": "directory_group_1", "name": "Eng"}},
    "github": {"ref": "refs/heads/main", "repository": {"full_name": "dot-do/workers", "default_branch": "main"}},
    "resend": {"type": "email.delivered", "created_at": "2026-12-02T10:00:00.000Z", "data": {"email_id": "re_1"}},
}
PROVIDERS = list(PAYLOADS)


def test_the_official_verifiers_accept_what_the_tests_sign():
    """The test peers agree with the providers' own checks, so the receivers are held to the real schemes."""
    body = body_of(PAYLOADS["stripe"])
    stripe.Webhook.construct_event(body.decode(), stripe_headers(body)["stripe-signature"], STRIPE_SECRET)
    body = body_of(PAYLOADS["workos"])
    workos_verify(event_body=body, event_signature=workos_headers(body)["workos-signature"], secret=WORKOS_SECRET)
    body = body_of(PAYLOADS["resend"])
    Webhook(RESEND_SECRET).verify(body, resend_headers(body))
    # GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!"
    assert github_headers(b"Hello, World!", secret=GITHUB_SECRET)["x-hub-signature-256"] == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )
    with pytest.raises(WebhookVerificationError):
        Webhook(RESEND_SECRET).verify(body + b" ", resend_headers(body))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_validly_signed_delivery_is_accepted(worker, provider):
    reply = await post(worker, provider, PAYLOADS[provider])
    assert reply.status == 200, await reply.text()
    data = (await envelope(reply))["data"]
    assert data["received"] is True
    assert data["duplicate"] is False


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_one_byte_changed_is_refused(worker, provider):
    body = body_of(PAYLOADS[provider])
    headers = SIGNERS[provider](body)
    tampered = body[:10] + bytes([body[10] ^ 1]) + body[11:]  # one bit of one byte
    reply = await worker.fetch(f"/{provider}", method="POST", body=tampered, headers=headers)
    assert reply.status == 401
    assert (await envelope(reply))["error"]["code"] == "INVALID_SIGNATURE"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_wrong_secret_is_refused(worker, provider):
    other = {
        "stripe": {"secret": "whsec_someone_else"},
        "workos": {"secret": "someone-else"},
        "github": {"secret": "someone-else"},
        "resend": {"secret": "whsec_" + base64.b64encode(b"someone else's key").decode()},
    }[provider]
    reply = await post(worker, provider, PAYLOADS[provider], **other)
    assert reply.status == 401
    assert (await envelope(reply))["error"]["code"] == "INVALID_SIGNATURE"


@pytest.mark.parametrize(
    ("provider", "field", "offset"),
    [
        ("stripe", "timestamp", -310),
        ("workos", "timestamp_ms", -190_000),
        ("workos", "timestamp_ms", 190_000),  # WorkOS refuses the future too
        ("resend", "timestamp", -310),
        ("resend", "timestamp", 310),
    ],
)
async def test_a_stale_timestamp_is_refused(worker, provider, field, offset):
    now = time.time() * (1000 if field == "timestamp_ms" else 1)
    reply = await post(worker, provider, PAYLOADS[provider], **{field: int(now) + offset})
    assert reply.status == 401
    assert (await envelope(reply))["error"]["code"] == "STALE_SIGNATURE"


async def test_within_the_tolerance_is_accepted(worker):
    assert (await post(worker, "stripe", PAYLOADS["stripe"], timestamp=int(time.time()) - 250)).status == 200
    body = body_of(PAYLOADS["workos"])
    assert (await post(worker, "workos", body, timestamp_ms=int(time.time() * 1000) + 150_000)).status == 200


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_missing_signature_is_refused(worker, provider):
    reply = await post(worker, provider, PAYLOADS[provider], headers={"content-type": "application/json"})
    assert reply.status == 401
    error = (await envelope(reply))["error"]
    assert error["code"] == "MISSING_SIGNATURE"
    assert error["details"] == {"provider": provider}
    assert "www-authenticate" not in reply.headers


@pytest.mark.parametrize(
    ("provider", "headers"),
    [
        ("stripe", {"stripe-signature": "v1=abc"}),
        ("stripe", {"stripe-signature": "t=soon,v1=abc"}),
        ("workos", {"workos-signature": "t=1,v1=abc"}),  # WorkOS separates with ", "
        ("github", {"x-hub-signature-256": "sha1=abc"}),
        ("resend", {"svix-id": "m", "svix-timestamp": "yesterday", "svix-signature": "v1,abc"}),
        ("stripe", {"stripe-signature": "t=1,v1=\u00e9\u00e9"}),  # not ASCII: still a 401, not a TypeError
    ],
)
async def test_a_malformed_header_is_refused(worker, provider, headers):
    reply = await post(worker, provider, PAYLOADS[provider], headers=headers)
    assert reply.status == 401
    assert (await envelope(reply))["error"]["code"] in ("MALFORMED_SIGNATURE", "INVALID_SIGNATURE")


async def test_stripe_accepts_any_of_several_v1_signatures(worker):
    """While a secret is rolled Stripe signs with both: any v1 that matches is enough."""
    body = body_of(PAYLOADS["stripe"])
    header = stripe_headers(body)["stripe-signature"]
    t = header.split(",")[0]
    rolled = f"{t},v1={'0' * 64},{header.split(',')[1]},v0=ignored"
    reply = await worker.fetch("/stripe", method="POST", body=body, headers={"stripe-signature": rolled})
    assert reply.status == 200


async def test_resend_accepts_any_of_a_signature_list(worker):
    body = body_of(PAYLOADS["resend"])
    headers = resend_headers(body)
    headers["svix-signature"] = "v1,bm90IGl0 " + headers["svix-signature"]
    assert (await worker.fetch("/resend", method="POST", body=body, headers=headers)).status == 200


async def test_a_missing_secret_is_503_not_500(worker):
    del worker.env.GITHUB_WEBHOOK_SECRET
    reply = await post(worker, "github", PAYLOADS["github"])
    assert reply.status == 503
    assert (await envelope(reply))["error"]["code"] == "WEBHOOK_NOT_CONFIGURED"


async def test_a_verified_body_that_is_not_an_event_is_400(worker):
    body = json.dumps(["not", "an", "object"]).encode()
    reply = await worker.fetch("/stripe", method="POST", body=body, headers=stripe_headers(body))
    assert reply.status == 400
    body = json.dumps({"type": "x.y"}).encode()  # no id
    reply = await worker.fetch("/stripe", method="POST", body=body, headers=stripe_headers(body))
    assert (reply.status, (await envelope(reply))["error"]["code"]) == (400, "INVALID_EVENT")
    body = b"{}"
    headers = github_headers(body)
    del headers["x-github-delivery"]
    reply = await worker.fetch("/github", method="POST", body=body, headers=headers)
    assert (reply.status, (await envelope(reply))["error"]["code"]) == (400, "INVALID_EVENT")


def test_github_signature_is_over_the_raw_body():
    """A receiver that re-serialised the JSON would compute another MAC: ours signs the bytes as sent."""
    body = b'{"a":  1}'
    mac = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert github_headers(body)["x-hub-signature-256"] == f"sha256={mac}"
