"""Local D1: D1's API, result shapes, value types, errors and transactions, on a real SQLite file."""

import asyncio
import itertools
import math
import time

import pytest
from workers.rpc import JsDict

from dotdo_dev.runtime.bindings.d1 import D1Database, D1Error, D1PreparedStatement

SCHEMA = (
    "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, score REAL, data BLOB, flag INTEGER);\n"
    "CREATE TABLE links (thing_id INTEGER NOT NULL REFERENCES things(id), note TEXT);"
)
META_KEYS = {
    "served_by",
    "duration",
    "changes",
    "last_row_id",
    "changed_db",
    "size_after",
    "rows_read",
    "rows_written",
}


@pytest.fixture
async def db(tmp_path):
    database = D1Database(tmp_path / "d1.sqlite")
    await database.exec(SCHEMA)
    return database


async def names(db):
    return [row[0] for row in await db.prepare("SELECT name FROM things ORDER BY id").raw()]


# -- result shapes ------------------------------------------------------------------------------------
async def test_all_returns_success_meta_and_results_as_jsdicts(db):
    await db.prepare("INSERT INTO things (name, score) VALUES (?, ?)").bind("a", 1.5).run()
    result = await db.prepare("SELECT id, name, score FROM things").all()
    assert isinstance(result, JsDict)
    assert list(result) == ["success", "meta", "results"]
    assert result.success is True
    assert result.results == [{"id": 1, "name": "a", "score": 1.5}]
    assert isinstance(result.results[0], JsDict)
    assert result.results[0].name == "a"
    assert isinstance(result.meta, JsDict)
    assert set(result.meta) >= META_KEYS
    assert result.meta.changes == 0
    assert result.meta.changed_db is False
    assert result.meta.rows_read >= 1
    assert isinstance(result.meta.duration, int | float)
    assert result.meta.duration >= 0
    assert result.meta.size_after > 0


async def test_all_with_no_rows_gives_an_empty_list(db):
    result = await db.prepare("SELECT * FROM things WHERE id = ?").bind(42).all()
    assert result.results == []
    assert result.success is True


async def test_run_has_the_same_shape_as_all_and_returns_rows_too(db):
    result = await db.prepare("INSERT INTO things (name) VALUES ('a') RETURNING id, name").run()
    assert list(result) == ["success", "meta", "results"]
    assert result.results == [{"id": 1, "name": "a"}]
    assert (await db.prepare("SELECT name FROM things").run()).results == [{"name": "a"}]


async def test_meta_changes_and_last_row_id_after_insert_update_delete(db):
    first = await db.prepare("INSERT INTO things (name, score) VALUES (?, ?)").bind("a", 1.5).run()
    assert (first.meta.changes, first.meta.last_row_id, first.meta.changed_db) == (1, 1, True)
    assert first.meta.rows_written == 1
    assert first.results == []
    second = await db.prepare("INSERT INTO things (id, name) VALUES (?, ?)").bind(10, "b").run()
    assert (second.meta.changes, second.meta.last_row_id) == (1, 10)
    update = await db.prepare("UPDATE things SET score = 2").run()
    assert update.meta.changes == 2
    assert update.meta.changed_db is True
    nothing = await db.prepare("UPDATE things SET score = 3 WHERE id = 99").run()
    assert nothing.meta.changes == 0
    assert nothing.meta.changed_db is False
    delete = await db.prepare("DELETE FROM things WHERE name = ?").bind("a").run()
    assert delete.meta.changes == 1
    everything = await db.prepare("DELETE FROM things").run()
    assert everything.meta.changes == 1


async def test_ddl_changes_the_database(db):
    result = await db.prepare("CREATE TABLE extra (v TEXT)").run()
    assert result.meta.changed_db is True
    assert result.meta.changes == 0


async def test_first_returns_a_row_a_column_or_none(db):
    await db.batch([db.prepare("INSERT INTO things (name, score) VALUES (?, ?)").bind(n, 1.5) for n in "xy"])
    row = await db.prepare("SELECT name, score FROM things ORDER BY id").first()
    assert row == {"name": "x", "score": 1.5}
    assert isinstance(row, JsDict)
    assert row.score == 1.5
    assert await db.prepare("SELECT count(*) AS n FROM things").first("n") == 2
    assert await db.prepare("SELECT score FROM things WHERE name = 'nobody'").first() is None
    assert await db.prepare("SELECT score FROM things WHERE name = 'nobody'").first("score") is None


