"""The consumer of `webhooks-events`: each message names a recorded event, processed here exactly once.

Each message is settled on its own:
1. not a message of ours, or naming no recorded event: logged and acknowledged (nothing could process it);
2. the event is claimed (`processing`, attempts + 1, leased; a compare-and-set from `received` or `failed`). An
   event `done` or `unhandled` is not claimed: the message is acknowledged without running anything (a
   redelivered message, a provider's retry sent twice). One held by another delivery is looked at again when
   that lease would end;
3. the handler runs. Success: the event is marked `done` with the result, *then* the message acknowledged (a
   crash in between redelivers a message whose event is `done`: acknowledged, no second effect). A failure:
   the event is marked `failed` with the error and the message retried after `shared.queues.retry_delay`
   (30 s doubled per try, at most an hour); after `max_retries` the queue moves it to `webhooks-events-dlq`
   and the event stays `failed`, to be sent again by the provider's next retry or an admin's replay. A type
   no handler knows (a replayed `unhandled` event) goes back to `unhandled`.
If the database fails the message is retried, never acknowledged.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError as PydanticValidationError

import store
from handlers import HANDLERS, Event, HandlerError
from receive import MESSAGE_TYPE
from shared.errors import AppError
from shared.logs import log_event
from shared.queues import QueueMessage, message_body, retry_delay, settle_each

LEASE_SECONDS = 120


async def consume(batch: Any, env: Any) -> dict[str, int]:
    return await settle_each(batch, env, process, error_log="webhooks_error")


async def process(env: Any, message: Any) -> tuple[str, int | None]:
    """One message: (outcome, None to acknowledge or the retry delay in seconds)."""
    body = message_body(message)
    try:
        envelope = QueueMessage.model_validate(body)
    except PydanticValidationError:
        log_event("webhooks_invalid_message", message_id=message.id)
        return "invalid", None
    event_id = envelope.data.get("event") if isinstance(envelope.data, dict) else None
    if envelope.type != MESSAGE_TYPE or not isinstance(event_id, str):
        log_event("webhooks_invalid_message", message_id=message.id, message_type=envelope.type[:64])
        return "invalid", None
    event = await store.claim(env, event_id, LEASE_SECONDS)
    if event is None:
        current = await store.get_event(env, event_id)
        if current is not None and current["status"] == "processing":
            return "busy", LEASE_SECONDS
        log_event("webhooks_duplicate", event=event_id, status=current and current["status"], message_id=message.id)
        return "duplicate", None
    handler = HANDLERS.get((event["provider"], event["type"]))
    if handler is None:
        await store.settle(env, event["id"], "unhandled")
        return "unhandled", None
    try:
        payload = json.loads(event["payload"] or "null")
        received = Event(event["id"], event["provider"], event["type"], event["event_id"], payload, event["created_at"])
        result = await handler(env, received)
    except Exception as exc:
        if isinstance(exc, HandlerError):
            error = str(exc)
        elif isinstance(exc, AppError):  # a service that refused or failed (its code: UPSTREAM_ERROR, FORBIDDEN...)
            error = f"{exc.code}: {exc.message}"
        else:
            error = f"{type(exc).__name__}: {exc}"
        delay = retry_delay(env, event["attempts"])
        await store.settle(env, event["id"], "failed", error=error[:2000])
        log_event(
            "webhooks_failed", event=event["id"], attempts=event["attempts"], error=error[:300], delay_seconds=delay
        )
        return "failed", delay
    if not await store.settle(env, event["id"], "done", result=result):
        log_event("webhooks_lease_lost", event=event["id"], message_id=message.id)
    log_event("webhooks_done", event=event["id"], provider=event["provider"], event_type=event["type"])
    return "done", None
