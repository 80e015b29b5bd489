"""POST /sql: admins only, read-only unless `write`, one statement, classified like SQLite reads it, audited."""

import pytest
from conftest import ADMIN, P_WRITER, READER, WRITER, make_thing

import tables
from admin_sql import statement_kind
from dotdo_dev.testing import envelope as body
from shared import records
from shared.errors import BadRequest
from storage import storage


async def sql(worker, statement, headers=ADMIN, **extra):
    return await worker.fetch("/sql", method="POST", headers=headers, json={"sql": statement, **extra})


async def audit(worker):
    """db's audit log, read as db reads it (its own table: the records RPC does not serve it)."""
    db = await storage(worker.env)
    return (await records.find_records(db, tables.OWN, "audit_log", {"target": "db"}, None, 1000))["items"]


async def count_things(worker):
    rows = (await worker.env.DB.prepare("SELECT count(*) AS n FROM things").all())["results"]
    return rows[0]["n"]


async def test_admin_reads(worker):
    await make_thing(worker, "acme", "a1", type="Person")
    response = await sql(worker, "SELECT ns, id, type FROM things WHERE ns = ?", params=["acme"])
    assert response.status == 200
    data = (await body(response))["data"]
    assert data == {"rows": [{"ns": "acme", "id": "a1", "type": "Person"}], "kind": "read", "truncated": False}
    (entry,) = await audit(worker)
    assert entry["actor"] == "usr_admin"
    assert entry["action"] == "sql.ran"
    assert entry["details"]["sql"] == "SELECT ns, id, type FROM things WHERE ns = ?"
    assert entry["details"]["kind"] == "read"
    assert "params" not in entry["details"]
    assert "acme" not in str(entry["details"])


async def test_rows_are_truncated(worker):
    response = await sql(
        worker, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1500) SELECT x FROM n"
    )
    data = (await body(response))["data"]
    assert len(data["rows"]) == 1000
    assert data["truncated"] is True


@pytest.mark.parametrize("headers", [WRITER, READER])
async def test_non_admins_are_refused(worker, headers):
    response = await sql(worker, "SELECT 1", headers=headers)
    assert response.status == 403
    error = (await body(response))["error"]
    assert error["code"] == "FORBIDDEN"
    assert error["details"] == {"permission": "db:admin"}
    assert await audit(worker) == []


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM things",
        "delete from things where 1",
        "UPDATE things SET type = 'X'",
        "INSERT INTO things (ns, id, type) VALUES ('x', 'y', 'Z')",
        "REPLACE INTO things (ns, id, type) VALUES ('acme', 'a1', 'Z')",
        "DROP TABLE things",
        "WITH x AS (SELECT 1) DELETE FROM things",
        "WITH x AS (SELECT 1) REPLACE INTO things (ns, id, type) VALUES ('acme', 'a9', 'Z')",
        "WITH x AS (SELECT 1) INSERT INTO things (ns, id, type) SELECT 'acme', 'a8', 'Z' FROM x",
        "/* select */ DELETE FROM things",
        "  -- a comment\n  DELETE FROM things",
    ],
)
async def test_writes_need_the_write_flag(worker, statement):
    await make_thing(worker, "acme", "a1", type="Person")
    response = await sql(worker, statement)
    assert response.status == 403
    assert (await body(response))["error"]["code"] == "SQL_WRITE_NOT_ALLOWED"
    assert await count_things(worker) == 1
    assert (await worker.rpc("get_thing", P_WRITER, "acme", "a1"))["type"] == "Person"
    (entry,) = await audit(worker)
    assert (entry["actor"], entry["action"]) == ("usr_admin", "sql.refused")
    assert entry["details"]["kind"] == "write"
    assert entry["details"]["write_flag"] is False


async def test_write_with_flag_runs(worker):
    await make_thing(worker, "acme", "a1", type="Person")
    await make_thing(worker, "acme", "a2", type="Person")
    response = await sql(
        worker, "UPDATE things SET type = ? WHERE id = ? RETURNING id", write=True, params=["Robot", "a1"]
    )
    assert response.status == 200
    data = (await body(response))["data"]
    assert data["kind"] == "write"
    assert data["rows"] == [{"id": "a1"}]
    assert (await worker.rpc("get_thing", P_WRITER, "acme", "a1"))["type"] == "Robot"
    assert (await worker.rpc("get_thing", P_WRITER, "acme", "a2"))["type"] == "Person"
    (entry,) = await audit(worker)
    assert (entry["action"], entry["details"]["kind"], entry["details"]["write_flag"]) == ("sql.ran", "write", True)
    assert "Robot" not in str(entry)  # parameters are not stored
    # the write flag on a read is harmless
    response = await sql(worker, "SELECT 1 AS one", write=True)
    assert (await body(response))["data"]["rows"] == [{"one": 1}]


