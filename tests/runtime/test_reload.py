"""`make dev` restarts a worker when its files change, survives a broken edit, and picks up new workers."""

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from dotdo_dev.platform import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "tests" / "fixtures" / "workers" / "hello"


async def body_becomes(client, url, host, expected, seconds=20):
    async with asyncio.timeout(seconds):
        while True:
            reply = await client.get(url, headers={"Host": host})
            if reply.status_code == 200 and reply.text == expected:
                return
            await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_edits_reload_the_worker_and_a_broken_edit_does_not_stop_the_platform(tmp_path):
    worker = tmp_path / "hello"
    shutil.copytree(HELLO, worker)
    entry = worker / "src" / "entry.py"
    configs = [ROOT / "dispatcher" / "wrangler.jsonc", worker / "wrangler.jsonc"]
    platform = LocalPlatform(
        ROOT, configs=configs, state_dir=tmp_path / "state", port=0, watch=True, watch_interval=0.2
    )
    async with platform, httpx.AsyncClient(timeout=5) as client:
        url = f"{platform.url}/"
        assert (await client.get(url, headers={"Host": "hello.do"})).text == "hello"
        entry.write_text(entry.read_text().replace('Response("hello")', 'Response("changed")'))
        await body_becomes(client, url, "hello.do", "changed")
        entry.write_text("this is not python\n")
        await asyncio.sleep(1.5)
        broken = await client.get(url, headers={"Host": "hello.do"})
        assert broken.status_code == 502  # the worker is down; the dispatcher still answers, with an envelope
        assert broken.json()["error"]["code"] == "WORKER_ERROR"
        entry.write_text((HELLO / "src" / "entry.py").read_text().replace('Response("hello")', 'Response("fixed")'))
        await body_becomes(client, url, "hello.do", "fixed")


@pytest.mark.slow
async def test_a_service_created_while_running_is_started(tmp_path):
    from dotdo_dev.generator.create_service import create_service
    from dotdo_dev.testing import copy_repo

    repo = copy_repo(ROOT, tmp_path / "repo")
    platform = LocalPlatform(repo, state_dir=tmp_path / "state", port=0, watch=True, watch_interval=0.2)
    async with platform, httpx.AsyncClient(timeout=5) as client:
        before = await client.get(f"{platform.url}/health", headers={"Host": "orders.do"})
        assert before.status_code == 404
        create_service(repo, name="orders")
        async with asyncio.timeout(20):
            while (await client.get(f"{platform.url}/health", headers={"Host": "orders.do"})).status_code != 200:
                await asyncio.sleep(0.1)
        assert "orders" in platform.processes


def test_hidden_folders_are_not_the_worker_s_code(tmp_path):
    # A worker outside this repository keeps its state in <folder>/.state, written on every request (a Workflow
    # step, a KV put): a change there must not restart the worker, or every write would kill what it is doing.
    from dotdo_dev.platform import _tree_stamp

    worker = tmp_path / "example"
    shutil.copytree(HELLO, worker)
    before = _tree_stamp(worker)
    for hidden in (".state/workflows/example", ".wrangler/state", ".venv/lib"):
        (worker / hidden).mkdir(parents=True)
        (worker / hidden / "written.sqlite").write_bytes(b"x")
    (worker / "src" / "__pycache__").mkdir(exist_ok=True)
    (worker / "src" / "__pycache__" / "entry.cpython-311.pyc").write_bytes(b"x")
    assert _tree_stamp(worker) == before
    (worker / "src" / "helper.py").write_text("X = 1\n")
    assert _tree_stamp(worker) != before  # code still counts
    (worker / ".dev.vars").write_text("SECRET=1\n")  # a hidden file (not a folder) is config: it counts
    assert _tree_stamp(worker)[1] == before[1] + 2