async def test_first_of_a_null_column_is_none(db):
    await db.prepare("INSERT INTO things (name) VALUES ('a')").run()
    assert await db.prepare("SELECT score FROM things").first("score") is None


async def test_first_with_unknown_column_fails(db):
    await db.prepare("INSERT INTO things (name) VALUES ('a')").run()
    with pytest.raises(D1Error, match=r"^D1_COLUMN_NOTFOUND: Column not found \(nope\)$"):
        await db.prepare("SELECT name FROM things").first("nope")


async def test_raw_returns_lists_with_optional_column_names(db):
    await db.batch([db.prepare("INSERT INTO things (name, flag) VALUES (?, ?)").bind(n, f) for n, f in [("x", 1)]])
    await db.prepare("INSERT INTO things (name, flag) VALUES ('y', 0)").run()
    query = db.prepare("SELECT name, flag FROM things ORDER BY id")
    assert await query.raw() == [["x", 1], ["y", 0]]
    assert await query.raw(columnNames=True) == [["name", "flag"], ["x", 1], ["y", 0]]
    assert await query.raw({"columnNames": True}) == [["name", "flag"], ["x", 1], ["y", 0]]
    assert await query.raw({"columnNames": False}) == [["x", 1], ["y", 0]]
    empty = db.prepare("SELECT name FROM things WHERE id = 0")
    assert await empty.raw() == []
    assert await empty.raw(columnNames=True) == [["name"]]


async def test_raw_refuses_options_that_d1_would_ignore(db):
    query = db.prepare("SELECT 1 AS one")
    with pytest.raises(TypeError, match="columnNames=True"):
        await query.raw(True)  # on Cloudflare raw(true) silently returns no column names
    with pytest.raises(TypeError, match="column_names"):
        await query.raw(column_names=True)
    with pytest.raises(TypeError, match="not both"):
        await query.raw({"columnNames": True}, columnNames=True)


async def test_duplicate_column_names_keep_the_last_value_in_objects(db):
    row = await db.prepare("SELECT 1 AS v, 2 AS v").first()
    assert row == {"v": 2}
    assert await db.prepare("SELECT 1 AS v, 2 AS v").raw(columnNames=True) == [["v", "v"], [1, 2]]


# -- statements -----------------------------------------------------------------------------------------
async def test_a_statement_runs_again_and_bind_returns_a_new_one(db):
    insert = db.prepare("INSERT INTO things (name) VALUES (?)")
    a, b = insert.bind("a"), insert.bind("b")
    assert isinstance(a, D1PreparedStatement)
    assert a is not insert
    assert insert.params == []
    assert a.params == ["a"]
    assert a.statement == "INSERT INTO things (name) VALUES (?)"
    await a.run()
    await b.run()
    counter = db.prepare("SELECT count(*) AS n FROM things")
    assert await counter.first("n") == 2
    assert await counter.first("n") == 2
    with pytest.raises(D1Error, match=r"UNIQUE constraint failed: things\.name: SQLITE_CONSTRAINT$"):
        await a.run()


async def test_bind_replaces_earlier_values(db):
    statement = db.prepare("SELECT ? AS v").bind(1).bind(2)
    assert await statement.first("v") == 2


async def test_numbered_placeholders(db):
    row = await db.prepare("SELECT ?2 AS b, ?1 AS a, ?2 AS b2").bind("first", "second").first()
    assert row == {"b": "second", "a": "first", "b2": "second"}


async def test_injection_through_a_bound_value_is_just_data(db):
    evil = "x'); DROP TABLE things; --"
    await db.prepare("INSERT INTO things (name) VALUES (?)").bind(evil).run()
    assert await db.prepare("SELECT name FROM things").first("name") == evil


