"""webhooks' storage: its own D1 (`WEBHOOKS_DB`). Every change of an event's status is a compare-and-set on the
status it is expected to have, so two deliveries of one event never both process it, and an event is marked
`done` only by the delivery that processed it.
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

DATABASE = Database("WEBHOOKS_DB", MIGRATIONS)


def summary(event: dict[str, Any]) -> dict[str, Any]:
    """An event as lists show it: everything but the payload and the lease."""
    return {k: v for k, v in event.items() if k not in ("payload", "lease_until")}


def detail(event: dict[str, Any]) -> dict[str, Any]:
    """An event with its payload parsed (as received; it was JSON when verified)."""
    shown = summary(event)
    try:
        shown["payload"] = json.loads(event["payload"]) if event.get("payload") else None
    except ValueError:
        shown["payload"] = event["payload"]
    return shown


async def _one(env: Any, sql: str, params: list[Any]) -> dict[str, Any] | None:
    db = await DATABASE.open(env)
    row = await db.first(sql, params)
    return None if row is None else records._decode(TABLES["events"], row)


# -- events -------------------------------------------------------------------------------------------------


async def record_event(
    env: Any,
    *,
    provider: str,
    event_id: str,
    type: str,
    status: str,
    payload: str,
    source: str | None,
    request_id: str | None,
) -> tuple[dict[str, Any], bool]:
    """Record a verified delivery: the event, and whether this is its first delivery. A delivery of an event
    recorded before (the provider retrying) only counts `deliveries` up; its status is left as it is."""
    now = now_iso()
    event = await _one(
        env,
        "INSERT INTO events (id, provider, event_id, type, status, payload, source, request_id, deliveries, attempts, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?, ?) "
        "ON CONFLICT (provider, event_id) DO UPDATE SET deliveries = deliveries + 1, updated_at = excluded.updated_at "
        "RETURNING *",
        [new_id(TABLES["events"].prefix), provider, event_id, type, status, payload, source, request_id, now, now],
    )
    assert event is not None
    return event, event["deliveries"] == 1


async def get_event(env: Any, event_id: str) -> dict[str, Any] | None:
    if not records.ID.fullmatch(event_id or ""):
        return None
    return await records.get_record(await DATABASE.open(env), TABLES, "events", event_id)


async def list_events(
    env: Any, *, provider: str | None, status: str | None, type: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Events newest first, filtered; and how many match in all."""
    where = {k: v for k, v in (("provider", provider), ("status", status), ("type", type)) if v is not None}
    db = await DATABASE.open(env)
    page = await records.find_records(db, TABLES, "events", where or None, ["-created_at", "-id"], limit, offset)
    return page["items"], await records.count_records(db, TABLES, "events", where or None)


async def reopen(env: Any, event_id: str, statuses: tuple[str, ...]) -> dict[str, Any] | None:
    """Back to `received` from one of `statuses` (to be sent to the queue again); None if it was in none."""
    marks = ", ".join("?" for _ in statuses)
    return await _one(
        env,
        "UPDATE events SET status = 'received', lease_until = NULL, updated_at = ? "  # noqa: S608 - statuses are fixed
        f"WHERE id = ? AND status IN ({marks}) RETURNING *",
        [now_iso(), event_id, *statuses],
    )


async def claim(env: Any, event_id: str, lease_seconds: float) -> dict[str, Any] | None:
    """Take the event for one try: `processing`, attempts + 1, leased. None when it is settled or another
    delivery holds it (a `processing` event whose lease ran out, its consumer gone, is taken over)."""
    marks = ", ".join("?" for _ in CLAIMABLE)
    now = now_iso()
    return await _one(
        env,
        "UPDATE events SET status = 'processing', attempts = attempts + 1, lease_until = ?, updated_at = ? "  # noqa: S608
        f"WHERE id = ? AND (status IN ({marks}) OR (status = 'processing' AND lease_until < ?)) RETURNING *",
        [iso_in(lease_seconds), now, event_id, *CLAIMABLE, now],
    )


async def settle(env: Any, event_id: str, status: str, *, result: Any = None, error: str | None = None) -> bool:
    """Record a try's outcome (`done`, `failed` or `unhandled`), only from `processing`: False when the lease
    was lost to another delivery meanwhile."""
    db = await DATABASE.open(env)
    now = now_iso()
    changed = await db.run(
        "UPDATE events SET status = ?, result = ?, error = ?, lease_until = NULL, updated_at = ?, "
        "processed_at = CASE WHEN ? = 'done' THEN ? ELSE processed_at END WHERE id = ? AND status = 'processing'",
        [status, None if result is None else json.dumps(result, default=str), error, now, status, now, event_id],
    )
    return changed == 1


