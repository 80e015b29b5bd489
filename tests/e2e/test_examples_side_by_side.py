"""Example-shaped workers (tests/fixtures/examples) placed under `workers/` run inside `make dev`'s platform
beside our services, each answering as Cloudflare documents its kind of worker (issue #16).

The platform is the one `make dev` starts: every folder under `workers/` of a copy of this repository, the
dispatcher in front, routed by Host. D1 is seeded first with `dotdo d1 execute <db> --local --file ... --yes`,
as the examples' READMEs do with wrangler, on the same state folder.
"""

import asyncio
import os
import shutil
import subprocess
import sys

import httpx
import pytest
import pytest_asyncio
from conftest import ROOT, SECRETS

from dotdo_dev.platform import LocalPlatform
from dotdo_dev.testing import copy_repo

EXAMPLES = ROOT / "tests" / "fixtures" / "examples"
pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    base = tmp_path_factory.mktemp("side-by-side")
    repo = copy_repo(ROOT, base / "repo")
    for example in sorted(p for p in EXAMPLES.iterdir() if p.is_dir()):
        shutil.copytree(example, repo / "workers" / example.name)
    state = base / "state"
    d1 = ["d1", "execute", "quotes", "--local", "--file", "seed.sql", "--yes", "--state", str(state)]
    seeded = subprocess.run(
        [sys.executable, "-m", "dotdo_dev", *d1],
        cwd=repo / "workers" / "d1-quotes",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    environ = dict(os.environ) | SECRETS
    async with LocalPlatform(repo, state_dir=state, port=0, environ=environ) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=10) as http:
        yield http


async def test_every_example_runs_beside_every_service(platform, client):
    workers = (await client.get("/__platform")).json()["data"]["workers"]
    examples = {p.name for p in EXAMPLES.iterdir() if p.is_dir()}
    services = {p.name for p in (ROOT / "workers").iterdir() if (p / "wrangler.jsonc").is_file()}
    assert examples | services | {"dispatcher"} <= set(workers)
    assert {name: workers[name]["status"] for name in examples | services} == dict.fromkeys(
        examples | services, "running"
    )
    for service in ("db", "gateway", "auth"):
        assert (await client.get("/health", headers={"Host": f"{service}.do"})).status_code == 200


async def test_a_plain_worker_answers_text_as_workerd_does(client):
    reply = await client.get("/", headers={"Host": "greeter.do"})
    assert (reply.status_code, reply.text) == (200, "Greetings from a plain worker")
    assert reply.headers["content-type"] == "text/plain;charset=UTF-8"


async def test_a_module_level_handler_before_2025_08_14_uses_js_response_and_kv(client):
    reply = await client.get("/", headers={"Host": "legacy-kv.do"})
    assert (reply.status_code, reply.text) == (200, "stored and read back")


async def test_a_one_argument_scheduled_handler_runs_from_the_dev_url(client):
    ran = await client.get(
        "/cdn-cgi/handler/scheduled", params={"cron": "*/1 * * * *"}, headers={"Host": "cron-one-arg.do"}
    )
    assert ran.status_code == 200, ran.text
    reply = await client.get("/", headers={"Host": "cron-one-arg.do"})  # fetch(self): no request taken
    assert reply.text == "last cron: */1 * * * *"


async def test_a_workflow_of_concurrent_dependent_steps_completes_with_its_output(client):
    started = await client.get("/start", headers={"Host": "dag-workflow.do"})
    assert started.status_code == 200, started.text
    instance = started.text.removeprefix("started ")
    assert len(instance) == 36
    async with asyncio.timeout(20):
        while True:
            status = (await client.get(f"/status/{instance}", headers={"Host": "dag-workflow.do"})).json()
            if status["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.1)
    assert status == {"status": "complete", "error": None, "output": 42}


async def test_d1_seeded_by_the_d1_command_is_what_the_worker_reads(client):
    reply = await client.get("/", headers={"Host": "d1-quotes.do"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"text": "Simple things should be simple", "author": "A. Kay"}
