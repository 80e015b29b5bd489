"""POST /sql never writes the audit log, the migrations or the search index, however the name is spelled.

SQLite resolves a table name written bare, 'x', "x", `x` or [x], after `main.`/`temp.` (quoted
too), with comments and white space around the dot, in any case. A generated corpus of write
statements in all those spellings runs against the real local D1: each must be refused, audited,
and leave every protected table (rows and schema) as it was. A control run proves each statement
would have changed the database if it had been let through.
"""

import itertools
import json
import random

import pytest
from conftest import ADMIN

from admin_sql import protected_in, statement_kind
from dotdo_dev.testing import envelope as body
from shared.errors import BadRequest

#: The protected tables, with a column list, values and an assignment that are valid for each.
TABLES = {
    "audit_log": ("(id,actor,action,created_at,updated_at)", "('fz','a','b','t','t')", "actor = 'x'"),
    "_migrations": ("(version,name,applied_at)", "(999,'x','now')", "name = 'x'"),
    "things_fts": ("(rowid,content)", "(999,'x')", "content = 'x'"),
    "things_fts_data": ("(id,block)", "(999999,x'00')", "block = x'00'"),
    "things_fts_config": ("(k,v)", "('fz',1)", "v = 2"),
}
#: Every way of writing: `{t}` is the table, `{cols}`, `{vals}`, `{set}` come from TABLES.
VERBS = [
    "DELETE FROM {t}",
    "DELETE FROM {t} WHERE 1 = 1",
    "UPDATE {t} SET {set}",
    "INSERT INTO {t} {cols} VALUES {vals}",
    "REPLACE INTO {t} {cols} VALUES {vals}",
    "INSERT OR REPLACE INTO {t} {cols} VALUES {vals}",
    "WITH c AS (SELECT 1) DELETE FROM {t}",
    "WITH c AS (SELECT 1) INSERT INTO {t} {cols} VALUES {vals}",
    "WITH c AS (SELECT 1) UPDATE {t} SET {set}",
    "DROP TABLE {t}",
    "DROP TABLE IF EXISTS {t}",
    "ALTER TABLE {t} RENAME TO renamed_fz",
    "ALTER TABLE {t} ADD COLUMN extra_fz TEXT",
    "CREATE VIEW view_fz AS SELECT * FROM {t}",
    "CREATE TABLE copy_fz AS SELECT * FROM {t}",
    "INSERT INTO things (ns,id,type) SELECT 'fz','fz','X' FROM {t} LIMIT 1",
    "CREATE TRIGGER trig_fz AFTER INSERT ON things BEGIN DELETE FROM {t}; END",
]
#: SQLite cannot run these at all (a virtual table's schema is fixed; renaming a shadow table breaks the
#: FTS5 table's triggers, so SQLite refuses it): nothing to refuse. The control test shows all others run.
IMPOSSIBLE = {
    ("ALTER TABLE {t} ADD COLUMN extra_fz TEXT", "things_fts"),
    ("ALTER TABLE {t} RENAME TO renamed_fz", "things_fts_data"),
    ("ALTER TABLE {t} RENAME TO renamed_fz", "things_fts_config"),
}
QUOTES = ["{}", '"{}"', "'{}'", "`{}`", "[{}]"]
SCHEMAS = [None, "main", "MAIN", "Main"]
GAPS = [" ", "  ", "\n", "\t", "\r\n", "/**/", "/* c */", " /* ; */ ", "-- c\n", " --\n "]


def mixed_case(rng: random.Random, text: str) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def spell_table(rng: random.Random, name: str, quote: str, schema: str | None) -> str:
    """`name` in the quoting form `quote`, maybe after a (quoted) schema, comments/space around the dot."""
    spelled = quote.format(mixed_case(rng, name))
    if schema is None:
        return spelled
    around = ["", " ", "/**/", "/* x */ ", "\n"]
    return f"{rng.choice(QUOTES).format(schema)}{rng.choice(around)}.{rng.choice(around)}{spelled}"


