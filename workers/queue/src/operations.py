"""queue's operations, each declared once: RPC, HTTP, MCP and OpenAPI follow.

Enqueueing needs `queue:write`; reading jobs `queue:read`, and a caller sees the jobs it enqueued (with
`queue:admin`, every job); the dead-letter operations need `queue:admin`. Another service enqueues over
RPC with a principal of its own: `env.QUEUE_SERVICE.enqueue(service_principal("deploy",
permissions=("queue:write",)), {"type": "deploy-notify", "payload": {...}})`. `purge_dead_letters` needs
`queue:maintain`, which no role grants: the schedule service's principal holds it (and admins, `*`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import dead_letters
import producer
import store
from jobs import JOB_TYPES
from shared.errors import NotFound
from shared.permissions import allows
from shared.service import OFFSET_PAGE, Call, NoInput, Service, offset_page
from tables import DEAD_LETTER_STATUSES, STATUSES

service = Service(
    "queue",
    version="0.1.0",
    description="Background jobs with retries, backoff and dead letters: send-email, webhook-delivery, deploy-notify.",
)

ADMIN = "queue:admin"
MAINTAIN = "queue:maintain"
#: Cloudflare Queues' longest delay (12 hours).
MAX_DELAY = 43_200
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


class EnqueueInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=64, description="The job type (GET /job-types)")
    payload: dict[str, Any] = Field(default_factory=dict, description="The job's input, checked against its type")
    delay_seconds: int = Field(default=0, ge=0, le=MAX_DELAY, description="Run no sooner than this (max 12 h)")
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="The same key again (same request) answers the first job and enqueues nothing",
    )


class JobId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=_ID)


class ListJobs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    type: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=100_000)


class ListDeadLetters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal[DEAD_LETTER_STATUSES] | None = None  # type: ignore[valid-type]
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=100_000)


class ReplayInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=_ID)
    payload: dict[str, Any] | None = Field(default=None, description="A corrected payload (checked against the type)")


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_days: int = Field(
        default=dead_letters.RETENTION_DAYS,
        ge=dead_letters.MIN_RETENTION_DAYS,
        le=3650,
        description=f"Delete dead letters recorded more than this many days ago ({dead_letters.MIN_RETENTION_DAYS} "
        "at least)",
    )


def _principal(call: Call) -> dict[str, Any]:
    assert call.principal is not None  # the kit lets no operation here run without one
    return call.principal


def _is_admin(call: Call) -> bool:
    return allows(_principal(call).get("permissions") or (), ADMIN)


@service.operation(
    http="POST /jobs",
    permission="queue:write",
    tool="queue_enqueue",
    status=lambda job: 200 if job.get("duplicate") else 201,
)
async def enqueue(call: Call, args: EnqueueInput) -> dict:
    """Enqueue a job of a declared type; with an idempotency key, a repeat answers the first job (`duplicate`)."""
    return await producer.enqueue(
        call.env,
        _principal(call),
        args.type,
        args.payload,
        delay_seconds=args.delay_seconds,
        idempotency_key=args.idempotency_key,
        request_id=call.request_id,
    )


@service.operation(http="GET /jobs/{id}", permission="queue:read", tool="queue_get_job")
async def get_job(call: Call, args: JobId) -> dict:
    """One job: its status, attempts, last error and result (your own jobs; every job with queue:admin)."""
    job = await store.get_job(call.env, args.id)
    if job is None or (job["created_by"] != _principal(call)["id"] and not _is_admin(call)):
        raise NotFound(f"No job {args.id}", code="NOT_FOUND")
    return store.public(job)  # type: ignore[return-value]


@service.operation(
    http="GET /jobs",
    permission="queue:read",
    tool="queue_list_jobs",
    page=OFFSET_PAGE,
)
async def list_jobs(call: Call, args: ListJobs) -> dict:
    """Jobs, newest first, filtered by status and type: yours, or every job with queue:admin."""
    owner = None if _is_admin(call) else _principal(call)["id"]
    items, total = await store.list_jobs(
        call.env, status=args.status, type=args.type, created_by=owner, limit=args.limit, offset=args.offset
    )
    jobs = [store.public(job) for job in items]
    return offset_page(jobs, total=total, limit=args.limit, offset=args.offset)


@service.operation(http="GET /job-types", permission="queue:read", tool="queue_job_types")
async def job_types(call: Call, args: NoInput) -> dict:
    """The job types: name, description and the JSON schema of each payload."""
    return {"types": JOB_TYPES.describe()}


@service.operation(
    http="GET /dead-letters",
    permission=ADMIN,
    tool="queue_list_dead_letters",
    page=OFFSET_PAGE,
)
async def list_dead_letters(call: Call, args: ListDeadLetters) -> dict:
    """Dead letters, newest first: each with its job, reason and error (filter by status: dead, replayed, discarded)."""
    items, total = await store.list_dead_letters(call.env, status=args.status, limit=args.limit, offset=args.offset)
    return offset_page(items, total=total, limit=args.limit, offset=args.offset)


@service.operation(http="GET /dead-letters/{id}", permission=ADMIN, tool="queue_get_dead_letter")
async def get_dead_letter(call: Call, args: JobId) -> dict:
    """One dead letter, with the message it kept."""
    return await dead_letters.get(call.env, args.id)


@service.operation(http="POST /dead-letters/{id}/replay", permission=ADMIN, tool="queue_replay_dead_letter")
async def replay_dead_letter(call: Call, args: ReplayInput) -> dict:
    """Re-enqueue a dead letter's job (optionally with a corrected payload); it runs again from the start."""
    return await dead_letters.replay(call.env, call.actor, args.id, args.payload)


@service.operation(http="POST /dead-letters/{id}/discard", permission=ADMIN, tool="queue_discard_dead_letter")
async def discard_dead_letter(call: Call, args: JobId) -> dict:
    """Give up on a dead letter: it and its job are marked discarded and nothing runs it again."""
    return await dead_letters.discard(call.env, call.actor, args.id)


# -- housekeeping (the schedule service) ---------------------------------------------------------------


@service.operation(http="POST /maintenance/purge-dead-letters", permission=MAINTAIN)
async def purge_dead_letters(call: Call, args: Retention) -> dict:
    """Delete dead letters older than the retention (7 days at least, 30 by default): how many; their jobs
    still dead are marked discarded."""
    return await dead_letters.purge(call.env, args.older_than_days)
