"""Typed records on a worker's own database: declared tables, checked values, no SQL from callers.

    used = await update_record(db, TABLES, "refresh_tokens", "rt_1", {"used_at": now}, {"used_at": None})

Every function takes the database (a `shared.storage.Storage`) and the registry of the tables it
serves: an undeclared table or column is 400 `UNKNOWN_TABLE` / `UNKNOWN_COLUMN`, a value of the
wrong type 400 `VALIDATION_ERROR`, and values are always bound. The owner's migrations make the tables,
or `ensure_tables` makes them from their declarations (db does so for the tables services declare in
their manifests: `declared_table`).

Column types: `text`, `integer`, `boolean` (0/1), `json` (stored as text), `timestamp` (ISO-8601,
stored in one format so that it compares as text). `id` (given on insert, else made with the
table's prefix), `created_at` and `updated_at` are managed.

`where`: `{"column": value}` (None: IS NULL) or a list of `{"field", "operator", "value"}` with eq,
ne, gt, gte, lt, lte, in, nin, like, exists. For update, increment and delete it is a precondition
checked in the same statement (compare-and-set): None / False when nothing matched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared.clock import now_iso, parse_iso, to_iso
from shared.errors import BadRequest, ValidationError
from shared.ids import new_id

if TYPE_CHECKING:  # shared.storage makes a Database's declared tables with `ensure_tables`
    from shared.storage import Storage

TYPES = ("text", "integer", "boolean", "json", "timestamp")
#: How each type is stored (its column's declared SQL type).
SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "boolean": "INTEGER", "json": "TEXT", "timestamp": "TEXT"}
#: A table's or column's name: quoted into SQL as it is, so nothing that could end the quotes.
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: An id prefix (`shared.ids.new_id`).
PREFIX = re.compile(r"^[a-z][a-z0-9]{0,15}$")
MAX_LIMIT = 1000
MAX_OFFSET = 100_000
MAX_IN = 100
MAX_TEXT = 64 * 1024
MAX_JSON = 256 * 1024
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MANAGED = ("created_at", "updated_at")
_OPERATORS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE"}
_MAX_INT = 2**53 - 1  # D1 carries numbers as JavaScript numbers


@dataclass(frozen=True)
class Table:
    """A record table: its name, id prefix, columns (name -> type) and which of them must be given."""

    name: str
    prefix: str
    columns: dict[str, str]
    required: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.fullmatch(self.name):
            raise ValueError(f"table name {self.name!r}: 1-63 of a-z, 0-9, _ starting with a letter")
        if not isinstance(self.prefix, str) or not PREFIX.fullmatch(self.prefix):
            raise ValueError(f"{self.name}: id prefix {self.prefix!r} is 1-16 of a-z, 0-9 starting with a letter")
        for column, kind in self.columns.items():
            if not isinstance(column, str) or not NAME.fullmatch(column):
                raise ValueError(f"{self.name}: column name {column!r}: 1-63 of a-z, 0-9, _ starting with a letter")
            if column in ("id", *MANAGED):
                raise ValueError(f"{self.name}.{column}: set by the store, not declared")
            if kind not in TYPES:
                raise ValueError(f"{self.name}.{column}: unknown type {kind!r}")
        unknown = self.required - set(self.columns)
        if unknown:
            raise ValueError(f"{self.name}: required columns {sorted(unknown)} are not declared")

    @property
    def all_columns(self) -> dict[str, str]:
        """Every column, with the three the store manages: `id`, `created_at`, `updated_at`."""
        return {"id": "text", **self.columns, "created_at": "timestamp", "updated_at": "timestamp"}


def table(name: str, prefix: str, required: str, /, **columns: str) -> Table:
    """`table("users", "usr", "role", email="text", role="text")`: required columns space-separated."""
    return Table(name, prefix, columns, frozenset(required.split()))


def tables(*declared: Table) -> dict[str, Table]:
    """A registry: each table by its name."""
    return {t.name: t for t in declared}


def declared_table(name: str, declaration: Any) -> Table:
    """A table as a manifest declares it (`[tables.<name>]` of a `service.toml`, as `shared/registry.py`
    holds it): `{"prefix": "inv", "columns": {"number": "text", ...}, "required": ["number"]}`.

    `ValueError` saying what is wrong: unknown keys, no columns, a bad name, prefix or type, a required
    column that is not declared.
    """
    if not isinstance(declaration, Mapping):
        raise ValueError(f"{name}: a table declares prefix, columns and required")
    unknown = set(declaration) - {"prefix", "columns", "required"}
    if unknown:
        raise ValueError(f"{name}: unknown keys {sorted(unknown)}; a table declares prefix, columns and required")
    columns, required = declaration.get("columns"), declaration.get("required", [])
    if not isinstance(columns, Mapping) or not columns:
        raise ValueError(f"{name}: columns maps each column to its type, one of {list(TYPES)}")
    if not isinstance(required, list | tuple) or not all(isinstance(c, str) for c in required):
        raise ValueError(f"{name}: required is a list of column names")
    return Table(name, declaration.get("prefix"), dict(columns), frozenset(required))  # type: ignore[arg-type]


# -- checking ------------------------------------------------------------------------------------------


def table_of(registry: Mapping[str, Table], name: Any) -> Table:
    """The declared table called `name`, or 400 `UNKNOWN_TABLE`."""
    spec = registry.get(name) if isinstance(name, str) else None
    if spec is None:
        raise BadRequest(
            f"Unknown table {str(name)[:64]!r}", code="UNKNOWN_TABLE", details={"tables": sorted(registry)}
        )
    return spec


def _column(spec: Table, name: Any) -> str:
    if not isinstance(name, str) or name not in spec.all_columns:
        raise BadRequest(
            f"Unknown column {str(name)[:64]!r} in {spec.name}",
            code="UNKNOWN_COLUMN",
            details={"table": spec.name, "columns": sorted(spec.all_columns)},
        )
    return name


def _invalid(field: str, message: str, kind: str = "type_error") -> ValidationError:
    return ValidationError("Invalid input", details=[{"field": field, "message": message, "type": kind}])


def _encode(spec: Table, column: str, value: Any) -> Any:
    """`value` as bound for `column`, after checking it has the column's type."""
    kind = spec.all_columns[column]
    if value is None:
        return None
    if kind == "json":
        try:
            text = json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            raise _invalid(column, "must be JSON data") from None
        if len(text) > MAX_JSON:
            raise _invalid(column, f"is larger than {MAX_JSON} bytes", "too_long")
        return text
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _invalid(column, "must be true or false")
        return 1 if value else 0
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _MAX_INT:
            raise _invalid(column, "must be an integer")
        return value
    if not isinstance(value, str):
        raise _invalid(column, "must be a string")
    if kind == "timestamp":
        try:
            return to_iso(parse_iso(value))  # one format, so that timestamps compare as text
        except (ValueError, OverflowError):
            raise _invalid(column, "must be an ISO-8601 time with a zone, e.g. 2027-01-01T00:00:00Z") from None
    if len(value) > MAX_TEXT:
        raise _invalid(column, f"is longer than {MAX_TEXT} characters", "too_long")
    return value


