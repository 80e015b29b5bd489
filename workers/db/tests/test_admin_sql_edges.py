"""POST /sql at its edges: each limit of a request to the character, 1000 rows exactly, the statement kept in the
audit log, how a database error is reported, REPLACE as a statement's last word, keyword-only options."""

import json

import pytest
from conftest import ADMIN

import admin_sql
from dotdo_dev.testing import envelope as body


async def sql(worker, statement, **extra):
    return await worker.fetch("/sql", method="POST", headers=ADMIN, json={"sql": statement, **extra})


async def outcome(worker, statement, **extra) -> tuple[int, str | None]:
    """The status and error code (None on success) /sql answers `statement` with."""
    response = await sql(worker, statement, **extra)
    data = await body(response)
    return response.status, None if data["success"] else data["error"]["code"]


def padded(statement: str, length: int) -> str:
    """`statement` and a trailing comment, `length` characters in all."""
    return f"{statement} --".ljust(length, "x")


# -- the request ---------------------------------------------------------------------------------------------


async def test_a_statement_may_be_100000_characters_and_not_one_more(worker):
    assert await outcome(worker, padded("SELECT 1", 100_000)) == (200, None)
    assert await outcome(worker, padded("SELECT 1", 100_001)) == (400, "VALIDATION_ERROR")


async def test_a_one_character_statement_is_read_as_sql_and_an_empty_one_refused(worker):
    assert await outcome(worker, ";", write=True) == (400, "SQL_NOT_ONE_STATEMENT")
    assert await outcome(worker, "x") == (403, "SQL_WRITE_NOT_ALLOWED")  # not a read: a write unless flagged
    assert await outcome(worker, "") == (400, "VALIDATION_ERROR")


async def test_a_statement_may_bind_100_parameters_and_not_one_more(worker):
    def select(n: int) -> str:
        return "SELECT " + " + ".join("?" for _ in range(n)) + " AS total"

    response = await sql(worker, select(100), params=[1] * 100)
    assert (await body(response))["data"]["rows"] == [{"total": 100}]
    assert await outcome(worker, select(101), params=[1] * 101) == (400, "VALIDATION_ERROR")


# -- what it answers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "truncated"), [(999, False), (1000, False), (1001, True)])
async def test_up_to_1000_rows_are_answered_whole(worker, count, truncated):
    statement = f"WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < {count}) SELECT x FROM n"
    data = (await body(await sql(worker, statement)))["data"]
    assert (len(data["rows"]), data["truncated"]) == (min(count, 1000), truncated)
    assert data["rows"][-1] == {"x": min(count, 1000)}


async def test_the_audit_log_keeps_the_first_2000_characters_of_a_statement(worker):
    for length in (2000, 2001, 2500):
        assert (await sql(worker, padded("SELECT 1", length))).status == 200
    rows = await worker.env.DB.prepare("SELECT details FROM audit_log ORDER BY rowid").raw()
    kept = [json.loads(details)["sql"] for (details,) in rows]
    assert kept == [padded("SELECT 1", 2000)] * 3


async def test_a_database_error_is_reported_by_its_last_line_which_names_sqlites_code(worker):
    # D1 reports "D1_ERROR: <SQLite's message>: SQLITE_<code>"; a name with a line break in it spreads that
    # over two lines.
    response = await sql(worker, 'SELECT * FROM "no_such\ntable"')
    error = (await body(response))["error"]
    assert (response.status, error["code"]) == (400, "SQL_ERROR")
    assert error["details"]["error"] == "table: SQLITE_ERROR"


async def test_a_database_error_is_reported_up_to_300_characters(worker):
    name = "t" * 400
    response = await sql(worker, f"SELECT * FROM {name}")
    reported = (await body(response))["error"]["details"]["error"]
    assert reported == f"D1_ERROR: no such table: {name}"[:300]


# -- reads and writes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("statement", ["SELECT 1 AS replace", "SELECT 'a' replace"])
async def test_replace_as_the_last_word_counts_as_a_write(worker, statement):
    # Only `replace(` is the function; anything else, even nothing, may be the REPLACE statement: the safe side.
    assert admin_sql.statement_kind(statement) == "write"
    assert await outcome(worker, statement) == (403, "SQL_WRITE_NOT_ALLOWED")


async def test_the_actor_is_a_keyword_only_option(worker):
    assert (await admin_sql.run_sql(worker.env, {"sql": "SELECT 1 AS one"}, actor="usr_admin"))["rows"] == [{"one": 1}]
    with pytest.raises(TypeError):
        await admin_sql.run_sql(worker.env, {"sql": "SELECT 1 AS one"}, "usr_admin")
