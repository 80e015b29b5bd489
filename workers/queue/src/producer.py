"""Enqueueing a job: checked against its type, recorded, then sent to the Cloudflare queue (`JOBS`).

    job = await enqueue(env, principal, "send-email", {...}, delay_seconds=0, idempotency_key="order-7-receipt")

The job is recorded before its message is sent, so the consumer always finds it; if the send fails the
record is removed again and the caller gets 503 (nothing half-done stays behind). The message is the
platform's queue envelope (`shared.queues.QueueMessage`) with the job's id, type and payload as `data`.

Idempotency: a caller's `idempotency_key` names one job. The same key again with the same request (type,
payload, delay) answers the job enqueued the first time, whatever its status, and sends nothing; the same
key with a different request is 409 `IDEMPOTENCY_KEY_REUSED`. Keys are per caller (principal id): two
callers never see each other's jobs through a key. A race of two first calls is settled by the database's
unique index: one inserts, the other answers its job.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError as PydanticValidationError

import store
from jobs import JOB_TYPES
from shared.clock import iso_in, now_iso
from shared.errors import BadRequest, Conflict, ServiceUnavailable, ValidationError
from shared.queues import QueueMessage


def request_hash(job_type: str, payload: dict[str, Any], delay_seconds: int) -> str:
    """What makes two enqueue requests the same request (for idempotency keys)."""
    canonical = json.dumps([job_type, payload, delay_seconds], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_payload(job_type: str, payload: Any) -> dict[str, Any]:
    """The payload as its type reads it; 400 `UNKNOWN_JOB_TYPE`, or `VALIDATION_ERROR` naming `payload.<field>`."""
    kind = JOB_TYPES.get(job_type)
    if kind is None:
        raise BadRequest(
            f"Unknown job type {str(job_type)[:64]!r}", code="UNKNOWN_JOB_TYPE", details={"types": JOB_TYPES.names()}
        )
    try:
        model = kind.model.model_validate(payload)
    except PydanticValidationError as exc:
        details = [
            {
                "field": ".".join(["payload", *(str(p) for p in err["loc"])]),
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors(include_input=False, include_url=False)
        ]
        raise ValidationError(f"Invalid payload for {job_type}", details=details) from None
    return model.model_dump(mode="json", exclude_none=True)


def message_for(job: dict[str, Any]) -> dict[str, Any]:
    """The queue message of a job."""
    envelope = QueueMessage(
        id=job["id"], type=job["type"], data=job["payload"], timestamp=now_iso(), request_id=job.get("request_id")
    )
    return envelope.model_dump(mode="json")


async def send(env: Any, job: dict[str, Any], delay_seconds: int) -> None:
    """Send the job's message (503 `QUEUE_UNAVAILABLE` if the queue refuses it)."""
    queue = getattr(env, "JOBS", None)
    if queue is None:
        raise RuntimeError("no queue binding JOBS: declare it in queues.producers of wrangler.jsonc")
    try:
        await queue.send(message_for(job), delaySeconds=delay_seconds)
    except Exception as exc:
        raise ServiceUnavailable(
            f"The job queue did not take the job ({type(exc).__name__}); try again", code="QUEUE_UNAVAILABLE"
        ) from None


async def enqueue(
    env: Any,
    principal: dict[str, Any],
    job_type: str,
    payload: Any,
    *,
    delay_seconds: int = 0,
    idempotency_key: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Record and send a job; the job (with `duplicate: true` when an idempotency key named an earlier one)."""
    clean = check_payload(job_type, payload)
    digest = request_hash(job_type, clean, delay_seconds)
    actor = principal.get("id")
    if idempotency_key is not None:
        earlier = await store.find_idempotent(env, actor, idempotency_key)
        if earlier is not None:
            return _same_request(earlier, digest)
    values = {
        "type": job_type,
        "payload": clean,
        "status": "queued",
        "idempotency_key": idempotency_key,
        "request_hash": digest,
        "created_by": actor,
        "request_id": request_id,
        "attempts": 0,
        "delay_seconds": delay_seconds,
        "run_after": iso_in(delay_seconds),
    }
    try:
        job = await store.insert_job(env, values)
    except Conflict:
        earlier = await store.find_idempotent(env, actor, idempotency_key) if idempotency_key else None
        if earlier is None:
            raise
        return _same_request(earlier, digest)
    try:
        await send(env, job, delay_seconds)
    except Exception:
        await store.delete_job(env, job["id"])  # so that the same idempotency key may be tried again
        raise
    return store.public(job) | {"duplicate": False}  # type: ignore[operator]


def _same_request(earlier: dict[str, Any], digest: str) -> dict[str, Any]:
    if earlier["request_hash"] != digest:
        raise Conflict(
            "This idempotency key was used for a different job (type, payload or delay)",
            code="IDEMPOTENCY_KEY_REUSED",
            details={"job_id": earlier["id"]},
        )
    return store.public(earlier) | {"duplicate": True}  # type: ignore[operator]
