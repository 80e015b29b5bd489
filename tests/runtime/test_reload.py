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
