"""webhooks' operations, each declared once: RPC, HTTP, MCP and OpenAPI follow. All need `webhooks:admin`.

The receivers are not operations: they read the raw body to check its signature, so they are routes of their
own (`receive.py`), public in `routes.py` and in the manifest's `[gateway] public`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

import receive
import store
from shared.errors import Conflict, NotFound
from shared.service import Call, Service
from tables import PROVIDERS, STATUSES

service = Service(
    "webhooks",
    version="0.1.0",
    description="Inbound webhooks from Stripe, WorkOS, GitHub and Resend, verified and processed exactly once.",
)

ADMIN = "webhooks:admin"
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
    print(f'{{"type": "webhooks_replay", "event": "{reopened["id"]}", "by": "{call.actor}"}}')
    return store.summary(reopened)
