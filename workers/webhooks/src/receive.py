"""The receivers, `POST /stripe`, `/workos`, `/github` and `/resend`: public, each checks its provider's signature.

In this order, so that nothing unverified costs more than a counter and a length check:
1. the sender's address spends one call of its budget (`client.py`): past it 429 `RATE_LIMITED`;
2. a body over `MAX_BODY_BYTES` (1 MiB) is refused with 413 `PAYLOAD_TOO_LARGE`, by its Content-Length before
   it is read, else by its length: before any signature is computed;
3. the signature (`signatures.py`): missing, malformed, stale or wrong is 401 with its code; a provider whose
   secret is not configured is 503 `WEBHOOK_NOT_CONFIGURED` (never 500);
4. the verified body must be a JSON object naming the event's id and type (GitHub: the `X-GitHub-Delivery` and
   `X-GitHub-Event` headers; Resend: `svix-id` is the id) else 400;
5. the event is recorded once per (provider, event id) and, when a handler knows its type, sent to the queue;
   an unknown type is recorded `unhandled` and acknowledged. A delivery of an event recorded before is
   acknowledged with `duplicate: true` and sends nothing, unless the event `failed`: then it is sent again.
   A message that cannot be sent leaves the event `failed` and answers 503, so the provider retries.
"""

from __future__ import annotations

import json
import time
from typing import Any

from workers import Request

import client
import store
from handlers import known
from shared.clock import now_iso
from shared.errors import BadRequest, PayloadTooLarge, RateLimited, ServiceUnavailable
from shared.http import headers_of
from shared.ids import new_id
from shared.logs import log
from shared.queues import QueueMessage
from shared.routing import Context
from shared.settings import setting
from signatures import SECRETS, VERIFIERS

PROVIDERS = tuple(VERIFIERS)
PATHS = tuple(f"/{provider}" for provider in PROVIDERS)
MAX_BODY = 1_048_576
#: The queue message type: `data.event` is the recorded event's id.
MESSAGE_TYPE = "webhooks.event.received"
MAX_EVENT_ID = 255


def max_body(env: Any) -> int:
    raw = setting(env, "MAX_BODY_BYTES")
    return int(raw) if raw is not None and raw.isdigit() else MAX_BODY


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 past `limit` bytes: by Content-Length before reading, else after."""
    too_large = PayloadTooLarge(f"A webhook body is at most {limit} bytes", details={"max_bytes": limit})
    length = (headers_of(request).get("content-length") or "").strip()
    if length.isdigit() and int(length) > limit:
        raise too_large
    body = await request.bytes()
    if len(body) > limit:
        raise too_large
    return bytes(body)


def identify(provider: str, payload: dict[str, Any], headers: Any) -> tuple[str, str]:
    """The provider's id of the event and its type."""
    if provider == "github":
        event_id, kind = headers.get("x-github-delivery"), headers.get("x-github-event")
    elif provider == "resend":
        event_id = headers.get("svix-id") or headers.get("webhook-id")
        kind = payload.get("type")
    else:
        event_id, kind = payload.get("id"), payload.get("type" if provider == "stripe" else "event")
    for name, value in (("event id", event_id), ("event type", kind)):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_EVENT_ID:
            raise BadRequest(f"The {provider} delivery names no {name}", code="INVALID_EVENT")
    return event_id.strip(), kind.strip()


async def enqueue(env: Any, event: dict[str, Any], request_id: str | None) -> None:
    """Send the event's message to the queue; on failure the event is left `failed` and the answer is 503."""
    message = QueueMessage(
        id=new_id("msg"), type=MESSAGE_TYPE, data={"event": event["id"]}, timestamp=now_iso(), request_id=request_id
    )
    try:
        await env.EVENTS.send(message.model_dump(mode="json"))
    except Exception as exc:
        await store.mark_unsent(env, event["id"], f"the queue refused the message: {type(exc).__name__}")
        raise ServiceUnavailable("The event could not be queued; deliver it again", code="QUEUE_UNAVAILABLE") from None


def receiver(provider: str):
    async def receive(request: Request, ctx: Context) -> Any:
        env = ctx.env
        source = client.client_key(headers_of(request))
        if not await client.admitted(env, source, ctx.request_id):
            raise RateLimited("Too many webhook deliveries from this address", retry_after=client.RETRY_AFTER_SECONDS)
        body = await read_body(request, max_body(env))
        secret = setting(env, SECRETS[provider])
        if secret is None:
            raise ServiceUnavailable(f"{SECRETS[provider]} is not set", code="WEBHOOK_NOT_CONFIGURED")
        try:
            VERIFIERS[provider](body, headers_of(request), secret, time.time())
        except ValueError:  # a secret that cannot be a key (a Svix secret that is not base64)
            raise ServiceUnavailable(f"{SECRETS[provider]} is not valid", code="WEBHOOK_NOT_CONFIGURED") from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise BadRequest("The body is not JSON", code="INVALID_JSON") from None
        if not isinstance(payload, dict):
            raise BadRequest("The body is not a JSON object", code="INVALID_JSON")
        event_id, kind = identify(provider, payload, headers_of(request))
        status = "received" if known(provider, kind) else "unhandled"
        event, first = await store.record_event(
            env,
            provider=provider,
            event_id=event_id,
            type=kind,
            status=status,
            payload=body.decode("utf-8", "replace"),
            source=source,
            request_id=ctx.request_id,
        )
        sent = False
        if first and status == "received":
            await enqueue(env, event, ctx.request_id)
            sent = True
        elif not first and event["status"] == "failed":  # the provider's retry of a failed event: process it again
            reopened = await store.reopen(env, event["id"], ("failed",))
            if reopened is not None:
                event = reopened
                await enqueue(env, event, ctx.request_id)
                sent = True
        line = {"type": "webhook_received", "provider": provider, "event_type": kind, "id": event["id"]}
        log(line | {"first": first, "queued": sent, "request_id": ctx.request_id})
        return ctx.json(
            {
                "received": True,
                "id": event["id"],
                "event_id": event_id,
                "type": kind,
                "status": event["status"],
                "duplicate": not first,
            }
        )

    receive.__name__ = f"receive_{provider}"
    return receive