def generate(seed: int) -> list[tuple[str, str, str]]:
    """(statement, table, verb) for every verb, quoting form and table, each with a random schema prefix,
    random case and random comments or white space between its tokens."""
    rng = random.Random(seed)
    out = []
    for verb, (table, (cols, vals, assign)), quote in itertools.product(VERBS, TABLES.items(), QUOTES):
        if (verb, table) in IMPOSSIBLE:
            continue
        # SQLite takes no schema prefix inside a trigger's body
        schema = None if verb.startswith("CREATE TRIGGER") else rng.choice(SCHEMAS)
        spelled = spell_table(rng, table, quote, schema)
        words = verb.format(t="\0", cols=cols, vals=vals, set=assign).split(" ")
        words = [mixed_case(rng, word) if word.isalpha() else word.replace("\0", spelled) for word in words]
        text = words[0] + "".join(rng.choice(GAPS) + word for word in words[1:])
        out.append((text, table, verb))
    return out


CORPUS = generate(2026) + generate(12)


async def sql(worker, statement, **extra):
    return await worker.fetch("/sql", method="POST", headers=ADMIN, json={"sql": statement, **extra})


async def snapshot(worker) -> dict:
    """The protected tables' rows and the whole schema."""
    db = worker.env.DB
    state = {"schema": await db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name").raw()}
    for table in TABLES:
        key = "k" if table == "things_fts_config" else "rowid"  # a WITHOUT ROWID table
        state[table] = await db.prepare(f"SELECT {key}, * FROM {table} ORDER BY {key}").raw()
    return state


async def seeded(worker):
    assert (await sql(worker, "SELECT 1")).status == 200  # migrates; its audit row is the first
    db = worker.env.DB
    await db.batch(
        [
            db.prepare("INSERT INTO things (ns, id, type, content) VALUES ('acme', ?, 'Note', ?)").bind(i, f"word{i}")
            for i in ("a1", "a2", "a3")
        ]
    )
    return await snapshot(worker)


def same_except_refusals(before: dict, after: dict, refusals: int) -> None:
    """Nothing changed but `refusals` new audit rows, each a refusal."""
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items() if k != "audit_log"}
    kept, added = after["audit_log"][: len(before["audit_log"])], after["audit_log"][len(before["audit_log"]) :]
    assert kept == before["audit_log"]
    assert len(added) == refusals
    assert all("sql.refused" in row for row in added), added


def test_the_corpus_covers_every_verb_quoting_form_and_table():
    assert len(CORPUS) == 2 * (len(VERBS) * len(TABLES) * len(QUOTES) - len(IMPOSSIBLE) * len(QUOTES))
    texts = [text for text, _, _ in CORPUS]
    assert any("'audit_log'" in t.lower() for t in texts)
    assert any("[main]" in t.lower() for t in texts)
    assert any("/*" in t for t in texts)
    assert any("--" in t for t in texts)


@pytest.mark.parametrize(("statement", "table", "verb"), CORPUS[::40], ids=lambda value: str(len(value)))
def test_corpus_sample_reads_as_a_protected_write(statement, table, verb):
    if verb.startswith("CREATE TRIGGER"):
        with pytest.raises(BadRequest):  # `BEGIN ...; END` is more than one statement to /sql
            statement_kind(statement)
        return
    assert statement_kind(statement) == "write"
    assert table.upper() in protected_in(statement)


async def test_every_generated_write_to_a_protected_table_would_run_if_let_through(worker):
    """The control: each statement, sent to D1 directly inside a batch that then fails (and so rolls
    back), runs: the batch fails on the statement after it, not on it."""
    await seeded(worker)
    db = worker.env.DB
    for statement, _, _ in CORPUS:
        with pytest.raises(Exception) as info:  # noqa: PT011 - D1Error, whose message is checked
            await db.batch([db.prepare(statement), db.prepare("SELECT * FROM rollback_fz")])
        assert "no such table: rollback_fz" in str(info.value), (statement, str(info.value))


