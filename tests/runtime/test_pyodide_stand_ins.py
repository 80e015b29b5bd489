"""Worker code written for Pyodide (`pyodide.ffi.to_js`, `js.*`) runs unchanged on the local runtime.

The worker below is ours, written from Cloudflare's documented Queues producer (`send(to_js({...}))`
in the Queues "JavaScript APIs" page's Python tab) and from the to_js use of a Durable Object; the test
proves that what `to_js` returns reaches the queue consumer, Durable Object storage, KV and RPC as the
plain values would.
"""

import asyncio
import json
import textwrap
from pathlib import Path

import httpx
import pytest
from pyodide.ffi import to_js

from dotdo_dev.platform import LocalPlatform
from dotdo_dev.testing import WorkerHarness

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
{
  "name": "ffi-user",
  "main": "src/ffi_user_entry.py",
  "compatibility_date": "2026-11-01",
  "compatibility_flags": ["python_workers"],
  "workers_dev": false,
  "kv_namespaces": [{ "binding": "SEEN", "id": "seen" }],
  "d1_databases": [{ "binding": "DB", "database_name": "ffi", "database_id": "local-ffi" }],
  "queues": {
    "producers": [{ "binding": "MY_QUEUE", "queue": "ffi-jobs" }],
    "consumers": [{ "queue": "ffi-jobs", "max_batch_size": 10, "max_batch_timeout": 1, "max_retries": 1 }]
  },
  "durable_objects": { "bindings": [{ "name": "NOTES", "class_name": "Notes" }] },
  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Notes"] }]
}
"""

ENTRY = """\
import json

import js
from js import Object
from pyodide.ffi import to_js
from workers import DurableObject, Response, WorkerEntrypoint


class Notes(DurableObject):
    async def add(self, text):
        await self.ctx.storage.put("last", to_js({"text": text, "tags": ("a", "b")}))
        await self.env.MY_QUEUE.send(to_js({"from": "notes", "text": text}, dict_converter=Object.fromEntries))
        return to_js({"stored": text, "at": js.Date.new(0)})

    async def remember(self, values):
        return values

    async def last(self):
        return await self.ctx.storage.get("last")


class Default(WorkerEntrypoint):
    async def seen(self, key):
        return await self.env.SEEN.get(key)

    async def echo(self, value):
        return to_js({"got": value, "note": await self.env.NOTES.getByName("e").remember(to_js([value]))})

    async def store(self, name, blob):
        await self.env.DB.exec("CREATE TABLE IF NOT EXISTS t (name TEXT, blob BLOB)")
        await self.env.DB.prepare("INSERT INTO t VALUES (?, ?)").bind(to_js(name), to_js(blob)).run()
        row = await self.env.DB.prepare("SELECT name, length(blob) AS size FROM t").first()
        return to_js({"name": row.name, "size": row.size})

    async def fetch(self, request):
        if request.url.endswith("/note"):
            answer = await self.env.NOTES.getByName("n").add("hello")
            return Response.json({"stored": answer.stored, "at": answer.at.timestamp()})
        if request.url.endswith("/bad"):
            await self.env.MY_QUEUE.send(to_js({"when": object()}))
        await self.env.MY_QUEUE.send(to_js({
            "url": request.url,
            "method": request.method,
            "headers": dict(request.headers),
        }))
        return Response("Sent!")

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            body = message.body
            await self.env.SEEN.put(body.get("url") or body.text, json.dumps(body))
            await self.env.SEEN.put("last", json.dumps(body))
            message.ack()
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The worker's folder, one per module: a process loads a worker's main module once."""
    folder = tmp_path_factory.mktemp("ffi") / "ffi-user"
    (folder / "src").mkdir(parents=True)
    (folder / "wrangler.jsonc").write_text(CONFIG)
    # a main module name no other worker of this test process has
    (folder / "src" / "ffi_user_entry.py").write_text(textwrap.dedent(ENTRY))
    return folder


@pytest.fixture
def worker(folder, tmp_path):
    return WorkerHarness(folder, state_dir=tmp_path)


async def test_documented_queue_producer_with_to_js_delivers_the_body(worker):
    reply = await worker.fetch("/produce", method="POST", headers={"X-Trace": "t1"}, body="x")
    assert (reply.status, await reply.text()) == (200, "Sent!")
    assert await worker.deliver_queue() == 1
    seen = json.loads(await worker.env.SEEN.get("http://ffi-user.do/produce"))
    assert seen["url"] == "http://ffi-user.do/produce"
    assert seen["method"] == "POST"
    assert seen["headers"]["x-trace"] == "t1"


async def test_a_durable_object_using_to_js_stores_sends_and_answers(worker):
    reply = await worker.fetch("/note")
    assert await reply.json() == {"stored": "hello", "at": 0}  # a js.Date crosses RPC as a datetime
    assert await worker.env.NOTES.getByName("n").last() == {"text": "hello", "tags": ["a", "b"]}
    assert await worker.deliver_queue() == 1
    assert json.loads(await worker.env.SEEN.get("hello")) == {"from": "notes", "text": "hello"}


async def test_to_js_values_cross_service_rpc_durable_object_rpc_and_d1(worker):
    answer = await worker.rpc("echo", to_js({"k": "v"}))
    assert answer == {"got": {"k": "v"}, "note": [{"k": "v"}]}
    assert answer.got.k == "v"
    assert await worker.rpc("store", "blob", b"\x00\x01\x02") == {"name": "blob", "size": 3}


async def test_a_value_to_js_could_only_proxy_is_refused_by_the_queue(worker):
    with pytest.raises(TypeError, match="RPC"):
        await worker.fetch("/bad")
    assert await worker.deliver_queue() == 0  # nothing half-sent


@pytest.mark.slow
async def test_the_worker_runs_in_its_own_process_under_the_platform(folder, tmp_path):
    configs = [ROOT / "dispatcher" / "wrangler.jsonc", folder / "wrangler.jsonc"]
    platform = LocalPlatform(ROOT, configs=configs, state_dir=tmp_path, port=0)
    async with platform, httpx.AsyncClient(base_url=platform.url, timeout=10) as client:
        reply = await client.post("/from-outside", headers={"Host": "ffi-user.do"}, content="x")
        assert (reply.status_code, reply.text) == (200, "Sent!")
        async with asyncio.timeout(20):  # the platform delivers the batch to the worker's queue handler
            while (seen := await platform.peers.rpc("ffi-user", None, "seen", ("last",), {})) is None:
                await asyncio.sleep(0.1)
    assert json.loads(seen)["method"] == "POST"
    assert json.loads(seen)["url"].endswith("/from-outside")
