"""The consumer: runs the jobs of `queue-jobs` and records what reaches its dead-letter queue.

    await consume(batch, env)     # entry.py's queue(self, batch, env, ctx), for both queues

Each message of `queue-jobs` is settled on its own (one bad message never holds back its batch):

1. validated: the envelope (`shared.queues.QueueMessage`), a known job type, the payload against the type's
   model, a job recorded under the message's id. Any failure is a dead letter at once, with the reason
   (`INVALID_MESSAGE`, `UNKNOWN_JOB_TYPE`, `INVALID_PAYLOAD`, `UNKNOWN_JOB`): retrying cannot fix it.
2. A job already `done` (a redelivered message: delivery is at least once), `dead` or `discarded` is
   acknowledged without running anything. A job another delivery is running (its lease has not run out) is
   retried once that lease would end.
3. The job is claimed (`running`, attempts + 1, a lease) and its handler runs:
   - success: the result is recorded (`done`) *before* the message is acknowledged; a crash in between
     leaves a `done` job whose redelivered message is acknowledged without a second effect;
   - `JobFailed(retryable=False)`: dead letter at once (the handler's code and message), acknowledged;
   - anything else: the error is recorded (`retrying`) and the message retried after
     `shared.queues.retry_delay` seconds; after the queue's `max_retries` Cloudflare moves it to `queue-jobs-dlq`.
   If recording fails (the database is down) the message is retried, never acknowledged.

A message of the dead-letter queue (its name ends in `-dlq`) is recorded as a dead letter with its job's
last error (`RETRIES_EXHAUSTED`) and acknowledged; one whose job is `done` is only acknowledged.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError as PydanticValidationError

import store
from jobs import JOB_TYPES, JobFailed, Run
from shared.clock import is_past
from shared.logs import log_event
from shared.queues import QueueMessage, message_attempts, message_body, retry_delay, settle_each
from tables import SETTLED

#: How long a claimed job is reserved for the delivery running it (then another may take it over).
LEASE_SECONDS = 120


async def consume(batch: Any, env: Any) -> dict[str, int]:
    """Settle every message of a batch of either queue; counts by outcome (for logs and tests)."""
    dead_letter_queue = str(batch.queue).endswith("-dlq")
    run = record_exhausted if dead_letter_queue else run_message
    return await settle_each(batch, env, run, error_log="queue_error")


async def run_message(env: Any, message: Any) -> tuple[str, int | None]:
    """Run one job message; (outcome, None to acknowledge or the retry delay in seconds)."""
    body = message_body(message)
    try:
        envelope = QueueMessage.model_validate(body)
    except PydanticValidationError as exc:
        await _dead(env, message, body, None, None, "INVALID_MESSAGE", "not a job message: " + _fields(exc))
        return "invalid", None
    kind = JOB_TYPES.get(envelope.type)
    job = await store.get_job(env, envelope.id)
    job_id = job["id"] if job else None
    if kind is None:
        reason = f"unknown job type {envelope.type[:64]!r}"
        await _dead(env, message, body, job_id, envelope.type, "UNKNOWN_JOB_TYPE", reason)
        return "invalid", None
    try:
        payload = kind.model.model_validate(envelope.data)
    except PydanticValidationError as exc:
        reason = f"invalid payload for {kind.name}: " + _fields(exc)
        await _dead(env, message, body, job_id, kind.name, "INVALID_PAYLOAD", reason)
        return "invalid", None
    if job is None:
        reason = f"no job {envelope.id!r} is recorded: jobs are enqueued through the queue service"
        await _dead(env, message, body, None, kind.name, "UNKNOWN_JOB", reason)
        return "invalid", None
    if job["status"] in SETTLED:
        log_event("queue_duplicate", job_id=job["id"], status=job["status"], message_id=message.id)
        return "duplicate", None
    claimed = await store.claim(env, job, LEASE_SECONDS)
    if claimed is None:
        current = await store.get_job(env, job["id"])
        if current is None or current["status"] in SETTLED:
            return "duplicate", None
        return "busy", LEASE_SECONDS  # another delivery runs it: look again when its lease would end
    try:
        result = await kind.handler(Run(env, claimed, payload, time.time()))
    except JobFailed as exc:
        if not exc.retryable:
            await _dead(env, message, body, job["id"], kind.name, exc.code, exc.message, attempts=claimed["attempts"])
            return "failed", None
        return await _failed_try(env, message, claimed, exc.code, exc.message)
    except Exception as exc:
        return await _failed_try(env, message, claimed, "HANDLER_ERROR", f"{type(exc).__name__}: {exc}"[:500])
    done = await store.complete(env, job["id"], result if isinstance(result, dict) else {"value": result})
    if done is None:
        log_event("queue_lease_lost", job_id=job["id"], message_id=message.id)
    return "done", None


async def _failed_try(env: Any, message: Any, job: dict[str, Any], code: str, error: str) -> tuple[str, int]:
    delay = retry_delay(env, message_attempts(message))
    await store.failed_try(env, job["id"], code, error, delay)
    log_event("queue_retry", job_id=job["id"], attempts=job["attempts"], code=code, delay_seconds=delay)
    return "retried", delay


async def record_exhausted(env: Any, message: Any) -> tuple[str, int | None]:
    """A message that reached the dead-letter queue: recorded with its job's last error (acknowledged), unless
    its job is done or discarded (only acknowledged) or being run by another delivery (looked at again later)."""
    body = message_body(message)
    job_id = body.get("id") if isinstance(body, dict) and isinstance(body.get("id"), str) else None
    job = await store.get_job(env, job_id) if job_id else None
    if job is not None and job["status"] in ("done", "discarded"):
        return "duplicate", None
    if job is not None and job["status"] == "running" and not is_past(job.get("lease_until")):
        return "busy", LEASE_SECONDS
    error = (job or {}).get("last_error") or "the message was retried max_retries times without success"
    kind = (job or {}).get("type") or (body.get("type") if isinstance(body, dict) else None)
    attempts = (job or {}).get("attempts") or message_attempts(message)
    letter = await store.record_dead_letter(
        env,
        message_id=str(message.id),
        job_id=job["id"] if job else None,
        type=str(kind)[:64] if kind else None,
        body=body,
        reason="RETRIES_EXHAUSTED",
        error=error,
        attempts=attempts,
    )
    log_event("queue_dead_letter", dead_letter_id=letter["id"], job_id=letter["job_id"], reason=letter["reason"])
    return "dead_letter", None


async def _dead(
    env: Any,
    message: Any,
    body: Any,
    job_id: str | None,
    kind: str | None,
    reason: str,
    error: str,
    *,
    attempts: int | None = None,
) -> None:
    letter = await store.record_dead_letter(
        env,
        message_id=str(message.id),
        job_id=job_id,
        type=kind[:64] if kind else None,
        body=body,
        reason=reason,
        error=error,
        attempts=attempts if attempts is not None else message_attempts(message),
    )
    log_event("queue_dead_letter", dead_letter_id=letter["id"], job_id=job_id, reason=reason)


def _fields(exc: PydanticValidationError) -> str:
    """The fields in error (never their values)."""
    names = sorted({".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors(include_input=False)})
    return ", ".join(names[:10])
