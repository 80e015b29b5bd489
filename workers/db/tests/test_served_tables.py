"""The tables services keep in db: declared in each service's manifest, made by db on the first use of an
isolate (tables created, columns added; nothing dropped or changed), with their data across restarts.

A "restart" here is a new isolate on the same database: a new harness on the same state folder, with
db's once-per-isolate check (`storage.DATABASE.version`) forgotten, as a new process would have it.
"""

from conftest import ADMIN, CONTACTS, CRM, P_CRM, PRINCIPALS, ROOT, WRITER, serve

import storage
import tables
from dotdo_dev import registry
from dotdo_dev.schema_check import schema_mismatches
from dotdo_dev.testing import StandInAuth, WorkerHarness, rpc_fails
from dotdo_dev.testing import envelope as body

T = "crm_contacts"
ADA = {"email": "ada@example.com", "name": "Ada", "tags": ["math"], "score": 3}
CRM_MANIFEST = """name = "crm"

[tables.crm_contacts]
prefix = "ctc"
required = ["email"]

[tables.crm_contacts.columns]
email = "text"
name = "text"
score = "integer"
tags = "json"
active = "boolean"
seen_at = "timestamp"
created_by = "text"
"""


def grown(**changes) -> dict:
    """crm's registry entry with `crm_contacts` changed (`columns=`, `required=`) and `crm_notes` added."""
    contacts = CRM["tables"][T]
    return {
        "name": "crm",
        "tables": {
            T: {"prefix": "ctc", "columns": contacts["columns"], "required": contacts["required"]} | changes,
            "crm_notes": {"prefix": "nte", "columns": {"contact_id": "text", "body": "text"}, "required": ["body"]},
        },
    }


async def restart(tmp_path, monkeypatch) -> WorkerHarness:
    """db in a new isolate on the same database."""
    monkeypatch.setattr(storage.DATABASE, "version", None)
    return WorkerHarness(ROOT, state_dir=tmp_path, bindings={"AUTH_SERVICE": StandInAuth(PRINCIPALS)})


async def columns(db, table: str) -> dict[str, tuple[str, int]]:
    """A table's columns in the database: name -> (SQL type, NOT NULL)."""
    rows = (await db.prepare('SELECT name, type, "notnull" FROM pragma_table_info(?)').bind(table).all())["results"]
    return {r["name"]: (r["type"], r["notnull"]) for r in rows}


class Recording:
    """A D1 binding that keeps the SQL of every statement prepared on it."""

    def __init__(self, d1):
        self.d1, self.sql = d1, []

    def prepare(self, sql):
        self.sql.append(sql)
        return self.d1.prepare(sql)

    async def batch(self, statements):
        return await self.d1.batch(statements)

    def changes(self) -> list[str]:
        """The statements that made or changed a served table."""
        return [sql for sql in self.sql if sql.startswith(("CREATE", "ALTER")) and '"crm_' in sql]


def test_a_manifests_tables_are_what_db_serves(tmp_path):
    # the manifest a service writes -> make registry's data (shared/registry.py) -> db's TABLES and OWNERS
    path = tmp_path / "crm" / "service.toml"
    path.parent.mkdir()
    path.write_text(CRM_MANIFEST)
    data = registry.read_manifest(path).as_data()
    assert data["tables"] == CRM["tables"]  # conftest's registry entry is what make registry writes
    assert tables.served({"crm": data}) == ({T: CONTACTS}, {T: "crm"})
    assert tables.served({"auth": {"name": "auth"}, "db": {"name": "db", "tables": {}}}) == ({}, {})


async def test_no_service_table_can_take_a_name_of_dbs_own_schema(worker):
    # every table, index and trigger of db's database is a name the registry refuses to a service's table
    await worker.rpc("migrate")
    result = await worker.env.DB.prepare("SELECT name FROM sqlite_master").all()
    names = {row["name"] for row in result["results"]}
    assert {"things", "relationships", "things_fts", "audit_log", "_migrations"} <= names
    for name in names:
        assert name in registry.DB_OWN_TABLES or name.startswith(registry.DB_OWN_PREFIXES), name


async def test_a_declared_table_is_made_on_first_use_not_by_a_migration(contacts):
    made = await columns(contacts.env.DB, T)
    assert made == {
        "id": ("TEXT", 1),
        "email": ("TEXT", 1),  # required
        "name": ("TEXT", 0),
        "score": ("INTEGER", 0),
        "tags": ("TEXT", 0),
        "active": ("INTEGER", 0),
        "seen_at": ("TEXT", 0),
        "created_by": ("TEXT", 0),
        "created_at": ("TEXT", 1),
        "updated_at": ("TEXT", 1),
    }
    assert await contacts.rpc("migrate") == {"schema_version": 3}  # db's migrations are unchanged


async def test_the_tables_are_checked_once_per_isolate(contacts, monkeypatch):
    monkeypatch.setattr(storage.DATABASE, "version", None)
    recording = Recording(contacts.env.DB)
    contacts.env.DB = recording
    for _ in range(3):
        assert await contacts.rpc("count_records", P_CRM, T) == 0
    assert sum(sql.startswith("PRAGMA table_info") for sql in recording.sql) == 1
    assert recording.changes() == []  # nothing was missing