async def test_no_generated_write_to_a_protected_table_runs(worker):
    before = await seeded(worker)
    for count, (statement, table, _) in enumerate(CORPUS, start=1):
        response = await sql(worker, statement, write=True)
        error = (await body(response))["error"]
        if "TRIGGER" in statement.upper():  # `; END` makes it two statements before anything else
            assert (response.status, error["code"]) in ((400, "SQL_NOT_ONE_STATEMENT"), (403, "SQL_PROTECTED"))
        else:
            assert (response.status, error["code"]) == (403, "SQL_PROTECTED"), statement
            assert table.upper() in error["details"]["names"], (statement, error)
        if count % 10 == 0 or count == len(CORPUS):
            same_except_refusals(before, await snapshot(worker), count)
    assert (await sql(worker, "SELECT count(*) AS n FROM things_fts WHERE things_fts MATCH 'word2'")).status == 200


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM 'audit_log'",
        "DROP TABLE 'audit_log'",
        "UPDATE '_migrations' SET version = 0",
        "DELETE FROM main.audit_log",
        "DELETE FROM temp.audit_log",
        'DELETE FROM "main"."audit_log"',
        "DELETE FROM main . audit_log",
        "DELETE FROM main/**/.audit_log",
        "DELETE FROM [main].[AUDIT_LOG]",
        "DELETE FROM `Audit_Log`",
        "ALTER TABLE audit_log RENAME TO old_log",
        "INSERT INTO audit_log (id, actor, action) VALUES ('x', 'y', 'z')",
        "REPLACE INTO _migrations (version, name, applied_at) VALUES (1, 'x', 'y')",
        "WITH x AS (SELECT 1) DELETE FROM 'audit_log'",
        "DELETE FROM things_fts_data",
        "INSERT INTO things_fts_config (k, v) VALUES ('x', 1)",
        "DROP TRIGGER things_fts_insert",
        "CREATE VIEW v AS SELECT * FROM audit_log",
        "CREATE TABLE audit_copy AS SELECT * FROM audit_log",
        "DELETE FROM sqlite_sequence",
        "UPDATE sqlite_master SET sql = ''",
        'PRAGMA "writable_schema" = 1',
        "PRAGMA writable_schema = 1",
        "PRAGMA foreign_keys = OFF",  # would change db's own connection for every later query
        "pragma ignore_check_constraints = 1",
        "PRAGMA main.journal_mode = DELETE",
        "CREATE TEMP TABLE things (ns TEXT)",
        'CREATE TABLE "temp".things (ns TEXT)',
        "CREATE TEMPORARY VIEW things AS SELECT 1",
        "CREATE TRIGGER t AFTER INSERT ON things BEGIN SELECT 1 END",
        "ATTACH DATABASE 'other.sqlite' AS other",
        "DETACH DATABASE other",
        "VACUUM INTO 'copy.sqlite'",
        "UPDATE things SET content = 'see audit_log'",  # a literal naming it refuses too: bind it instead
        "DELETE FROM things -- not audit_log",
    ],
)
async def test_protected_spellings_are_refused_and_audited(worker, statement):
    before = await seeded(worker)
    response = await sql(worker, statement, write=True)
    assert response.status == 403
    error = (await body(response))["error"]
    assert error["code"] == "SQL_PROTECTED"
    assert error["details"]["names"]
    assert "bind it as a parameter" in error["message"]
    same_except_refusals(before, await snapshot(worker), 1)
    audit = await worker.env.DB.prepare("SELECT action, details FROM audit_log ORDER BY rowid").raw()
    assert audit[-1][0] == "sql.refused"
    assert json.loads(audit[-1][1])["sql"] == statement
    assert await worker.env.DB.prepare("SELECT count(*) AS n FROM things").first("n") == 3


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TRIGGER t AFTER INSERT ON things BEGIN DELETE FROM audit_log; END",
        "CREATE TRIGGER t AFTER INSERT ON things BEGIN INSERT INTO notes VALUES (1); END",
    ],
)
async def test_triggers_are_refused_whatever_their_body(worker, statement):
    before = await seeded(worker)
    response = await sql(worker, statement, write=True)
    assert response.status in (400, 403)
    assert (await body(response))["error"]["code"] in ("SQL_NOT_ONE_STATEMENT", "SQL_PROTECTED")
    same_except_refusals(before, await snapshot(worker), 1)


