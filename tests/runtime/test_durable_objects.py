"""Local Durable Objects: ids, stubs with RPC and fetch, persisted storage, one request at a time."""

import asyncio
from pathlib import Path

import pytest

from dotdo_dev.config import ConfigError, load_worker
from dotdo_dev.testing import WorkerHarness

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "workers" / "counter"


@pytest.fixture
def worker(tmp_path):
    return WorkerHarness(FIXTURE, state_dir=tmp_path)


async def test_same_name_same_object_other_name_other_object(worker):
    ns = worker.env.COUNTER
    assert str(ns.idFromName("a")) == str(ns.idFromName("a"))
    assert str(ns.idFromName("a")) != str(ns.idFromName("b"))
    assert await ns.get(ns.idFromName("a")).add(2) == 2
    assert await ns.getByName("a").add(3) == 5
    assert await ns.getByName("b").total() == 0
    assert str(ns.idFromString(str(ns.idFromName("a")))) == str(ns.idFromName("a"))
    assert str(ns.newUniqueId()) != str(ns.newUniqueId())


async def test_concurrent_calls_to_one_object_do_not_interleave(worker):
    stub = worker.env.COUNTER.getByName("busy")
    results = await asyncio.gather(*(stub.add() for _ in range(100)))
    assert sorted(results) == list(range(1, 101))  # each saw the previous one's write
    assert await stub.total() == 100


async def test_storage_survives_a_restart(tmp_path):
    first = WorkerHarness(FIXTURE, state_dir=tmp_path)
    await first.env.COUNTER.getByName("kept").add(7)
    assert await first.env.COUNTER.getByName("kept").log("one") == ["one"]
    again = WorkerHarness(FIXTURE, state_dir=tmp_path)
    assert await again.env.COUNTER.getByName("kept").total() == 7
    assert await again.env.COUNTER.getByName("kept").log("two") == ["one", "two"]


async def test_rpc_rules_and_fetch(worker):
    stub = worker.env.COUNTER.getByName("rules")
    with pytest.raises(TypeError, match="RPC"):
        await stub.add((1, 2))  # a tuple cannot cross RPC
    with pytest.raises(TypeError, match="does not implement"):
        await stub.missing()
    reply = await stub.fetch("https://counter/x")
    assert (await reply.text()).startswith("counter ")
    assert (await (await worker.fetch("/")).json()) == {"total": 1}
    assert await worker.rpc("add", "page") == 2


def test_bad_ids_are_refused(worker):
    with pytest.raises(TypeError, match="64 hex"):
        worker.env.COUNTER.idFromString("nope")
    with pytest.raises(TypeError, match="DurableObjectId"):
        worker.env.COUNTER.get("a name")


def test_a_bound_class_needs_a_migration(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "entry.py").write_text("")
    (tmp_path / "wrangler.jsonc").write_text(
        '{"name": "x", "main": "src/entry.py", "compatibility_date": "2026-11-01",'
        ' "compatibility_flags": ["python_workers"],'
        ' "durable_objects": {"bindings": [{"name": "C", "class_name": "Counter"}]}}'
    )
    with pytest.raises(ConfigError, match="no migration creates it"):
        load_worker(tmp_path)