@pytest.mark.parametrize(
    "statement",
    [
        "select 1; drop table things",
        "select 1; select 2",
        ";",
        "  ",
        "-- only a comment",
        "select 1;\nDELETE FROM things;",
    ],
)
async def test_not_exactly_one_statement(worker, statement):
    await make_thing(worker, "acme", "a1")
    response = await sql(worker, statement, write=True)
    assert response.status == 400
    assert (await body(response))["error"]["code"] in ("SQL_NOT_ONE_STATEMENT", "VALIDATION_ERROR")
    assert await count_things(worker) == 1


async def test_several_statements_are_audited_as_refused(worker):
    response = await sql(worker, "select 1; drop table things")
    assert (await body(response))["error"]["code"] == "SQL_NOT_ONE_STATEMENT"
    (entry,) = await audit(worker)
    assert (entry["actor"], entry["action"]) == ("usr_admin", "sql.refused")
    assert entry["details"]["sql"] == "select 1; drop table things"


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("select 1 -- ; drop table things", "read"),
        ("select 1 /* ; drop table things */", "read"),
        ("select ';'", "read"),
        ("select ';' ; ", "read"),
        ("select 'delete from things'", "read"),
        ('select "delete" from (select 1 as "delete")', "read"),
        ("select [update] from (select 1 as [update])", "read"),
        ("select replace('a','a','b')", "read"),
        ("SELECT REPLACE ('a', 'a', 'b') AS r", "read"),
        ("select replace/* c */('a','a','b')", "read"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "read"),
        ("VALUES (1), (2)", "read"),
        ("EXPLAIN QUERY PLAN SELECT * FROM things", "read"),
        ("select * from pragma_table_info('things')", "read"),
        ("select 'it''s'", "read"),
        ("WITH x AS (SELECT 1) DELETE FROM things", "write"),
        ("WITH x AS (SELECT 1) REPLACE INTO things (ns, id, type) VALUES ('a', 'b', 'C')", "write"),
        ("REPLACE INTO things (ns, id, type) VALUES ('a', 'b', 'C')", "write"),
        ("select 1 from things where 'x' = 'x' union select 2; ", "read"),
        ("selectx 1", "write"),
        ("SAVEPOINT a", "write"),
        ("ATTACH DATABASE 'x' AS y", "write"),
        ("VACUUM", "write"),
        ("select * from things where id = ''';DELETE FROM things;--'", "read"),
        ("CREATE TABLE t (a)", "write"),
        ("select 1 /* unterminated ; delete", "read"),
    ],
)
def test_classification(statement, kind):
    assert statement_kind(statement) == kind


@pytest.mark.parametrize(
    "statement", ["select 1; drop table things", "select ';'; delete from things", "select 1;;select 2"]
)
def test_classification_refuses_several(statement):
    with pytest.raises(BadRequest):
        statement_kind(statement)


async def test_classified_reads_run_and_comment_tricks_do_not_write(worker):
    await make_thing(worker, "acme", "a1")
    for statement in ("select 1 -- ; drop table things", "select ';'", "select replace('a','a','b') AS r"):
        response = await sql(worker, statement)
        assert response.status == 200, await response.json()
        assert (await body(response))["data"]["kind"] == "read"
    response = await sql(worker, "select replace('a','a','b') AS r")
    assert (await body(response))["data"]["rows"] == [{"r": "b"}]
    assert await count_things(worker) == 1


async def test_bad_sql_is_400_and_audited(worker):
    response = await sql(worker, "SELEC nonsense FROM")
    assert response.status in (400, 403)  # "SELEC" is not a read start: refused as a write
    response = await sql(worker, "SELECT * FROM no_such_table")
    assert response.status == 400
    error = (await body(response))["error"]
    assert error["code"] == "SQL_ERROR"
    assert "no_such_table" in error["details"]["error"]
    response = await sql(worker, "UPDATE nope SET a = 1", write=True)
    assert (await body(response))["error"]["code"] == "SQL_ERROR"
    actions = [e["action"] for e in await audit(worker)]
    assert actions.count("sql.failed") == 2
    assert all(e["actor"] == "usr_admin" for e in await audit(worker))


