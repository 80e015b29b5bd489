"""Versioned schema migrations for a D1 database, applied once, in order, on first use.

    MIGRATIONS = [
        Migration(1, "items", ("CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT NOT NULL)",)),
        Migration(2, "items_tags", ("ALTER TABLE items ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",)),
    ]
    version = await apply_migrations(env.DB, MIGRATIONS)

Each migration is a list of statements (not one string split on `;`: a trigger body holds `;`s)
run in one `batch()`, which D1 makes a single transaction, together with the row that records it
in `_migrations`. That row is written first and its version is the primary key, so when two
isolates race to apply the same migration the second one's batch fails and rolls back as a whole:
a migration never runs twice, even one that is not idempotent (`ALTER TABLE ... ADD COLUMN`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_CREATE = (
    "CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
_CURRENT = "SELECT coalesce(max(version), 0) AS version FROM _migrations"
#: What `schema_version` runs, in one batch: the version is the first row of the second statement's result.
VERSION_STATEMENTS = (_CREATE, _CURRENT)
_RECORD = "INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"


@dataclass(frozen=True)
class Migration:
    """One schema change: a version number (1, 2, ... without gaps), a short name, its SQL statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def check_migrations(migrations: Sequence[Migration]) -> int:
    """The latest version; `ValueError` unless versions run 1, 2, 3... and every migration has statements."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(f"migration {migration.name!r} has version {migration.version}, expected {expected}")
        if not migration.statements or any(not s.strip() for s in migration.statements):
            raise ValueError(f"migration {migration.version} ({migration.name}) has an empty statement")
    return len(migrations)


async def schema_version(db: Any) -> int:
    """The version the database is at (0 for a new one)."""
    results = await db.batch([db.prepare(_CREATE), db.prepare(_CURRENT)])
    return int(results[1]["results"][0]["version"])


async def apply_migrations(db: Any, migrations: Sequence[Migration]) -> int:
    """Bring `db` (a D1 binding) up to the latest migration; returns the schema version.

    After the first call one attribute lookup: the version is remembered on the binding object,
    which lives as long as the isolate.
    """
    latest = check_migrations(migrations)
    if getattr(db, "_dotdo_schema_version", None) == latest:
        return latest
    version = await schema_version(db)
    for migration in migrations[version:]:
        statements = [db.prepare(_RECORD).bind(migration.version, migration.name)]
        statements += [db.prepare(sql) for sql in migration.statements]
        try:
            await db.batch(statements)
        except Exception:
            # Another isolate may have applied it meanwhile (our batch rolled back as a whole).
            if await schema_version(db) < migration.version:
                raise
    with contextlib.suppress(AttributeError, TypeError):  # a binding without attributes: asked again next time
        db._dotdo_schema_version = latest
    return latest
