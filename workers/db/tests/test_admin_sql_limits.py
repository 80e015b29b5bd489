"""POST /sql under D1's query limit: a runaway query ends as a client error, and db keeps answering meanwhile."""

import asyncio
import time

from conftest import ADMIN, ROOT

from dotdo_dev.testing import WorkerHarness
from dotdo_dev.testing import envelope as body

RUNAWAY = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) AS c FROM n"


async def sql(worker, statement):
    return await worker.fetch("/sql", method="POST", headers=ADMIN, json={"sql": statement})


async def test_a_runaway_query_times_out_as_sql_error_while_health_answers(tmp_path, auth, monkeypatch):
    monkeypatch.setenv("DOTDO_D1_QUERY_TIMEOUT", "1")  # D1's is 30 s
    worker = WorkerHarness(ROOT, state_dir=tmp_path, bindings={"AUTH_SERVICE": auth})
    assert (await sql(worker, "SELECT 1")).status == 200  # migrated
    started = time.monotonic()
    runaway = asyncio.create_task(sql(worker, RUNAWAY))
    await asyncio.sleep(0.2)
    health = await worker.fetch("/health")
    assert health.status == 200
    assert time.monotonic() - started < 0.8  # /health did not wait for the query
    assert not runaway.done()
    response = await runaway
    assert 0.9 <= time.monotonic() - started < 5
    assert response.status == 400
    error = (await body(response))["error"]
    assert error["code"] == "SQL_ERROR"
    assert "Query timed out after 1 s" in error["details"]["error"]
    audit = await worker.env.DB.prepare("SELECT action FROM audit_log ORDER BY rowid").raw()
    assert audit[-1] == ["sql.failed"]
    assert (await sql(worker, "SELECT 2 AS two")).status == 200  # and the database works on
