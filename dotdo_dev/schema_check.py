"""Whether a database's record tables are what a registry declares (`shared.records`), for tests.

    assert await schema_mismatches(harness.env.AUTH_DB, TABLES) == []

A worker declares its record tables column by column (its `tables.py`) and makes them with its
migrations: the two are written separately, and this says where they part. (Tables made from their
declarations by `shared.records.ensure_tables`, as db makes services' tables, agree by construction
when they were created whole; a column added later is nullable even when declared required.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.records import SQL_TYPES

MANAGED = {"id", "created_at", "updated_at"}


async def _rows(d1: Any, sql: str, *params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in (await d1.prepare(sql).bind(*params).all())["results"]]


async def schema_mismatches(d1: Any, registry: Mapping[str, Any], *, not_records: tuple[str, ...] = ()) -> list[str]:
    """What differs between the tables of `d1` (a D1 binding, migrated) and `registry` (name -> `Table`).

    Tables whose names start with one of `not_records` (a graph, a search index) and the bookkeeping
    (`_migrations`, `sqlite_*`) are left out. An empty list: every declared table exists with exactly
    its columns and types, `id` is its key, every required column is NOT NULL, and every NOT NULL
    column an insert need not give has a default.
    """
    skip = ("_migrations", "sqlite_", *not_records)
    created = {r["name"] for r in await _rows(d1, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    created = {name for name in created if not name.startswith(skip)}
    problems = [f"{name}: created but not declared" for name in sorted(created - set(registry))]
    problems += [f"{name}: declared but not created" for name in sorted(set(registry) - created)]
    for name in sorted(created & set(registry)):
        spec = registry[name]
        info = await _rows(d1, 'SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)', name)
        actual = {c["name"]: c for c in info}
        declared = spec.all_columns
        problems += [f"{name}.{c}: created but not declared" for c in sorted(set(actual) - set(declared))]
        problems += [f"{name}.{c}: declared but not created" for c in sorted(set(declared) - set(actual))]
        for column in sorted(set(actual) & set(declared)):
            if actual[column]["type"] != SQL_TYPES[declared[column]]:
                problems.append(f"{name}.{column}: {actual[column]['type']}, declared {declared[column]}")
        if [c["name"] for c in info if c["pk"]] != ["id"]:
            problems.append(f"{name}: the key is not id")
        problems += [f"{name}.{c}: required but nullable" for c in sorted(spec.required) if not _not_null(actual, c)]
        must_give = {c["name"] for c in info if c["notnull"] and c["dflt_value"] is None} - MANAGED
        problems += [f"{name}.{c}: NOT NULL without a default, not required" for c in sorted(must_give - spec.required)]
    return problems


def _not_null(actual: dict[str, dict[str, Any]], column: str) -> bool:
    return bool(actual.get(column, {}).get("notnull"))