async def mark_unsent(env: Any, event_id: str, error: str) -> None:
    """An event whose queue message could not be sent: `failed`, so the provider's retry sends it again."""
    db = await DATABASE.open(env)
    await db.run(
        "UPDATE events SET status = 'failed', error = ?, updated_at = ? WHERE id = ? AND status = 'received'",
        [error[:2000], now_iso(), event_id],
    )


# -- housekeeping (the schedule service) --------------------------------------------------------------------


async def purge_processed(env: Any, before: str) -> int:
    """Delete the events settled `done` or `unhandled` before `before` (`processed_at`, or the last change for an
    unhandled one); events still received, processing or failed stay. How many went."""
    db = await DATABASE.open(env)
    return await db.run(
        "DELETE FROM events WHERE status IN ('done', 'unhandled') AND coalesce(processed_at, updated_at) < ?",
        [before],
    )


async def failed_since(env: Any, before: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` events `failed` with no change since `before`, the longest waiting first."""
    db = await DATABASE.open(env)
    rows = await db.all(
        "SELECT * FROM events WHERE status = 'failed' AND updated_at < ? ORDER BY updated_at, id LIMIT ?",
        [before, limit],
    )
    return [records._decode(TABLES["events"], row) for row in rows]


# -- effects ------------------------------------------------------------------------------------------------


async def upsert_billing(env: Any, values: dict[str, Any]) -> dict[str, Any]:
    """A Stripe object's billing record, keyed by (kind, stripe id). An event older than the one the record
    shows (Stripe does not deliver in order) changes nothing: the newer state stays."""
    db = await DATABASE.open(env)
    now = now_iso()
    columns = ("kind", "stripe_id", "status", "customer", "amount", "currency", "detail", "event_id", "event_created")
    row = [values.get(c) if c != "detail" else json.dumps(values.get("detail") or {}) for c in columns]
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[2:])
    await db.run(
        f"INSERT INTO billing_records (id, {', '.join(columns)}, created_at, updated_at) "  # noqa: S608 - fixed columns
        f"VALUES (?, {', '.join('?' for _ in columns)}, ?, ?) "
        f"ON CONFLICT (kind, stripe_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at "
        "WHERE coalesce(excluded.event_created, 0) >= coalesce(billing_records.event_created, 0)",
        [new_id(TABLES["billing_records"].prefix), *row, now, now],
    )
    record = await db.first(
        "SELECT * FROM billing_records WHERE kind = ? AND stripe_id = ?", [values["kind"], values["stripe_id"]]
    )
    assert record is not None
    return records._decode(TABLES["billing_records"], record)


async def record_github(env: Any, values: dict[str, Any]) -> dict[str, Any]:
    """A GitHub delivery's record (once per delivery id)."""
    db = await DATABASE.open(env)
    now = now_iso()
    columns = list(TABLES["github_events"].columns)
    encoded = [records._encode(TABLES["github_events"], c, values.get(c)) for c in columns]
    await db.run(
        f"INSERT OR IGNORE INTO github_events (id, {', '.join(columns)}, created_at, updated_at) "  # noqa: S608
        f"VALUES (?, {', '.join('?' for _ in columns)}, ?, ?)",
        [new_id(TABLES["github_events"].prefix), *encoded, now, now],
    )
    row = await db.first("SELECT * FROM github_events WHERE delivery_id = ?", [values["delivery_id"]])
    assert row is not None
    return records._decode(TABLES["github_events"], row)


async def upsert_directory(env: Any, values: dict[str, Any]) -> dict[str, Any]:
    """A WorkOS directory or group, keyed by (kind, WorkOS id), with its latest state."""
    db = await DATABASE.open(env)
    now = now_iso()
    columns = ("kind", "workos_id", "directory_id", "organization_id", "name", "state", "event_id")
    updates = ", ".join(
        f"{c} = coalesce(excluded.{c}, directory_objects.{c})" for c in ("directory_id", "organization_id", "name")
    )
    await db.run(
        f"INSERT INTO directory_objects (id, {', '.join(columns)}, created_at, updated_at) "  # noqa: S608 - fixed columns
        f"VALUES (?, {', '.join('?' for _ in columns)}, ?, ?) "
        f"ON CONFLICT (kind, workos_id) DO UPDATE SET {updates}, state = excluded.state, "
        "event_id = excluded.event_id, updated_at = excluded.updated_at",
        [new_id(TABLES["directory_objects"].prefix), *(values.get(c) for c in columns), now, now],
    )
    row = await db.first(
        "SELECT * FROM directory_objects WHERE kind = ? AND workos_id = ?", [values["kind"], values["workos_id"]]
    )
    assert row is not None
    return records._decode(TABLES["directory_objects"], row)


async def find(env: Any, table: str, where: dict[str, Any], limit: int = 100) -> list[dict[str, Any]]:
    """Records of one of the effect tables (for the admin API and tests)."""
    db = await DATABASE.open(env)
    return (await records.find_records(db, TABLES, table, where or None, ["created_at", "id"], limit, 0))["items"]