def _decode(spec: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for column, kind in spec.all_columns.items():
        value = row.get(column)
        if value is not None and kind == "json":
            value = json.loads(value)
        elif value is not None and kind == "boolean":
            value = bool(value)
        record[column] = value
    return record


def _conditions(spec: Table, where: Any) -> tuple[str, list[Any]]:
    """SQL for `where` (`1` when empty) and its parameters."""
    if where is None:
        return "1", []
    if isinstance(where, Mapping):
        items = [{"field": k, "operator": "eq", "value": v} for k, v in where.items()]
    elif isinstance(where, list | tuple):
        items = list(where)
    else:
        raise _invalid("where", "must be an object or a list of conditions")
    if len(items) > 20:
        raise _invalid("where", "at most 20 conditions", "too_long")
    sql: list[str] = []
    params: list[Any] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or set(item) - {"field", "operator", "value"}:
            raise _invalid(f"where.{index}", "a condition is {field, operator, value}")
        column = _column(spec, item.get("field"))
        operator, value = item.get("operator", "eq"), item.get("value")
        if not isinstance(operator, str):
            raise _invalid(f"where.{index}.operator", "unknown operator", "literal_error")
        quoted = f'"{column}"'
        if spec.all_columns[column] == "json":
            raise _invalid(f"where.{index}", f"{column} holds JSON and cannot be compared")
        if operator == "exists":
            if not isinstance(value, bool):
                raise _invalid(f"where.{index}.value", "exists takes true or false")
            sql.append(f"{quoted} IS {'NOT ' if value else ''}NULL")
        elif operator in ("in", "nin"):
            if not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_IN:
                raise _invalid(f"where.{index}.value", f"{operator} takes a list of 1-{MAX_IN} values")
            marks = ", ".join("?" for _ in value)
            sql.append(f"{quoted} {'NOT ' if operator == 'nin' else ''}IN ({marks})")
            params += [_encode(spec, column, v) for v in value]
        elif operator in _OPERATORS:
            if value is None and operator in ("eq", "ne"):
                sql.append(f"{quoted} IS {'NOT ' if operator == 'ne' else ''}NULL")
            elif value is None:
                raise _invalid(f"where.{index}.value", f"{operator} needs a value")
            else:
                if operator == "like" and not isinstance(value, str):
                    raise _invalid(f"where.{index}.value", "like takes a string pattern")
                sql.append(f"{quoted} {_OPERATORS[operator]} ?")
                params.append(_encode(spec, column, value))
        else:
            raise _invalid(f"where.{index}.operator", "unknown operator", "literal_error")
    return (" AND ".join(sql) or "1"), params


def _order(spec: Table, order_by: Any) -> str:
    if order_by is None:
        return '"created_at", "id"'
    if isinstance(order_by, str | Mapping):
        order_by = [order_by]
    if not isinstance(order_by, list | tuple) or len(order_by) > 5:
        raise _invalid("order_by", "a column, or a list of up to 5")
    parts = []
    for item in order_by:
        if isinstance(item, str):
            column, direction = item.removeprefix("-"), "DESC" if item.startswith("-") else "ASC"
        elif isinstance(item, Mapping) and item.get("direction", "asc") in ("asc", "desc"):
            column, direction = item.get("field"), str(item.get("direction", "asc")).upper()
        else:
            raise _invalid("order_by", "each is 'column', '-column' or {field, direction: asc|desc}")
        parts.append(f'"{_column(spec, column)}" {direction}')
    return ", ".join([*parts, '"id"'])


def _values(spec: Table, values: Any, *, inserting: bool) -> dict[str, Any]:
    if not isinstance(values, Mapping) or not values:
        raise _invalid("values", "must be an object with at least one column")
    encoded: dict[str, Any] = {}
    for column, value in values.items():
        column = _column(spec, column)
        if column in MANAGED or (column == "id" and not inserting):
            raise _invalid(column, f"{column} is set by the store", "read_only")
        if column == "id" and (not isinstance(value, str) or not ID.fullmatch(value)):
            raise _invalid("id", "1-128 of letters, digits and _.:- (starting with a letter or digit)")
        encoded[column] = _encode(spec, column, value)
    if inserting:
        missing = sorted(c for c in spec.required if encoded.get(c) is None)
        if missing:
            raise ValidationError(
                "Invalid input", details=[{"field": c, "message": "is required", "type": "missing"} for c in missing]
            )
    return encoded


def _record_id(record_id: Any) -> str:
    if not isinstance(record_id, str) or not ID.fullmatch(record_id):
        raise _invalid("id", "1-128 of letters, digits and _.:- (starting with a letter or digit)")
    return record_id


# -- operations ----------------------------------------------------------------------------------------

Registry = Mapping[str, Table]


async def insert_record(
    db: Storage, registry: Registry, table: str, values: Any, *, actor: str | None = None
) -> dict[str, Any]:
    """Insert one record; the stored record. 409 `CONFLICT` on a duplicate id or unique column."""
    spec = table_of(registry, table)
    encoded = _values(spec, values, inserting=True)
    encoded.setdefault("id", new_id(spec.prefix))
    if "created_by" in spec.columns and encoded.get("created_by") is None and actor is not None:
        encoded["created_by"] = _encode(spec, "created_by", actor)
    now = now_iso()
    encoded |= {"created_at": now, "updated_at": now}
    columns = ", ".join(f'"{c}"' for c in encoded)
    marks = ", ".join("?" for _ in encoded)
    row = await db.first(f'INSERT INTO "{spec.name}" ({columns}) VALUES ({marks}) RETURNING *', list(encoded.values()))
    assert row is not None
    return _decode(spec, row)


async def get_record(db: Storage, registry: Registry, table: str, record_id: str) -> dict[str, Any] | None:
    """The record with this id, or None."""
    spec = table_of(registry, table)
    row = await db.first(f'SELECT * FROM "{spec.name}" WHERE id = ?', [_record_id(record_id)])
    return None if row is None else _decode(spec, row)


async def find_records(
    db: Storage,
    registry: Registry,
    table: str,
    where: Any = None,
    order_by: Any = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Records matching `where`, ordered (default: oldest first): `{"items": [...], "has_more": bool}`."""
    spec = table_of(registry, table)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise _invalid("limit", f"must be 1-{MAX_LIMIT}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise _invalid("offset", f"must be 0-{MAX_OFFSET}")
    condition, params = _conditions(spec, where)
    sql = f'SELECT * FROM "{spec.name}" WHERE {condition} ORDER BY {_order(spec, order_by)} LIMIT ? OFFSET ?'
    rows = await db.all(sql, [*params, limit + 1, offset])
    return {"items": [_decode(spec, r) for r in rows[:limit]], "has_more": len(rows) > limit}


async def count_records(db: Storage, registry: Registry, table: str, where: Any = None) -> int:
    """How many records match `where`."""
    spec = table_of(registry, table)
    condition, params = _conditions(spec, where)
    row = await db.first(f'SELECT count(*) AS n FROM "{spec.name}" WHERE {condition}', params)
    return int(row["n"]) if row else 0


async def update_record(
    db: Storage, registry: Registry, table: str, record_id: str, values: Any, where: Any = None
) -> dict[str, Any] | None:
    """Change columns of one record if it (still) matches `where`; the new record, or None."""
    spec = table_of(registry, table)
    encoded = _values(spec, values, inserting=False) | {"updated_at": now_iso()}
    condition, params = _conditions(spec, where)
    sets = ", ".join(f'"{c}" = ?' for c in encoded)
    sql = f'UPDATE "{spec.name}" SET {sets} WHERE id = ? AND ({condition}) RETURNING *'
    row = await db.first(sql, [*encoded.values(), _record_id(record_id), *params])
    return None if row is None else _decode(spec, row)


async def increment_record(
    db: Storage, registry: Registry, table: str, record_id: str, column: str, by: int = 1, where: Any = None
) -> dict[str, Any] | None:
    """Add `by` to an integer column atomically (if the record matches `where`); the new record, or None."""
    spec = table_of(registry, table)
    column = _column(spec, column)
    if spec.all_columns[column] != "integer":
        raise _invalid(column, "only integer columns can be incremented")
    step = _encode(spec, column, by)
    condition, params = _conditions(spec, where)
    sql = (
        f'UPDATE "{spec.name}" SET "{column}" = coalesce("{column}", 0) + ?, updated_at = ? '
        f"WHERE id = ? AND ({condition}) RETURNING *"
    )
    row = await db.first(sql, [step, now_iso(), _record_id(record_id), *params])
    return None if row is None else _decode(spec, row)


async def delete_record(db: Storage, registry: Registry, table: str, record_id: str, where: Any = None) -> bool:
    """Delete one record (if it matches `where`); whether it was deleted."""
    spec = table_of(registry, table)
    condition, params = _conditions(spec, where)
    sql = f'DELETE FROM "{spec.name}" WHERE id = ? AND ({condition})'
    return await db.run(sql, [_record_id(record_id), *params]) > 0


async def delete_records(db: Storage, registry: Registry, table: str, where: Any) -> int:
    """Delete every record matching a non-empty `where`; how many."""
    spec = table_of(registry, table)
    if not where:
        raise _invalid("where", "give at least one condition (deleting a whole table is not offered)", "missing")
    condition, params = _conditions(spec, where)
    return await db.run(f'DELETE FROM "{spec.name}" WHERE {condition}', params)


# -- making the tables from their declarations -------------------------------------------------------


def create_table_sql(spec: Table) -> str:
    """`CREATE TABLE IF NOT EXISTS` for a declared table: `id` its key, each column of its type (`SQL_TYPES`;
    a required one NOT NULL), `created_at` and `updated_at` NOT NULL, as the functions above expect."""
    columns = ['"id" TEXT NOT NULL PRIMARY KEY']
    columns += [_column_sql(spec, column, required=column in spec.required) for column in spec.columns]
    columns += ['"created_at" TEXT NOT NULL', '"updated_at" TEXT NOT NULL']
    return f'CREATE TABLE IF NOT EXISTS "{spec.name}" ({", ".join(columns)})'


def add_column_sql(spec: Table, column: str) -> str:
    """`ALTER TABLE ... ADD COLUMN` for a declared column the table lacks. Nullable even when required: the
    rows already there have no value (SQLite adds no NOT NULL column without a default); every insert must
    still give it (the engine checks required columns)."""
    return f'ALTER TABLE "{spec.name}" ADD COLUMN {_column_sql(spec, column, required=False)}'


def _column_sql(spec: Table, column: str, *, required: bool) -> str:
    return f'"{column}" {SQL_TYPES[spec.all_columns[column]]}' + (" NOT NULL" if required else "")


async def ensure_tables(db: Storage, registry: Registry) -> list[str]:
    """Make the declared tables a database lacks and add the declared columns missing from those it has;
    the statements this call ran (none when nothing was missing).

    It only ever adds. Nothing is dropped or changed: a table or column no longer declared stays, data and
    all; a column keeps the type it was made with even if its declared type changes (declare a new column
    instead); a column declared required later is added nullable (`add_column_sql`); `id` is never added
    (a table of that name made without one is not a record table and is left as it is). Two isolates may
    run it at once: the changes are one batch (one transaction), and a batch that fails because another
    isolate made the same change meanwhile is worked out again from what is there.
    """
    for attempt in range(2):
        statements = await _missing_schema(db, registry)
        if not statements:
            return []
        try:
            await db.batch([(sql, ()) for sql in statements])
        except Exception:
            if attempt:
                raise
            continue
        return statements
    return []  # not reached: the second attempt returns or raises


async def _missing_schema(db: Storage, registry: Registry) -> list[str]:
    """The statements that would make what `registry` declares and `db` lacks (table names are checked
    names, `NAME`, so quoting them is safe)."""
    specs = list(registry.values())
    if not specs:
        return []
    return missing_schema(specs, await db.batch(table_info_statements(specs)))


def table_info_statements(specs: list[Table]) -> list[tuple[str, tuple[()]]]:
    """The statements that read the columns each of `specs` has in the database (none: it is missing)."""
    return [(f'PRAGMA table_info("{spec.name}")', ()) for spec in specs]


def missing_schema(specs: list[Table], found: list[list[dict[str, Any]]]) -> list[str]:
    """The statements that make what `specs` declare and the database lacks, from the rows of
    `table_info_statements(specs)` (`found`, in the same order)."""
    statements: list[str] = []
    for spec, rows in zip(specs, found, strict=True):
        present = {str(row["name"]).lower() for row in rows}
        if not present:
            statements.append(create_table_sql(spec))
        else:
            statements += [add_column_sql(spec, c) for c in spec.all_columns if c != "id" and c not in present]
    return statements


def describe_tables(registry: Registry) -> dict[str, dict[str, Any]]:
    """Each table's columns and types, and the columns an insert must give."""
    return {
        name: {"columns": spec.all_columns, "required": sorted(spec.required)}
        for name, spec in sorted(registry.items())
    }