# -- value types ---------------------------------------------------------------------------------------
async def test_types_round_trip(db):
    await (
        db.prepare("INSERT INTO things (name, score, data, flag) VALUES (?, ?, ?, ?)")
        .bind("x", 0.25, b"\x00\x01\xff", True)
        .run()
    )
    await (
        db.prepare("INSERT INTO things (name, score, data, flag) VALUES (?, ?, ?, ?)")
        .bind("y", None, None, False)
        .run()
    )
    rows = (await db.prepare("SELECT name, score, data, flag FROM things ORDER BY id").all()).results
    assert rows == [
        {"name": "x", "score": 0.25, "data": [0, 1, 255], "flag": 1},
        {"name": "y", "score": None, "data": None, "flag": 0},
    ]
    assert bytes(rows[0]["data"]) == b"\x00\x01\xff"
    stored = await db.prepare("SELECT typeof(score), typeof(data), typeof(flag) FROM things ORDER BY id").raw()
    assert stored == [["real", "blob", "integer"], ["null", "null", "integer"]]


async def test_sql_values_map_to_python_types(db):
    row = await db.prepare("SELECT 7 AS i, 2.5 AS r, 'é' AS t, NULL AS n, x'6869' AS b, '' AS e").first()
    assert row == {"i": 7, "r": 2.5, "t": "é", "n": None, "b": [104, 105], "e": ""}
    assert type(row["i"]) is int
    assert type(row["r"]) is float


async def test_numbers_arrive_as_javascript_numbers(db):
    # On Cloudflare a result crosses JavaScript, which has one number type: 2.0 arrives as the int 2,
    # and an integer beyond 2**53 loses precision.
    row = await db.prepare("SELECT 2.0 AS whole, ? AS big").bind("9007199254740993").first()
    assert row["whole"] == 2
    assert type(row["whole"]) is int
    big = await db.prepare("SELECT CAST(? AS INTEGER) AS big").bind("9007199254740993").first("big")
    assert big == 9007199254740992


async def test_integral_and_non_finite_floats_are_bound_as_javascript_sends_them(db):
    row = await db.prepare("SELECT typeof(?) AS whole, typeof(?) AS half, ? AS nan").bind(2.0, 2.5, math.nan).first()
    assert row == {"whole": "integer", "half": "real", "nan": None}


async def test_large_integers_within_the_safe_range_round_trip(db):
    value = 2**53 - 1
    assert await db.prepare("SELECT ? AS v").bind(value).first("v") == value
    assert await db.prepare("SELECT ? AS v").bind(-value).first("v") == -value


@pytest.mark.parametrize(
    ("value", "python_type"),
    [
        ({"a": 1}, "dict"),
        ([1, 2], "list"),
        ({1, 2}, "set"),
        ((1,), "tuple"),
        (bytearray(b"x"), "bytearray"),
        (object(), "object"),
    ],
)
async def test_unsupported_bind_types_fail_at_bind_naming_the_type(db, value, python_type):
    with pytest.raises(D1Error, match=r"^D1_TYPE_ERROR: Type '\w+' not supported for value") as info:
        db.prepare("SELECT ?").bind(value)
    assert python_type in str(info.value)


async def test_integers_beyond_javascript_precision_are_refused(db):
    with pytest.raises(D1Error, match="D1_TYPE_ERROR: Type 'bigint'"):
        db.prepare("SELECT ?").bind(2**53)


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", 'D1_ERROR: near "SELEC": syntax error: SQLITE_ERROR'),
        ("SELECT * FROM missing", "D1_ERROR: no such table: missing: SQLITE_ERROR"),
        ("SELECT nope FROM things", "D1_ERROR: no such column: nope: SQLITE_ERROR"),
        (
            "INSERT INTO things (name) VALUES (NULL)",
            "D1_ERROR: NOT NULL constraint failed: things.name: SQLITE_CONSTRAINT",
        ),
        ("SELECT 1; SELECT 2", "D1_ERROR: a prepared statement must hold exactly one SQL statement"),
        ("-- only a comment", "D1_ERROR: No SQL statements detected."),
    ],
)
async def test_sql_errors_read_like_d1(db, sql, message):
    statement = db.prepare(sql)
    for method in (statement.all, statement.run, statement.first, statement.raw):
        with pytest.raises(D1Error) as info:
            await method()
        assert str(info.value).startswith(message)


async def test_sqlite_exceptions_never_escape(db):
    import sqlite3

    for sql in ("SELEC 1", "SELECT ?", "INSERT INTO links (thing_id) VALUES (1)"):
        with pytest.raises(D1Error) as info:
            await db.prepare(sql).all()
        assert not isinstance(info.value, sqlite3.Error)
        assert info.value.__cause__ is None


