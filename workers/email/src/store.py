"""email's storage: its own D1 (`EMAIL_DB`). Sends, suppressions and delivery events as records
(`shared.records`); a send's status changes are compare-and-set on the status it is expected to have."""

from __future__ import annotations

from typing import Any

from migrations import MIGRATIONS
from shared import records
from shared.clock import now_iso
from shared.ids import new_id
from shared.storage import Database
from tables import TABLES

DATABASE = Database("EMAIL_DB", MIGRATIONS)
#: Columns that are email's own business, left out of what callers see.
INTERNAL = ("request_hash",)


def public(email: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if email is None else {k: v for k, v in email.items() if k not in INTERNAL}


async def _db(env: Any) -> Any:
    return await DATABASE.open(env)


# -- sends --------------------------------------------------------------------------------------------------


async def insert_email(env: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Record a send; 409 `CONFLICT` when its (caller, idempotency key) is taken."""
    return await records.insert_record(await _db(env), TABLES, "emails", values)


async def get_email(env: Any, email_id: str) -> dict[str, Any] | None:
    if not records.ID.fullmatch(email_id or ""):
        return None
    return await records.get_record(await _db(env), TABLES, "emails", email_id)


async def find_idempotent(env: Any, created_by: str | None, key: str) -> dict[str, Any] | None:
    """The send this caller made with this idempotency key, if any."""
    row = await (await _db(env)).first(
        "SELECT id FROM emails WHERE coalesce(created_by, '') = ? AND idempotency_key = ?", [created_by or "", key]
    )
    return None if row is None else await get_email(env, row["id"])


async def find_by_provider_id(env: Any, provider: str, provider_id: str) -> dict[str, Any] | None:
    row = await (await _db(env)).first(
        "SELECT id FROM emails WHERE provider = ? AND provider_id = ?", [provider, provider_id]
    )
    return None if row is None else await get_email(env, row["id"])


async def update_email(env: Any, email_id: str, values: dict[str, Any], where: Any = None) -> dict[str, Any] | None:
    """Change a send (only while `where` holds: None when it did not)."""
    return await records.update_record(await _db(env), TABLES, "emails", email_id, values, where)


async def list_emails(
    env: Any, *, status: str | None, template: str | None, created_by: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    where = {k: v for k, v in (("status", status), ("template", template), ("created_by", created_by)) if v}
    return await _newest(env, "emails", where, limit, offset)


async def _newest(
    env: Any, table: str, where: dict[str, Any], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    db = await _db(env)
    page = await records.find_records(db, TABLES, table, where or None, ["-created_at", "-id"], limit, offset)
    return page["items"], await records.count_records(db, TABLES, table, where or None)


# -- suppressions -------------------------------------------------------------------------------------------


async def suppressed(env: Any, addresses: list[str]) -> list[dict[str, Any]]:
    """The suppressions of these (normalized) addresses."""
    if not addresses:
        return []
    db = await _db(env)
    page = await records.find_records(
        db, TABLES, "suppressions", [{"field": "address", "operator": "in", "value": addresses}], ["address"], 100, 0
    )
    return page["items"]


async def suppress(
    env: Any, address: str, reason: str, *, email_id: str | None = None, note: str | None = None, actor: str | None
) -> tuple[dict[str, Any], bool]:
    """Add an address to the suppression list; (its suppression, whether it is new). One already there keeps
    its first reason."""
    db = await _db(env)
    now = now_iso()
    changed = await db.run(
        "INSERT OR IGNORE INTO suppressions (id, address, reason, email_id, note, created_by, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [new_id(TABLES["suppressions"].prefix), address, reason, email_id, note, actor, now, now],
    )
    (row,) = await suppressed(env, [address])
    return row, changed > 0


async def unsuppress(env: Any, address: str) -> bool:
    return await records.delete_records(await _db(env), TABLES, "suppressions", {"address": address}) > 0


async def list_suppressions(
    env: Any, *, reason: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    return await _newest(env, "suppressions", {"reason": reason} if reason else {}, limit, offset)


# -- delivery events ----------------------------------------------------------------------------------------


async def record_event(
    env: Any, email_id: str, provider_id: str, type: str, occurred_at: str, actor: str | None
) -> bool:
    """Keep one delivery event; False when this (email, type, time) was recorded already (a provider's retry)."""
    now = now_iso()
    return (
        await (await _db(env)).run(
            "INSERT OR IGNORE INTO email_events (id, email_id, provider_id, type, occurred_at, applied_by, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [new_id(TABLES["email_events"].prefix), email_id, provider_id, type, occurred_at, actor, now, now],
        )
        > 0
    )


async def events_of(env: Any, email_id: str) -> list[dict[str, Any]]:
    page = await records.find_records(
        await _db(env), TABLES, "email_events", {"email_id": email_id}, ["occurred_at", "id"], 100, 0
    )
    return page["items"]
