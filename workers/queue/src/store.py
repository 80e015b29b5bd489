"""queue's storage: its own D1 (`QUEUE_DB`). Jobs and dead letters as records (`shared.records`); every change
of a job's status is a compare-and-set on the status it is expected to have, so two deliveries of one
message never both run it, and a dead letter is recorded together with its job's new status (one batch).
"""

from __future__ import annotations

import json
from typing import Any

from migrations import MIGRATIONS
from shared import records
from shared.clock import iso_in, now_iso
from shared.ids import new_id
from shared.storage import Database
from tables import CLAIMABLE, TABLES

DATABASE = Database("QUEUE_DB", MIGRATIONS)
#: Columns that are the queue's own business, left out of what callers see.
INTERNAL = ("request_hash", "lease_until")
#: The largest message body kept with a dead letter (characters of JSON; larger ones are cut and marked).
MAX_BODY = 128_000


def public(job: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if job is None else {k: v for k, v in job.items() if k not in INTERNAL}


# -- jobs ------------------------------------------------------------------------------------------------


async def insert_job(env: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Record a job; 409 `CONFLICT` when its (caller, idempotency key) is taken."""
    return await records.insert_record(await DATABASE.open(env), TABLES, "jobs", values)


async def get_job(env: Any, job_id: str) -> dict[str, Any] | None:
    if not records.ID.fullmatch(job_id or ""):
        return None
    return await records.get_record(await DATABASE.open(env), TABLES, "jobs", job_id)


async def delete_job(env: Any, job_id: str) -> None:
    await records.delete_record(await DATABASE.open(env), TABLES, "jobs", job_id)


async def find_idempotent(env: Any, created_by: str | None, key: str) -> dict[str, Any] | None:
    """The job this caller enqueued with this idempotency key, if any."""
    db = await DATABASE.open(env)
    row = await db.first(
        "SELECT id FROM jobs WHERE coalesce(created_by, '') = ? AND idempotency_key = ?", [created_by or "", key]
    )
    return None if row is None else await get_job(env, row["id"])


async def list_jobs(
    env: Any, *, status: str | None, type: str | None, created_by: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Jobs newest first (by insertion), filtered; and how many match in all."""
    where = {k: v for k, v in (("status", status), ("type", type), ("created_by", created_by)) if v is not None}
    return await _newest(env, "jobs", where, limit, offset)


async def _newest(
    env: Any, table: str, where: dict[str, Any], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Records of `table` matching `where`, newest first; and how many match in all."""
    db = await DATABASE.open(env)
    page = await records.find_records(db, TABLES, table, where or None, ["-created_at", "-id"], limit, offset)
    return page["items"], await records.count_records(db, TABLES, table, where or None)


async def claim(env: Any, job: dict[str, Any], lease_seconds: float) -> dict[str, Any] | None:
    """Take the job for one run: `running`, `attempts` + 1, leased for `lease_seconds`. None when another
    delivery has it (its lease still runs) or it is settled. A `running` job whose lease ran out (its
    consumer died) is taken over."""
    db = await DATABASE.open(env)
    values = {"status": "running", "attempts": job["attempts"] + 1, "lease_until": iso_in(lease_seconds)}
    same = {"field": "attempts", "operator": "eq", "value": job["attempts"]}
    if job["status"] in CLAIMABLE:
        where = [{"field": "status", "operator": "in", "value": list(CLAIMABLE)}, same]
    elif job["status"] == "running":
        where = [
            {"field": "status", "operator": "eq", "value": "running"},
            {"field": "lease_until", "operator": "lt", "value": now_iso()},
            same,
        ]
    else:
        return None
    return await records.update_record(db, TABLES, "jobs", job["id"], values, where)


async def complete(env: Any, job_id: str, result: dict[str, Any]) -> dict[str, Any] | None:
    """Record a run's effect: `done` with its result (only from `running`)."""
    db = await DATABASE.open(env)
    values = {"status": "done", "result": result, "completed_at": now_iso(), "lease_until": None}
    values |= {"error_code": None, "last_error": None}
    return await records.update_record(db, TABLES, "jobs", job_id, values, {"status": "running"})


async def failed_try(env: Any, job_id: str, code: str, error: str, retry_in: int) -> dict[str, Any] | None:
    """Record a failed try that will be retried: `retrying`, the error, when the next try is due."""
    db = await DATABASE.open(env)
    values = {"status": "retrying", "error_code": code, "last_error": error[:2000], "lease_until": None}
    values["run_after"] = iso_in(retry_in)
    return await records.update_record(db, TABLES, "jobs", job_id, values, {"status": "running"})


async def requeue(env: Any, job_id: str, payload: Any = None) -> dict[str, Any] | None:
    """A dead job back to `queued` (replay), with a corrected payload if one is given."""
    db = await DATABASE.open(env)
    values: dict[str, Any] = {"status": "queued", "run_after": now_iso(), "dead_letter_id": None}
    if payload is not None:
        values["payload"] = payload
    return await records.update_record(db, TABLES, "jobs", job_id, values, {"status": "dead"})


async def set_job_status(env: Any, job_id: str, status: str, expected: str) -> dict[str, Any] | None:
    db = await DATABASE.open(env)
    return await records.update_record(db, TABLES, "jobs", job_id, {"status": status}, {"status": expected})


# -- dead letters --------------------------------------------------------------------------------------------


async def record_dead_letter(
    env: Any,
    *,
    message_id: str,
    job_id: str | None,
    type: str | None,
    body: Any,
    reason: str,
    error: str | None,
    attempts: int,
) -> dict[str, Any]:
    """Keep a message that will not be processed, and mark its job `dead` (unless it is done or discarded),
    in one batch. A message recorded already (a dead-letter queue delivers at least once) is not recorded
    twice: the dead letter it has is returned."""
    db = await DATABASE.open(env)
    text = json.dumps(body, separators=(",", ":"), default=str)
    if len(text) > MAX_BODY:
        text = json.dumps({"truncated": True, "start": text[:1000]})
    now = now_iso()
    letter_id = new_id(TABLES["dead_letters"].prefix)
    statements: list[tuple[str, list[Any]]] = [
        (
            "INSERT OR IGNORE INTO dead_letters (id, message_id, job_id, type, body, reason, error, attempts, status, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'dead', ?, ?)",
            [letter_id, message_id[:128], job_id, type, text, reason, (error or "")[:2000], attempts, now, now],
        )
    ]
    if job_id is not None:
        statements.append(
            (
                "UPDATE jobs SET status = 'dead', error_code = ?, last_error = ?, lease_until = NULL, updated_at = ?, "
                "dead_letter_id = (SELECT id FROM dead_letters WHERE message_id = ?) "
                "WHERE id = ? AND status NOT IN ('done', 'discarded')",
                [reason, (error or "")[:2000], now, message_id[:128], job_id],
            )
        )
    await db.batch(statements)
    row = await db.first("SELECT id FROM dead_letters WHERE message_id = ?", [message_id[:128]])
    assert row is not None
    letter = await get_dead_letter(env, row["id"])
    assert letter is not None
    return letter


async def get_dead_letter(env: Any, letter_id: str) -> dict[str, Any] | None:
    if not records.ID.fullmatch(letter_id or ""):
        return None
    return await records.get_record(await DATABASE.open(env), TABLES, "dead_letters", letter_id)


async def list_dead_letters(
    env: Any, *, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    return await _newest(env, "dead_letters", {"status": status} if status else {}, limit, offset)


async def resolve_dead_letter(env: Any, letter_id: str, status: str, actor: str | None) -> dict[str, Any] | None:
    """A `dead` dead letter marked `replayed` or `discarded` (None: it was not `dead` any more)."""
    db = await DATABASE.open(env)
    values = {"status": status, "resolved_by": actor, "resolved_at": now_iso()}
    return await records.update_record(db, TABLES, "dead_letters", letter_id, values, {"status": "dead"})


async def purge_dead_letters(env: Any, before: str) -> dict[str, int]:
    """Delete the dead letters recorded before `before` (whatever their status), in one batch with their jobs
    still `dead` marked `discarded`: without its dead letter a job can no longer be replayed. How many of each."""
    db = await DATABASE.open(env)
    discarded, deleted = await db.batch(
        [
            (
                "UPDATE jobs SET status = 'discarded', dead_letter_id = NULL, updated_at = ? WHERE status = 'dead' "
                "AND dead_letter_id IN (SELECT id FROM dead_letters WHERE created_at < ?) RETURNING id",
                [now_iso(), before],
            ),
            ("DELETE FROM dead_letters WHERE created_at < ? RETURNING id", [before]),
        ]
    )
    return {"dead_letters": len(deleted), "jobs_discarded": len(discarded)}


async def reopen_dead_letter(env: Any, letter_id: str) -> None:
    """Undo `resolve_dead_letter` (a replay whose message could not be sent)."""
    db = await DATABASE.open(env)
    values = {"status": "dead", "resolved_by": None, "resolved_at": None}
    await records.update_record(db, TABLES, "dead_letters", letter_id, values)