async def test_unique_constraint_message(db):
    await db.prepare("INSERT INTO things (id, name) VALUES (1, 'a')").run()
    with pytest.raises(D1Error, match=r"^D1_ERROR: UNIQUE constraint failed: things\.id: SQLITE_CONSTRAINT$"):
        await db.prepare("INSERT INTO things (id, name) VALUES (1, 'b')").run()


@pytest.mark.parametrize(
    ("sql", "values"),
    [
        ("SELECT * FROM things WHERE id = ? AND name = ?", [1]),
        ("SELECT * FROM things WHERE id = ?", [1, 2]),
        ("SELECT * FROM things WHERE id = ?", []),
        ("SELECT * FROM things", ["extra"]),
        ("SELECT ?2", ["only one"]),
    ],
)
async def test_wrong_number_of_bindings(db, sql, values):
    with pytest.raises(D1Error, match=r"^D1_ERROR: Wrong number of parameter bindings for SQL query\."):
        await db.prepare(sql).bind(*values).all()


async def test_empty_query_is_refused(db):
    with pytest.raises(D1Error, match="No SQL statements detected"):
        db.prepare("   ")
    with pytest.raises(TypeError, match="str"):
        db.prepare(b"SELECT 1")


@pytest.mark.parametrize("sql", ["BEGIN", "begin transaction", "COMMIT", "ROLLBACK", "SAVEPOINT s", "RELEASE s"])
async def test_transaction_statements_are_refused(db, sql):
    with pytest.raises(D1Error, match=r"batch"):
        await db.prepare(sql).run()
    # the connection is still usable, in autocommit mode
    await db.prepare("INSERT INTO things (name) VALUES ('after')").run()
    assert await names(D1Database(db.path)) == ["after"]


async def test_foreign_keys_are_enforced(db):
    with pytest.raises(D1Error, match=r"^D1_ERROR: FOREIGN KEY constraint failed: SQLITE_CONSTRAINT$"):
        await db.prepare("INSERT INTO links (thing_id) VALUES (42)").run()
    await db.prepare("INSERT INTO things (id, name) VALUES (42, 'x')").run()
    await db.prepare("INSERT INTO links (thing_id) VALUES (42)").run()
    with pytest.raises(D1Error, match="FOREIGN KEY constraint failed"):
        await db.prepare("DELETE FROM things WHERE id = 42").run()


# -- batch ----------------------------------------------------------------------------------------------
async def test_batch_returns_one_result_per_statement(db):
    results = await db.batch(
        [
            db.prepare("INSERT INTO things (name) VALUES (?)").bind("a"),
            db.prepare("INSERT INTO things (name) VALUES (?)").bind("b"),
            db.prepare("SELECT name FROM things ORDER BY id"),
        ]
    )
    assert len(results) == 3
    assert all(isinstance(r, JsDict) and r.success is True for r in results)
    assert [r.meta.last_row_id for r in results[:2]] == [1, 2]
    assert [r.meta.changes for r in results] == [1, 1, 0]
    assert results[0].results == []
    assert results[2].results == [{"name": "a"}, {"name": "b"}]
    assert set(results[2].meta) >= META_KEYS


async def test_batch_is_one_transaction(db):
    await db.prepare("INSERT INTO things (name) VALUES ('a')").run()
    failing = [
        db.prepare("INSERT INTO things (name) VALUES ('c')"),
        db.prepare("UPDATE things SET score = 9"),
        db.prepare("INSERT INTO things (name) VALUES ('a')"),  # UNIQUE violation
        db.prepare("INSERT INTO things (name) VALUES ('d')"),
    ]
    with pytest.raises(D1Error, match=r"^D1_ERROR: UNIQUE constraint failed: things\.name: SQLITE_CONSTRAINT$"):
        await db.batch(failing)
    assert await db.prepare("SELECT name, score FROM things").raw() == [["a", None]]
    # the database is usable afterwards, and a later batch commits
    await db.batch([db.prepare("INSERT INTO things (name) VALUES ('e')")])
    assert await names(db) == ["a", "e"]


