"""Where db keeps its data: its D1 database (binding `DB`; SQLite locally), through `shared.storage`.

Domain modules (`things`, `relationships`, `records`, `admin_sql`) speak to a `Storage`, never to the
binding: `await storage(env)` is this request's, and the first one of an isolate brings the schema
(`migrations.py`) up to date, then makes the tables services keep in db (`tables.TABLES`, from their
manifests) and the columns their declarations gained: created and added, never dropped or changed.
"""

from __future__ import annotations

from typing import Any

from migrations import LATEST, MIGRATIONS
from shared.storage import D1Storage, Database, Storage
from tables import TABLES

DATABASE = Database("DB", MIGRATIONS, tables=TABLES)


async def storage(env: Any) -> Storage:
    """The backend for this request; the first one of an isolate brings the schema up to date."""
    return await DATABASE.open(env)


__all__ = ["DATABASE", "LATEST", "D1Storage", "Storage", "storage"]