async def test_constraint_failures_are_client_errors(worker):
    await make_thing(worker, "acme", "a1")
    response = await sql(worker, "INSERT INTO things (ns, id, type) VALUES ('acme', 'a1', 'X')", write=True)
    assert response.status == 409
    assert (await body(response))["error"]["code"] == "CONFLICT"
    response = await sql(
        worker, "INSERT INTO things (ns, id, type, visibility) VALUES ('a', 'b', 'C', 'x')", write=True
    )
    assert response.status == 400
    assert (await body(response))["error"]["code"] == "VALIDATION_ERROR"
    response = await sql(worker, "INSERT INTO things (ns, id) VALUES ('a', 'b')", write=True)
    assert response.status == 400
    assert (await body(response))["error"]["details"][0]["field"] == "type"
    assert [e["action"] for e in await audit(worker)] == ["sql.failed"] * 3
    assert await count_things(worker) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"sql": ""},
        {"sql": "select 1", "params": [{"a": 1}]},
        {"sql": "select 1", "extra": True},
        {"sql": "select 1", "write": "maybe"},
        {"query": "select 1"},
        ["select 1"],
    ],
)
async def test_invalid_requests(worker, payload):
    response = await worker.fetch("/sql", method="POST", headers=ADMIN, json=payload)
    assert response.status == 400
    assert (await body(response))["error"]["code"] == "VALIDATION_ERROR"


async def test_sql_needs_application_json(worker):
    response = await worker.fetch(
        "/sql",
        method="POST",
        headers=ADMIN | {"content-type": "application/x-www-form-urlencoded"},
        body='{"sql": "select 1"}',
    )
    assert response.status == 415
    response = await worker.fetch("/sql", method="POST", headers=ADMIN, body='{"sql": "select 1"}')
    assert response.status == 415
    assert await audit(worker) == []


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM audit_log",
        'DROP TABLE "audit_log"',
        "UPDATE _migrations SET version = 0",
        "INSERT INTO things_fts (things_fts) VALUES ('delete-all')",
        "VACUUM",
    ],
)
async def test_the_audit_trail_and_bookkeeping_cannot_be_changed_by_hand(worker, statement):
    response = await sql(worker, statement, write=True)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "SQL_PROTECTED"
    assert [e["action"] for e in await audit(worker)] == ["sql.refused"]
    # and /sql keeps working (its own audit record is written)
    assert (await sql(worker, "SELECT 1 AS one")).status == 200


@pytest.mark.parametrize("flag", ["yes", 1, "true", None])
async def test_write_flag_must_be_a_boolean(worker, flag):
    await make_thing(worker, "acme", "kept")
    before = await count_things(worker)
    response = await sql(worker, "DELETE FROM things", write=flag)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "VALIDATION_ERROR"
    assert await count_things(worker) == before


@pytest.mark.parametrize(
    ("statement", "write"),
    [
        ("SELECT key_hash FROM api_keys", False),
        ("SELECT * FROM sessions", False),
        ("SELECT token_hash FROM refresh_tokens", False),
        ("DELETE FROM api_keys", True),
        ("UPDATE users SET role = 'admin'", True),
        ("INSERT INTO permission_grants (id, user_id, permission) VALUES ('g', 'u', '*')", True),
    ],
)
async def test_admin_sql_cannot_reach_auths_tables(worker, statement, write):
    # auth keeps them in a D1 of its own: in db's database there is nothing of auth's to read or write
    response = await sql(worker, statement, write=write)
    assert response.status == 400
    error = (await body(response))["error"]
    assert error["code"] == "SQL_ERROR"
    assert "no such table" in error["details"]["error"]


async def test_db_holds_no_table_of_another_service(worker):
    listed = await sql(worker, "SELECT name FROM sqlite_master WHERE type = 'table'")
    names = {row["name"] for row in (await body(listed))["data"]["rows"]}
    search_index = {name for name in names if name.startswith("things_fts")}  # FTS5 and its shadow tables
    assert "things_fts" in search_index
    assert names - search_index == {"things", "relationships", "audit_log", "_migrations"}