@pytest.mark.parametrize(
    "bad",
    [
        "SELEC 1",
        "INSERT INTO links (thing_id) VALUES (404)",
        "SELECT ?",
        "BEGIN",
    ],
)
async def test_any_failure_rolls_the_batch_back(db, bad):
    with pytest.raises(D1Error):
        await db.batch([db.prepare("INSERT INTO things (name) VALUES ('x')"), db.prepare(bad)])
    assert await names(db) == []


async def test_batch_refuses_what_is_not_a_list_of_statements(db):
    with pytest.raises(D1Error, match="No SQL statements detected"):
        await db.batch([])
    with pytest.raises(TypeError, match="list"):
        await db.batch((db.prepare("SELECT 1"),))
    with pytest.raises(TypeError, match="prepared statements"):
        await db.batch(["SELECT 1"])


# -- exec -----------------------------------------------------------------------------------------------
async def test_exec_counts_statements_and_reports_duration(db):
    result = await db.exec(
        "INSERT INTO things (name) VALUES ('a;b');\n"
        "\n"
        "-- a comment line\n"
        "INSERT INTO things (name) VALUES ('c'); INSERT INTO things (name) VALUES ('d')\n"
    )
    assert isinstance(result, JsDict)
    assert result.count == 3
    assert result.duration >= 0
    assert set(result) == {"count", "duration"}
    assert await names(db) == ["a;b", "c", "d"]


async def test_exec_runs_triggers_written_on_one_line(db):
    await db.exec(
        "CREATE TABLE log (thing TEXT);\n"
        "CREATE TRIGGER t_log AFTER INSERT ON things BEGIN INSERT INTO log VALUES (new.name); END;"
    )
    await db.prepare("INSERT INTO things (name) VALUES ('x')").run()
    assert await db.prepare("SELECT thing FROM log").raw() == [["x"]]


async def test_exec_reports_the_failing_line_and_rolls_back(db):
    with pytest.raises(D1Error) as info:
        await db.exec("INSERT INTO things (name) VALUES ('kept?');\nSELEC 1;")
    assert str(info.value) == 'D1_EXEC_ERROR: Error in line 2: SELEC 1;: near "SELEC": syntax error: SQLITE_ERROR'
    assert await names(db) == []


async def test_exec_sends_each_line_on_its_own_as_d1_does(db):
    # D1's exec() splits its input on newlines: a statement spread over lines fails on Cloudflare too.
    with pytest.raises(D1Error, match=r"^D1_EXEC_ERROR: Error in line 1: CREATE TABLE t \(: incomplete input"):
        await db.exec("CREATE TABLE t (\n  v TEXT\n);")


async def test_exec_of_nothing_fails(db):
    for query in ("", "  \n ", "-- nothing here"):
        with pytest.raises(D1Error, match="No SQL statements detected"):
            await db.exec(query)


# -- SQLite features D1 has -----------------------------------------------------------------------------
async def test_fts5_is_available(db):
    await db.exec("CREATE VIRTUAL TABLE docs USING fts5(title, body)")
    insert = db.prepare("INSERT INTO docs (title, body) VALUES (?, ?)")
    await db.batch([insert.bind("fox", "the quick brown fox"), insert.bind("dogs", "lazy dogs sleep all day")])
    hits = await db.prepare("SELECT title FROM docs WHERE docs MATCH ? ORDER BY rank").bind("quick OR lazy").all()
    assert sorted(r.title for r in hits.results) == ["dogs", "fox"]
    assert await db.prepare("SELECT title FROM docs WHERE docs MATCH ?").bind("body:sleep").raw() == [["dogs"]]
    assert (await db.prepare("SELECT title FROM docs WHERE docs MATCH ?").bind("cats").all()).results == []


async def test_json_functions_are_available(db):
    assert await db.prepare("SELECT json_extract(?, '$.a[1]') AS v").bind('{"a": [1, 2]}').first("v") == 2