@pytest.mark.parametrize(
    ("statement", "check"),
    [
        ("CREATE TABLE audit_log2 AS SELECT 1 AS a", "SELECT a FROM audit_log2"),
        ("CREATE TABLE notes (body TEXT)", "SELECT count(*) FROM notes"),
        ("UPDATE things SET content = ? WHERE id = 'a1'", "SELECT content FROM things WHERE id = 'a1'"),
        ("CREATE VIEW notes_view AS SELECT id FROM things", "SELECT count(*) FROM notes_view"),
    ],
)
async def test_writes_that_only_resemble_protected_names_run(worker, statement, check):
    before = await seeded(worker)
    params = ["mentions audit_log, bound"] if "?" in statement else []
    response = await sql(worker, statement, write=True, params=params)
    assert response.status == 200, await response.json()
    assert (await body(response))["data"]["kind"] == "write"
    assert await worker.env.DB.prepare(check).raw()
    after = await snapshot(worker)
    assert after["_migrations"] == before["_migrations"]
    assert after["audit_log"][: len(before["audit_log"])] == before["audit_log"]


async def test_a_protected_table_behind_a_view_is_not_written(worker):
    await seeded(worker)
    db = worker.env.DB
    await db.prepare("CREATE VIEW recent_audit AS SELECT * FROM audit_log").run()  # made before, by hand
    before = await snapshot(worker)
    for statement in ("DELETE FROM recent_audit", "UPDATE recent_audit SET actor = 'x'"):
        response = await sql(worker, statement, write=True)
        assert response.status == 400
        error = (await body(response))["error"]
        assert error["code"] == "SQL_ERROR"
        assert "cannot modify recent_audit because it is a view" in error["details"]["error"]
    after = await snapshot(worker)
    assert after["audit_log"][: len(before["audit_log"])] == before["audit_log"]
    assert [row for row in after["audit_log"][len(before["audit_log"]) :] if "sql.failed" not in row] == []
    # dropping the view is fine: it names no protected table, and the log stays
    assert (await sql(worker, "DROP VIEW recent_audit", write=True)).status == 200
    assert len((await snapshot(worker))["audit_log"]) == len(after["audit_log"]) + 1


async def test_reads_of_protected_tables_stay_allowed(worker):
    await seeded(worker)
    for statement in ("SELECT count(*) AS n FROM 'audit_log'", "SELECT * FROM main._migrations"):
        response = await sql(worker, statement)
        assert response.status == 200, await response.json()
        assert (await body(response))["data"]["kind"] == "read"


@pytest.mark.parametrize("statement", ["SELECT 1\x00; DELETE FROM audit_log", "DELETE FROM things\x00"])
async def test_a_nul_character_is_refused(worker, statement):
    with pytest.raises(BadRequest):
        statement_kind(statement)
    before = await seeded(worker)
    response = await sql(worker, statement, write=True)
    assert response.status == 400
    assert (await body(response))["error"]["code"] == "SQL_INVALID_CHARACTER"
    same_except_refusals(before, await snapshot(worker), 1)


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("select `a``b` from (select 1 as `a``b`)", "read"),
        ("select `delete``` from (select 1 as `delete```)", "read"),
        ("select 1 as `x`` -- `, 2", "read"),
        ("select 1 /* unterminated \n; delete from things", "read"),
        ("select 1 as café", "read"),
    ],
)
def test_the_tokenizer_reads_quotes_as_sqlite_does(statement, kind):
    assert statement_kind(statement) == kind


def test_names_are_whole_names():
    assert protected_in("DELETE FROM audit_log2") == []
    assert protected_in("DELETE FROM my_audit_log") == []
    assert protected_in("DELETE FROM audit_logs") == []
    assert protected_in('DELETE FROM "audit""_log"') == []  # the name is audit"_log
    assert protected_in("DELETE FROM [audit_log ]") == ["AUDIT_LOG"]  # another name in SQLite; refused anyway
    assert protected_in("DELETE FROM audit_log$x") == ["AUDIT_LOG"]  # `$` ends a run here: the safe side
    assert protected_in("DELETE FROM Things_FTS_idx") == ["THINGS_FTS_IDX"]
