"""deploy's storage: its own D1 (`DEPLOY_DB`). Deployments as records (`shared.records`), listed newest
first by insertion order (rowid: two deployments in one millisecond still come out in order), and
bundles content-addressed: base64 in chunks under the bundle's SHA-256, written once.
"""

from __future__ import annotations

import base64
from typing import Any

from migrations import MIGRATIONS
from shared import records
from shared.storage import Database
from tables import TABLES

DATABASE = Database("DEPLOY_DB", MIGRATIONS)
#: base64 characters per row (D1's row limit is 2 MB).
CHUNK = 1_000_000
_COLUMNS = ", ".join(f'"{c}"' for c in TABLES["deployments"].all_columns)


async def insert(env: Any, values: dict[str, Any]) -> dict[str, Any]:
    return await records.insert_record(await DATABASE.open(env), TABLES, "deployments", values)


async def get(env: Any, deployment_id: str) -> dict[str, Any] | None:
    return await records.get_record(await DATABASE.open(env), TABLES, "deployments", deployment_id)


async def set_status(env: Any, deployment_id: str, status: str) -> None:
    await records.update_record(await DATABASE.open(env), TABLES, "deployments", deployment_id, {"status": status})


async def newest(env: Any, where: dict[str, Any], *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """Deployments matching `where` (column -> value, all equal), newest first."""
    db = await DATABASE.open(env)
    sql, params = _where(where)
    rows = await db.all(
        f"SELECT {_COLUMNS} FROM deployments WHERE {sql} ORDER BY rowid DESC LIMIT ? OFFSET ?",  # noqa: S608 - columns fixed
        [*params, limit, offset],
    )
    return [dict(row) for row in rows]


async def count(env: Any, where: dict[str, Any]) -> int:
    db = await DATABASE.open(env)
    sql, params = _where(where)
    row = await db.first(f"SELECT count(*) AS n FROM deployments WHERE {sql}", params)  # noqa: S608 - columns fixed
    return int(row["n"]) if row else 0


def _where(where: dict[str, Any]) -> tuple[str, list[Any]]:
    columns = TABLES["deployments"].all_columns
    parts, params = [], []
    for column, value in where.items():
        assert column in columns  # the callers name columns, never input
        parts.append(f'"{column}" = ?')
        params.append(value)
    return (" AND ".join(parts) or "1"), params


async def put_bundle(env: Any, sha256: str, data: bytes) -> None:
    """Keep a bundle under its hash (a bundle already kept is left as it is)."""
    db = await DATABASE.open(env)
    if await db.first("SELECT 1 AS one FROM bundle_chunks WHERE sha256 = ? LIMIT 1", [sha256]):
        return
    text = base64.b64encode(data).decode("ascii")
    chunks = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]
    await db.batch(
        [
            ("INSERT OR IGNORE INTO bundle_chunks (sha256, seq, data) VALUES (?, ?, ?)", [sha256, seq, chunk])
            for seq, chunk in enumerate(chunks)
        ]
    )


async def get_bundle(env: Any, sha256: str) -> bytes | None:
    db = await DATABASE.open(env)
    rows = await db.all("SELECT data FROM bundle_chunks WHERE sha256 = ? ORDER BY seq", [sha256])
    if not rows:
        return None
    return base64.b64decode("".join(row["data"] for row in rows))


#: The bundles `prune_bundles` keeps: those of each service's `keep` newest deployments per environment,
#: and of its two newest successful ones there (the live one and the one a rollback would re-upload).
_KEPT = """SELECT bundle_sha256 FROM (
    SELECT bundle_sha256, status,
        row_number() OVER (PARTITION BY service, environment ORDER BY rowid DESC) AS newest,
        row_number() OVER (PARTITION BY service, environment, status ORDER BY rowid DESC) AS newest_of_status
    FROM deployments
) WHERE newest <= ? OR (status = 'uploaded' AND newest_of_status <= 2)"""


async def prune_bundles(env: Any, keep: int) -> dict[str, int]:
    """Delete the stored bundles no kept deployment refers to (`_KEPT`); how many bundles and chunks."""
    db = await DATABASE.open(env)
    counted = "SELECT count(DISTINCT sha256) AS n FROM bundle_chunks"
    before = await db.first(counted)
    chunks = await db.run(f"DELETE FROM bundle_chunks WHERE sha256 NOT IN ({_KEPT})", [keep])  # noqa: S608 - fixed
    after = await db.first(counted)
    return {"bundles": int(before["n"]) - int(after["n"]) if before and after else 0, "chunks": chunks}