# -- files ----------------------------------------------------------------------------------------------
async def test_state_persists_and_is_shared_between_connections(tmp_path):
    path = tmp_path / "nested" / "dir" / "shared.sqlite"
    first = D1Database(path)
    assert path.exists()
    await first.exec("CREATE TABLE t (v TEXT)")
    await first.prepare("INSERT INTO t VALUES (?)").bind("one").run()
    second = D1Database(path)  # another process opens the file the same way
    assert await second.prepare("SELECT v FROM t").first("v") == "one"
    await second.prepare("INSERT INTO t VALUES (?)").bind("two").run()
    assert await first.prepare("SELECT count(*) AS n FROM t").first("n") == 2
    await second.batch([second.prepare("INSERT INTO t VALUES ('three')")])
    assert await first.prepare("SELECT v FROM t ORDER BY rowid").raw() == [["one"], ["two"], ["three"]]
    del first, second
    reopened = D1Database(path)
    assert await reopened.prepare("SELECT count(*) AS n FROM t").first("n") == 3
    assert await reopened.prepare("PRAGMA journal_mode").first("journal_mode") == "wal"
    assert await reopened.prepare("PRAGMA foreign_keys").first("foreign_keys") == 1


async def test_two_processes_write_the_same_file(tmp_path):
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "shared.sqlite"
    db = D1Database(path)
    await db.exec("CREATE TABLE t (who TEXT, n INTEGER)")
    child = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from dotdo_dev.runtime.bindings.d1 import D1Database

        async def main():
            db = D1Database(Path({str(path)!r}))
            for n in range(200):
                await db.prepare("INSERT INTO t VALUES ('child', ?)").bind(n).run()
            await db.batch([db.prepare("INSERT INTO t VALUES ('child', ?)").bind(n) for n in range(200, 300)])

        asyncio.run(main())
        """
    )
    process = subprocess.Popen([sys.executable, "-c", child], stderr=subprocess.PIPE, text=True)
    for n in range(200):
        await db.prepare("INSERT INTO t VALUES ('parent', ?)").bind(n).run()
    await db.batch([db.prepare("INSERT INTO t VALUES ('parent', ?)").bind(n) for n in range(200, 300)])
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    counts = await db.prepare("SELECT who, count(*) AS n FROM t GROUP BY who ORDER BY who").raw()
    assert counts == [["child", 300], ["parent", 300]]


# -- off the event loop, D1's limits --------------------------------------------------------------------
RUNAWAY = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) AS c FROM n"


async def test_a_slow_query_does_not_stall_other_coroutines(tmp_path):
    db = D1Database(tmp_path / "slow.sqlite", query_timeout=1.0)  # the runaway query runs ~1 s, then stops
    ticks: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    stop = asyncio.Event()
    ticking = asyncio.create_task(ticker(stop))
    started = time.monotonic()
    with pytest.raises(D1Error, match="timed out"):
        await db.prepare(RUNAWAY).all()
    elapsed = time.monotonic() - started
    stop.set()
    await ticking
    assert 0.9 <= elapsed < 3
    during = [t for t in ticks if started <= t <= started + elapsed]
    assert len(during) >= 20, f"the event loop ticked {len(during)} times in {elapsed:.2f} s"
    assert max(b - a for a, b in itertools.pairwise(during)) < 0.3  # never stalled


async def test_calls_on_one_database_keep_their_order(tmp_path):
    db = D1Database(tmp_path / "order.sqlite")
    await db.exec("CREATE TABLE t (n INTEGER)")
    insert = db.prepare("INSERT INTO t VALUES (?)")
    await asyncio.gather(*(insert.bind(n).run() for n in range(50)), db.batch([insert.bind(50), insert.bind(51)]))
    assert await db.prepare("SELECT n FROM t ORDER BY rowid").raw() == [[n] for n in range(52)]


async def test_a_slow_query_on_one_database_does_not_delay_another(tmp_path):
    slow = D1Database(tmp_path / "a.sqlite", query_timeout=1.0)
    fast = D1Database(tmp_path / "b.sqlite")
    running = asyncio.create_task(slow.prepare(RUNAWAY).all())
    await asyncio.sleep(0.05)
    started = time.monotonic()
    assert await fast.prepare("SELECT 1 AS one").first("one") == 1
    assert time.monotonic() - started < 0.5
    assert not running.done()
    with pytest.raises(D1Error, match="timed out"):
        await running


async def test_a_runaway_query_ends_with_the_timeout_error_at_the_limit(tmp_path):
    db = D1Database(tmp_path / "runaway.sqlite", query_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(D1Error) as info:
        await db.prepare(RUNAWAY).all()
    elapsed = time.monotonic() - started
    assert str(info.value) == "D1_ERROR: Query timed out after 0.5 s (D1 stops a query at 30 s): SQLITE_INTERRUPT"
    assert 0.45 <= elapsed < 2
    assert info.value.__cause__ is None
    # the database is usable afterwards; a quick query is not affected by the limit
    assert await db.prepare("SELECT 1 AS one").first("one") == 1


async def test_a_runaway_statement_rolls_its_batch_and_exec_back(tmp_path):
    db = D1Database(tmp_path / "runaway.sqlite", query_timeout=0.5)
    await db.exec("CREATE TABLE t (v TEXT)")
    with pytest.raises(D1Error, match=r"^D1_ERROR: Query timed out after 0\.5 s"):
        await db.batch([db.prepare("INSERT INTO t VALUES ('batch')"), db.prepare(RUNAWAY)])
    with pytest.raises(D1Error, match=r"^D1_EXEC_ERROR: Error in line 2: .*Query timed out after 0\.5 s"):
        await db.exec(f"INSERT INTO t VALUES ('exec');\n{RUNAWAY}")
    assert await db.prepare("SELECT v FROM t").raw() == []
    await db.prepare("INSERT INTO t VALUES ('after')").run()
    assert await db.prepare("SELECT v FROM t").raw() == [["after"]]


async def test_the_limit_is_d1s_30_seconds_unless_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("DOTDO_D1_QUERY_TIMEOUT", raising=False)
    assert D1Database(tmp_path / "a.sqlite").query_timeout == 30.0
    monkeypatch.setenv("DOTDO_D1_QUERY_TIMEOUT", "0.25")
    assert D1Database(tmp_path / "b.sqlite").query_timeout == 0.25
    assert D1Database(tmp_path / "c.sqlite", query_timeout=2).query_timeout == 2.0  # the argument wins
    for bad in ("soon", "0", "-1", "inf"):
        monkeypatch.setenv("DOTDO_D1_QUERY_TIMEOUT", bad)
        with pytest.raises(ValueError, match="DOTDO_D1_QUERY_TIMEOUT"):
            D1Database(tmp_path / "d.sqlite")
    monkeypatch.delenv("DOTDO_D1_QUERY_TIMEOUT")
    for bad in (0, -1.0, math.nan, True, "1"):
        with pytest.raises(ValueError, match="query_timeout"):
            D1Database(tmp_path / "e.sqlite", query_timeout=bad)


async def test_the_limit_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DOTDO_D1_QUERY_TIMEOUT", "0.3")
    db = D1Database(tmp_path / "env.sqlite")
    with pytest.raises(D1Error, match=r"Query timed out after 0\.3 s"):
        await db.prepare(RUNAWAY).all()


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH DATABASE 'other.sqlite' AS other",
        "attach ':memory:' as m",
        "ATTACH DATABASE ? AS other",
        "DETACH DATABASE other",
        "DETACH main",
    ],
)
async def test_attach_and_detach_are_refused_as_on_d1(db, tmp_path, sql):
    statement = db.prepare(sql).bind(str(tmp_path / "x.sqlite")) if "?" in sql else db.prepare(sql)
    with pytest.raises(D1Error) as info:
        await statement.run()
    assert str(info.value) == "D1_ERROR: not authorized: SQLITE_AUTH"
    with pytest.raises(D1Error, match=r"^D1_EXEC_ERROR: Error in line 1: .*: not authorized: SQLITE_AUTH$"):
        await db.exec(sql.replace("?", "'x.sqlite'"))
    with pytest.raises(D1Error, match=r"^D1_ERROR: not authorized: SQLITE_AUTH$"):
        await db.batch([db.prepare("INSERT INTO things (name) VALUES ('x')"), statement])
    assert await names(db) == []
    assert not (tmp_path / "x.sqlite").exists()
    assert await db.prepare("SELECT name FROM pragma_database_list").raw() == [["main"]]


async def test_a_databases_thread_ends_with_it(tmp_path):
    import gc
    import threading

    before = threading.active_count()
    for n in range(20):
        db = D1Database(tmp_path / f"{n}.sqlite")
        assert await db.prepare("SELECT 1 AS one").first("one") == 1
    del db
    gc.collect()
    for _ in range(100):
        if threading.active_count() <= before:
            break
        await asyncio.sleep(0.01)
    assert threading.active_count() <= before
