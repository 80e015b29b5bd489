"""webhooks' operations, each declared once: RPC, HTTP, MCP and OpenAPI follow. The events API needs
`webhooks:admin`; the housekeeping (`purge_events`, `retry_failed`) needs `webhooks:maintain`, which no role grants:
the schedule service's principal holds it (and admins, `*`).

The receivers are not operations: they read the raw body to check its signature, so they are routes of their
own (`receive.py`), public in `routes.py` and in the manifest's `[gateway] public`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

import receive
import store
from shared.clock import iso_in
from shared.errors import Conflict, NotFound
from shared.logs import log
from shared.queues import MAX_RETRY_DELAY_SECONDS
from shared.service import Call, Service
from tables import PROVIDERS, STATUSES

service = Service(
    "webhooks",
    version="0.1.0",
    description="Inbound webhooks from Stripe, WorkOS, GitHub and Resend, verified and processed exactly once.",
)

ADMIN = "webhooks:admin"
MAINTAIN = "webhooks:maintain"
#: How long processed events are kept when the caller names no retention (days), and the shortest retention taken.
RETENTION_DAYS, MIN_RETENTION_DAYS = 30, 7
#: `retry_failed` takes an event only once it has been `failed` this long (s): the queue's own retry of it, at
#: most an hour after the failure (the consumer's longest backoff), is then no longer pending.
RETRY_QUIET_SECONDS = MAX_RETRY_DELAY_SECONDS
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


class ListEvents(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal[PROVIDERS] | None = None  # type: ignore[valid-type]
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    type: str | None = Field(default=None, max_length=255, description="The provider's event type, e.g. invoice.paid")
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=100_000)


class EventId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=_ID, description="The event's id here (whe_...)")


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_days: int = Field(
        default=RETENTION_DAYS,
        ge=MIN_RETENTION_DAYS,
        le=3650,
        description=f"Delete processed events settled more than this many days ago ({MIN_RETENTION_DAYS} at least)",
    )


class RetryBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=100, description="At most this many failed events, the oldest first")


@service.operation(
    http="GET /events", permission=ADMIN, tool="webhooks_list_events", page=("total", "limit", "offset", "has_more")
)
async def list_events(call: Call, args: ListEvents) -> dict:
    """Received events, newest first, filtered by provider, status and type (without their payloads)."""
    items, total = await store.list_events(
        call.env, provider=args.provider, status=args.status, type=args.type, limit=args.limit, offset=args.offset
    )
    return {
        "items": [store.summary(e) for e in items],
        "total": total,
        "limit": args.limit,
        "offset": args.offset,
        "has_more": args.offset + len(items) < total,
    }


@service.operation(http="GET /events/{id}", permission=ADMIN, tool="webhooks_get_event")
async def get_event(call: Call, args: EventId) -> dict:
    """One event with its payload as received, its status, attempts, last error and result."""
    event = await store.get_event(call.env, args.id)
    if event is None:
        raise NotFound(f"No event {args.id}", code="NOT_FOUND")
    return store.detail(event)


@service.operation(http="POST /events/{id}/replay", permission=ADMIN, tool="webhooks_replay_event")
async def replay_event(call: Call, args: EventId) -> dict:
    """Process an event again: it is sent to the queue once more (a failed one, a done one whose effect must be
    applied again, an unhandled one whose type has a handler now). Not while it is being processed (409)."""
    event = await store.get_event(call.env, args.id)
    if event is None:
        raise NotFound(f"No event {args.id}", code="NOT_FOUND")
    reopened = await store.reopen(call.env, event["id"], ("failed", "done", "unhandled", "received"))
    if reopened is None:
        raise Conflict("The event is being processed now; replay it once it is settled", code="EVENT_BUSY")
    await receive.enqueue(call.env, reopened, call.request_id)
    log({"type": "webhooks_replay", "event": reopened["id"], "by": call.actor})
    return store.summary(reopened)


# -- housekeeping (the schedule service) ---------------------------------------------------------------


@service.operation(http="POST /maintenance/purge-events", permission=MAINTAIN)
async def purge_events(call: Call, args: Retention) -> dict:
    """Delete processed events (done or unhandled) settled more than the retention ago (7 days at least, 30 by
    default): how many. Received, processing and failed events stay."""
    before = iso_in(-args.older_than_days * 86400)
    removed = await store.purge_processed(call.env, before)
    log({"type": "cleanup", "service": "webhooks", "removed": removed, "before": before})
    return {"events": removed, "before": before}


@service.operation(http="POST /maintenance/retry-failed", permission=MAINTAIN)
async def retry_failed(call: Call, args: RetryBatch) -> dict:
    """Send failed events to the queue again, the oldest first, at most `limit` (50 by default, 100 at most): those
    failed for an hour or more, whose queue retries are over. Their ids, and whether more are waiting."""
    waiting = await store.failed_since(call.env, iso_in(-RETRY_QUIET_SECONDS), args.limit + 1)
    retried = []
    for event in waiting[: args.limit]:
        reopened = await store.reopen(call.env, event["id"], ("failed",))
        if reopened is None:  # claimed or replayed meanwhile
            continue
        await receive.enqueue(call.env, reopened, call.request_id)
        retried.append(reopened["id"])
    log({"type": "webhooks_retry_failed", "retried": len(retried), "by": call.actor})
    return {"retried": retried, "count": len(retried), "has_more": len(waiting) > args.limit}
