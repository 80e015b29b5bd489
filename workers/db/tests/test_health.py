"""db's /health: alive and migrated; `?deep=1` also whether the storage takes a write, and recent failures."""

import pytest
from conftest import ROOT

import shared.errors as errors
import storage
from dotdo_dev.runtime.bindings.d1 import D1Database
from dotdo_dev.testing import WorkerHarness
from migrations import LATEST
from routes import WRITE_PROBE


@pytest.fixture
def worker(tmp_path, monkeypatch):
    monkeypatch.setattr(errors, "_LAST_STORAGE_PROBLEM", [])
    return WorkerHarness(ROOT, state_dir=tmp_path)


async def test_deep_health_says_the_storage_takes_writes(worker):
    plain = (await (await worker.fetch("/health")).json())["data"]
    assert "storage" not in plain
    deep = (await (await worker.fetch("/health?deep=1")).json())["data"]
    assert deep["status"] == "ok"
    assert deep["storage"] == {"writable": True}


async def test_deep_health_reports_a_storage_failure_of_the_last_minute(worker):
    errors.storage_error(RuntimeError("D1_ERROR: database or disk is full: SQLITE_FULL"))
    reply = await worker.fetch("/health?deep=1")
    assert reply.status == 200  # a report, not a failure of the check itself
    deep = (await reply.json())["data"]
    assert deep["status"] == "degraded"
    assert deep["storage"]["writable"] is True
    assert deep["storage"]["recent_failure"]["problem"] == "The storage is full"


async def test_plain_health_after_the_first_asks_the_database_nothing(worker, monkeypatch):
    # A monitor polling /health costs no query: the schema is checked on the isolate's first open only
    # (under Pyodide, where the binding is new per request, tests/conformance counts D1's statements).
    monkeypatch.setattr(storage.DATABASE, "version", None)  # a new isolate, as a new process has it
    first = (await (await worker.fetch("/health")).json())["data"]
    assert first["schema_version"] == LATEST
    asked: list[str] = []
    prepare, batch = D1Database.prepare, D1Database.batch

    def counting_prepare(self, query):
        asked.append(query)
        return prepare(self, query)

    async def counting_batch(self, statements):
        asked.append(f"batch of {len(statements)}")
        return await batch(self, statements)

    monkeypatch.setattr(D1Database, "prepare", counting_prepare)
    monkeypatch.setattr(D1Database, "batch", counting_batch)
    for _ in range(3):
        reply = await worker.fetch("/health")
        assert reply.status == 200
        assert (await reply.json())["data"] == first
    assert asked == []
    deep = (await (await worker.fetch("/health?deep=1")).json())["data"]
    assert deep["storage"] == {"writable": True}
    assert asked == [WRITE_PROBE]  # the deep check still touches the storage
