"""Where db keeps its data: its D1 database (binding `DB`; SQLite locally), through `shared.storage`.

Domain modules (`things`, `relationships`, `records`, `admin_sql`) speak to a `Storage`, never to the
binding: `await storage(env)` is this request's, and the first one of an isolate brings the schema
(`migrations.py`) up to date.
"""

from __future__ import annotations

from typing import Any

from migrations import LATEST, MIGRATIONS
from shared.storage import D1Storage, Database, Storage

DATABASE = Database("DB", MIGRATIONS)


async def storage(env: Any) -> Storage:
    """The backend for this request; the first one of an isolate brings the schema up to date."""
    return await DATABASE.open(env)


__all__ = ["DATABASE", "LATEST", "D1Storage", "Storage", "storage"]
