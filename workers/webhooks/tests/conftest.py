"""The webhooks worker in this process, on a D1 database and a queue store of its own.

The signing secrets are given as the secrets would be (the Svix one is whsec_ + base64, as Resend's are).
`AUTH_SERVICE` is a stand-in answering `validate_token` for the tokens below and recording the directory events
auth is asked to apply; `EMAIL_SERVICE` a stand-in recording the delivery events, which fails on demand.
`deliver` runs the consumer until nothing is due (retries included: the queue store's clock is moved past
each backoff).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe
from svix.webhooks import Webhook

from dotdo_dev.testing import StandInAuth, WorkerHarness, bearer, worker_root

ROOT = worker_root(__file__)  # puts workers/webhooks/src on sys.path, as Cloudflare's module root

QUEUE = "webhooks-events"
STRIPE_SECRET = "whsec_stripe_test_0123456789abcdefghijklmnop"
WORKOS_SECRET = "workos-test-secret-0123456789abcdef"
GITHUB_SECRET = "It's a Secret to Everybody"
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-test-key-0123456789ab").decode()
SECRETS = {
    "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
    "WORKOS_WEBHOOK_SECRET": WORKOS_SECRET,
    "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
    "RESEND_WEBHOOK_SECRET": RESEND_SECRET,
}

PRINCIPALS = {
    "admin-token": {"id": "usr_admin", "type": "user", "role": "admin", "permissions": ["*"]},
    "hooks-token": {"id": "usr_hooks", "type": "user", "role": "user", "permissions": ["webhooks:admin"]},
    "user-token": {"id": "usr_user", "type": "user", "role": "user", "permissions": ["apikeys:read"]},
}
ADMIN, HOOKS, USER = (bearer(t) for t in ("admin-token", "hooks-token", "user-token"))


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Auth(StandInAuth):
    """auth: validate_token for the tokens above, and `apply_directory_event` recorded (users by WorkOS id)."""

    def __init__(self, principals: dict[str, dict[str, Any]]) -> None:
        super().__init__(principals)
        self.directory: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.users: dict[str, dict[str, Any]] = {}

    async def apply_directory_event(self, principal: Any, args: Any) -> dict[str, Any]:
        self.directory.append((dict(principal), dict(args)))
        if args["action"] == "organization.upsert":
            return {"id": "org_" + args["workos_org_id"]}
        user = self.users.setdefault(args["workos_user_id"], {"id": f"usr_{len(self.users) + 1}"})
        user.update({k: v for k, v in args.items() if k != "action"})
        if args["action"] == "user.deactivate":
            user["active"] = False
        return dict(user)


class Email:
    """email: `apply_delivery_event` recorded; `failures` calls fail first (as a down service would)."""

    def __init__(self) -> None:
        self.events: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.failures = 0

    async def apply_delivery_event(self, principal: Any, args: Any) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise Exception("email is unavailable")
        self.events.append((dict(principal), dict(args)))
        return {"provider_id": args["provider_id"], "status": args["type"].removeprefix("email.")}


@pytest.fixture
def principals():
    return PRINCIPALS


@pytest.fixture
def auth(principals):
    return Auth(principals)


@pytest.fixture
def email():
    return Email()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def bindings(auth, email):
    return {"AUTH_SERVICE": auth, "EMAIL_SERVICE": email, "RETRY_BASE_SECONDS": "1"}


@pytest.fixture
def worker(tmp_path, bindings, clock):
    return WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings, environ=dict(SECRETS), clock=clock)


async def deliver(worker, clock, *, rounds: int = 20) -> None:
    """Deliver every due message, moving the clock past each retry's delay, until none is left."""
    store = worker.isolate.queue_store
    for _ in range(rounds):
        delivered = await worker.deliver_queue(QUEUE)
        if not store.pending(QUEUE):
            return
        if not delivered:
            clock.advance(3600)
    raise AssertionError("the queue did not drain")


# -- signing, as each provider does (the official libraries where there is one) ---------------------------------


def body_of(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def stripe_headers(body: bytes, *, secret: str = STRIPE_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=ts)
    return {"stripe-signature": header, "content-type": "application/json"}


def workos_headers(body: bytes, *, secret: str = WORKOS_SECRET, timestamp_ms: int | None = None) -> dict[str, str]:
    """Built by hand (workos-python has a verifier only), as WorkOS documents it: `t=<ms>, v1=<hex>`."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"workos-signature": f"t={ts}, v1={mac}", "content-type": "application/json"}


def github_headers(
    body: bytes, *, event: str = "push", delivery: str = "d-1", secret: str = GITHUB_SECRET
) -> dict[str, str]:
    """By hand, per GitHub's docs: sha256= + HMAC-SHA256 hex of the body."""
    mac = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "x-hub-signature-256": f"sha256={mac}",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "content-type": "application/json",
    }


def resend_headers(
    body: bytes, *, msg_id: str = "msg_1", secret: str = RESEND_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC), body.decode())
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": signature,
        "content-type": "application/json",
    }


SIGNERS = {"stripe": stripe_headers, "workos": workos_headers, "github": github_headers, "resend": resend_headers}


def stripe_event(kind: str = "payment_intent.succeeded", *, id: str = "evt_1", obj: dict | None = None, created=None):
    obj = obj or {"id": "pi_1", "object": "payment_intent", "amount": 2000, "currency": "usd", "customer": "cus_1"}
    return {"id": id, "object": "event", "type": kind, "created": created or int(time.time()), "data": {"object": obj}}


async def post(worker, provider: str, payload: Any, headers: dict[str, str] | None = None, **sign: Any):
    body = body_of(payload)
    return await worker.fetch(
        f"/{provider}", method="POST", body=body, headers=headers or SIGNERS[provider](body, **sign)
    )