async def test_a_column_and_a_table_added_to_a_manifest_appear_after_a_restart_and_data_survives(
    contacts, tmp_path, monkeypatch
):
    ada = await contacts.rpc("insert_record", P_CRM, T, ADA)
    more = CRM["tables"][T]["columns"] | {"phone": "text", "visits": "integer"}
    serve(monkeypatch, {"crm": grown(columns=more, required=["email", "phone"])})

    again = await restart(tmp_path, monkeypatch)
    assert (await again.fetch("/health")).status == 200  # the first use of the new isolate makes them
    made = await columns(again.env.DB, T)
    assert (made["phone"], made["visits"]) == (("TEXT", 0), ("INTEGER", 0))  # added nullable: old rows lack it
    assert "body" in await columns(again.env.DB, "crm_notes")

    assert await again.rpc("get_record", P_CRM, T, ada["id"]) == ada | {"phone": None, "visits": None}
    err = await rpc_fails(again, "insert_record", P_CRM, T, {"email": "bob@example.com"})
    assert (err.code, err.details[0]["field"]) == ("VALIDATION_ERROR", "phone")  # required for new records
    bob = await again.rpc("insert_record", P_CRM, T, {"email": "bob@example.com", "phone": "+1", "visits": 2})
    assert (await again.rpc("increment_record", P_CRM, T, bob["id"], "visits"))["visits"] == 3
    note = await again.rpc("insert_record", P_CRM, "crm_notes", {"contact_id": ada["id"], "body": "met"})
    assert note["id"].startswith("nte_")
    assert await again.rpc("count_records", P_CRM, T) == 2

    # and a third isolate finds everything as it was left, adding nothing
    third = await restart(tmp_path, monkeypatch)
    recording = Recording(third.env.DB)
    third.env.DB = recording
    assert await third.rpc("get_record", P_CRM, "crm_notes", note["id"]) == note
    assert recording.changes() == []


async def test_a_column_left_out_or_retyped_in_a_manifest_is_neither_dropped_nor_changed(
    contacts, tmp_path, monkeypatch
):
    ada = await contacts.rpc("insert_record", P_CRM, T, ADA)
    fewer = {c: t for c, t in CRM["tables"][T]["columns"].items() if c != "tags"} | {"score": "text"}
    serve(monkeypatch, {"crm": grown(columns=fewer)})
    again = await restart(tmp_path, monkeypatch)

    assert (await rpc_fails(again, "find_records", P_CRM, T, {"tags": "x"})).code == "UNKNOWN_COLUMN"
    assert "tags" not in await again.rpc("get_record", P_CRM, T, ada["id"])
    made = await columns(again.env.DB, T)
    assert made["tags"] == ("TEXT", 0)  # still there, with its data
    assert made["score"] == ("INTEGER", 0)  # the type it was made with

    serve(monkeypatch, {"crm": CRM})  # declared again as before
    third = await restart(tmp_path, monkeypatch)
    assert await third.rpc("get_record", P_CRM, T, ada["id"]) == ada


async def test_a_table_left_out_of_every_manifest_is_no_longer_served_but_kept(contacts, tmp_path, monkeypatch):
    await contacts.rpc("insert_record", P_CRM, T, ADA)
    monkeypatch.delitem(tables.TABLES, T)
    monkeypatch.delitem(tables.OWNERS, T)
    again = await restart(tmp_path, monkeypatch)
    assert (await rpc_fails(again, "count_records", P_CRM, T)).code == "UNKNOWN_TABLE"
    result = await again.env.DB.prepare(f"SELECT email FROM {T}").all()
    assert [r["email"] for r in result["results"]] == [ADA["email"]]


async def test_admin_sql_reads_and_writes_the_tables_services_keep_in_db(contacts):
    # db:admin SQL reaches every table in db's database, these too (workers/db/README.md says why); audited
    ada = await contacts.rpc("insert_record", P_CRM, T, ADA)

    async def sql(statement, headers=ADMIN, **extra):
        return await contacts.fetch("/sql", method="POST", headers=headers, json={"sql": statement, **extra})

    read = await sql(f"SELECT email FROM {T} WHERE id = ?", params=[ada["id"]])
    assert (await body(read))["data"]["rows"] == [{"email": ADA["email"]}]
    refused = await sql(f"UPDATE {T} SET name = 'x'")
    assert (refused.status, (await body(refused))["error"]["code"]) == (403, "SQL_WRITE_NOT_ALLOWED")
    wrote = await sql(f"UPDATE {T} SET name = ? WHERE id = ?", params=["Ada L.", ada["id"]], write=True)
    assert wrote.status == 200
    assert (await contacts.rpc("get_record", P_CRM, T, ada["id"]))["name"] == "Ada L."
    assert (await sql(f"SELECT * FROM {T}", headers=WRITER)).status == 403  # db:admin only


async def test_the_declarations_are_what_the_database_holds(contacts, tmp_path, monkeypatch):
    serve(monkeypatch, {"crm": grown()})
    again = await restart(tmp_path, monkeypatch)
    await again.rpc("migrate")
    declared = tables.OWN | tables.TABLES
    assert set(declared) == {"audit_log", T, "crm_notes"}
    assert await schema_mismatches(again.env.DB, declared, not_records=("things", "relationships")) == []
