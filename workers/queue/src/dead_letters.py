"""Dead letters: what could not be processed, listed, replayed (re-enqueued) or discarded by an admin.

A replay puts the dead letter's job back to `queued` (with a corrected payload if one is given, checked
against the job type) and sends its message again; the dead letter becomes `replayed`. After the cause is
fixed (the URL, a bound service, the payload) the job runs like any other. A dead letter without a job
(a message that never was one) cannot be replayed, only discarded. Discarding marks the dead letter and its
job `discarded`: nothing runs it any more.

Dead letters are kept `RETENTION_DAYS` (30) days by default: `purge` (the schedule service's daily task,
permission `queue:maintain`) deletes those recorded before a retention of at least `MIN_RETENTION_DAYS` (7),
whatever their status; a job still `dead` whose dead letter goes is marked `discarded` (it could no longer be
replayed).
"""

from __future__ import annotations

from typing import Any

import producer
import store
from shared.clock import iso_in
from shared.errors import Conflict, NotFound
from shared.logs import log

#: How long dead letters are kept when the caller names no retention (days).
RETENTION_DAYS = 30
#: The shortest retention `purge` takes (days): a week to notice, fix and replay.
MIN_RETENTION_DAYS = 7


async def get(env: Any, letter_id: str) -> dict[str, Any]:
    letter = await store.get_dead_letter(env, letter_id)
    if letter is None:
        raise NotFound(f"No dead letter {letter_id}", code="NOT_FOUND")
    return letter


async def replay(env: Any, actor: str | None, letter_id: str, payload: Any = None) -> dict[str, Any]:
    """Re-enqueue the job of a dead letter; `{"dead_letter": ..., "job": ...}`."""
    letter = await get(env, letter_id)
    if letter["status"] != "dead":
        raise Conflict(f"Dead letter {letter_id} is {letter['status']} already", code="NOT_DEAD")
    job = await store.get_job(env, letter["job_id"]) if letter["job_id"] else None
    if job is None:
        raise Conflict(
            f"Dead letter {letter_id} has no job to replay (the message never was one): discard it",
            code="NOT_REPLAYABLE",
        )
    clean = producer.check_payload(job["type"], payload) if payload is not None else None
    if job["status"] != "dead":
        raise Conflict(f"Job {job['id']} is {job['status']}, not dead", code="NOT_DEAD")
    resolved = await store.resolve_dead_letter(env, letter_id, "replayed", actor)
    if resolved is None:
        raise Conflict(f"Dead letter {letter_id} was replayed or discarded meanwhile", code="NOT_DEAD")
    queued = await store.requeue(env, job["id"], clean)
    if queued is None:
        await store.reopen_dead_letter(env, letter_id)
        raise Conflict(f"Job {job['id']} changed meanwhile", code="NOT_DEAD")
    try:
        await producer.send(env, queued, 0)
    except Exception:
        await store.set_job_status(env, job["id"], "dead", "queued")
        await store.reopen_dead_letter(env, letter_id)
        raise
    return {"dead_letter": resolved, "job": store.public(queued)}


async def discard(env: Any, actor: str | None, letter_id: str) -> dict[str, Any]:
    """Give up on a dead letter (and its job)."""
    letter = await get(env, letter_id)
    resolved = await store.resolve_dead_letter(env, letter_id, "discarded", actor)
    if resolved is None:
        raise Conflict(f"Dead letter {letter_id} is {letter['status']} already", code="NOT_DEAD")
    if letter["job_id"]:
        await store.set_job_status(env, letter["job_id"], "discarded", "dead")
    return resolved


async def purge(env: Any, older_than_days: int) -> dict[str, Any]:
    """Delete dead letters recorded more than `older_than_days` days ago; how many, and the cut-off."""
    before = iso_in(-older_than_days * 86400)
    removed = await store.purge_dead_letters(env, before)
    log({"type": "cleanup", "service": "queue", "removed": removed, "before": before})
    return removed | {"before": before}
