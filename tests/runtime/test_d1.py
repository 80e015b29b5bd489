"""Local D1: D1's API, result shapes, value types, errors and transactions, on a real SQLite file."""

import pytest

from dotdo_dev.runtime.bindings.d1 import D1Database, D1Error


@pytest.fixture
async def db(tmp_path):
    database = D1Database(tmp_path / "d1.sqlite")
    await database.exec(
        "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, score REAL, data BLOB,"
        " flag INTEGER);\n"
        "CREATE TABLE links (thing_id INTEGER NOT NULL REFERENCES things(id), note TEXT);"
    )
    return database


async def test_run_reports_changes_and_last_row_id(db):
    result = await db.prepare("INSERT INTO things (name, score) VALUES (?, ?)").bind("a", 1.5).run()
    assert result.success is True
    assert result.meta.changes == 1
    assert result.meta.last_row_id == 1
    assert result.meta.changed_db is True
    assert result.results == []
    second = await db.prepare("INSERT INTO things (name) VALUES (?)").bind("b").run()
    assert second["meta"]["last_row_id"] == 2
    update = await db.prepare("UPDATE things SET score = 2").run()
    assert update.meta.changes == 2
    delete = await db.prepare("DELETE FROM things WHERE name = ?").bind("a").run()
    assert delete.meta.changes == 1


async def test_all_first_and_raw_shapes(db):
    insert = db.prepare("INSERT INTO things (name, score, data, flag) VALUES (?, ?, ?, ?)")
    await insert.bind("x", 0.25, b"\x01\x02", True).run()
    await insert.bind("y", None, None, False).run()
    rows = await db.prepare("SELECT name, score, data, flag FROM things ORDER BY id").all()
    assert rows.results == [
        {"name": "x", "score": 0.25, "data": [1, 2], "flag": 1},
        {"name": "y", "score": None, "data": None, "flag": 0},
    ]
    assert set(rows.meta) >= {"duration", "changes", "last_row_id", "changed_db", "size_after", "rows_read"}
    assert await db.prepare("SELECT name FROM things WHERE name = ?").bind("y").first() == {"name": "y"}
    assert await db.prepare("SELECT name FROM things WHERE name = ?").bind("zzz").first() is None
    assert await db.prepare("SELECT count(*) AS n FROM things").first("n") == 2
    assert await db.prepare("SELECT name, flag FROM things ORDER BY id").raw() == [["x", 1], ["y", 0]]
    assert await db.prepare("SELECT name FROM things ORDER BY id").raw(columnNames=True) == [["name"], ["x"], ["y"]]
    assert await db.prepare("SELECT name FROM things ORDER BY id").raw({"columnNames": True}) == [
        ["name"],
        ["x"],
        ["y"],
    ]


async def test_first_with_unknown_column_fails(db):
    await db.prepare("INSERT INTO things (name) VALUES ('a')").run()
    with pytest.raises(D1Error, match="D1_COLUMN_NOTFOUND"):
        await db.prepare("SELECT name FROM things").first("nope")


async def test_a_statement_runs_again_and_bind_returns_a_new_one(db):
    insert = db.prepare("INSERT INTO things (name) VALUES (?)")
    a, b = insert.bind("a"), insert.bind("b")
    await a.run()
    await b.run()
    assert await db.prepare("SELECT count(*) AS n FROM things").first("n") == 2
    with pytest.raises(D1Error, match=r"UNIQUE constraint failed: things\.name: SQLITE_CONSTRAINT"):
        await a.run()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", 'D1_ERROR: near "SELEC": syntax error: SQLITE_ERROR'),
        ("SELECT * FROM missing", "D1_ERROR: no such table: missing: SQLITE_ERROR"),
        ("SELECT 1; SELECT 2", "only one statement"),
    ],
)
async def test_sql_errors_read_like_d1(db, sql, message):
    with pytest.raises(D1Error) as info:
        await db.prepare(sql).all()
    assert message in str(info.value)


async def test_wrong_number_of_bindings(db):
    with pytest.raises(D1Error, match="Wrong number of parameter bindings"):
        await db.prepare("SELECT * FROM things WHERE id = ? AND name = ?").bind(1).all()


@pytest.mark.parametrize("value", [{"a": 1}, [1], (1,), object()])
async def test_unsupported_bind_types(db, value):
    with pytest.raises(D1Error, match="D1_TYPE_ERROR"):
        db.prepare("SELECT ?").bind(value)


async def test_injection_through_a_bound_value_is_just_data(db):
    evil = "x'); DROP TABLE things; --"
    await db.prepare("INSERT INTO things (name) VALUES (?)").bind(evil).run()
    assert await db.prepare("SELECT name FROM things").first("name") == evil


async def test_batch_is_one_transaction(db):
    ok = [db.prepare("INSERT INTO things (name) VALUES (?)").bind(n) for n in ("a", "b")]
    results = await db.batch(ok)
    assert [r.meta.last_row_id for r in results] == [1, 2]
    failing = [
        db.prepare("INSERT INTO things (name) VALUES ('c')"),
        db.prepare("INSERT INTO things (name) VALUES ('a')"),  # UNIQUE violation
    ]
    with pytest.raises(D1Error, match="UNIQUE"):
        await db.batch(failing)
    names = await db.prepare("SELECT name FROM things ORDER BY name").raw()
    assert names == [["a"], ["b"]]


async def test_foreign_keys_are_enforced(db):
    with pytest.raises(D1Error, match="FOREIGN KEY constraint failed"):
        await db.prepare("INSERT INTO links (thing_id) VALUES (42)").run()


async def test_exec_counts_statements_and_respects_semicolons_in_strings(db):
    result = await db.exec("INSERT INTO things (name) VALUES ('a;b');\nINSERT INTO things (name) VALUES ('c');")
    assert result["count"] == 2
    assert await db.prepare("SELECT name FROM things ORDER BY id").raw() == [["a;b"], ["c"]]
    with pytest.raises(D1Error):
        await db.exec("CREATE TABLE")


async def test_fts5_is_available(db):
    await db.exec("CREATE VIRTUAL TABLE docs USING fts5(body)")
    await db.prepare("INSERT INTO docs (body) VALUES (?)").bind("the quick brown fox").run()
    await db.prepare("INSERT INTO docs (body) VALUES (?)").bind("lazy dogs sleep").run()
    hits = await db.prepare("SELECT body FROM docs WHERE docs MATCH ?").bind("quick").all()
    assert [r["body"] for r in hits.results] == ["the quick brown fox"]


async def test_state_persists_and_is_shared_between_connections(tmp_path):
    path = tmp_path / "shared.sqlite"
    first = D1Database(path)
    await first.exec("CREATE TABLE t (v TEXT)")
    await first.prepare("INSERT INTO t VALUES (?)").bind("one").run()
    second = D1Database(path)  # another process would open the file the same way
    assert await second.prepare("SELECT v FROM t").first("v") == "one"
    await second.prepare("INSERT INTO t VALUES (?)").bind("two").run()
    assert await first.prepare("SELECT count(*) AS n FROM t").first("n") == 2


async def test_empty_query_is_refused(db):
    with pytest.raises(D1Error, match="empty"):
        db.prepare("   ")
