"""db's /health: alive and migrated; `?deep=1` also whether the storage takes a write, and recent failures."""

import pytest
from conftest import ROOT

import shared.errors as errors
from dotdo_dev.testing import WorkerHarness


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
