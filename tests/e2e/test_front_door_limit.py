"""The dispatcher's per-address limit on the real platform: front door -> dispatcher -> db -> auth.

The limit is the dispatcher's `FRONT_DOOR_LIMITER` binding (`ratelimits` in dispatcher/wrangler.jsonc,
`env.development` locally: 10,000 per 60 s). This module runs a copy of the dispatcher folder with that
limit lowered to `LIMIT`: the knob is the config, as on Cloudflare, and nothing else changes.
Every client here is 127.0.0.1, the address the front door puts in `CF-Connecting-IP`.
"""

import asyncio
import json
import os
import shutil

import httpx
import pytest
import pytest_asyncio
from conftest import ROOT, SECRETS

from dotdo_dev import jsonc
from dotdo_dev.platform import LocalPlatform

LIMIT = 5
DB = {"host": "db.do"}

pytestmark = pytest.mark.asyncio(loop_scope="module")


def dispatcher_with_limit(target, limit):
    """A copy of dispatcher/ whose local (env.development) front-door limit is `limit` per period."""
    shutil.copytree(
        ROOT / "dispatcher", target, ignore=shutil.ignore_patterns("python_modules", "tests", "__pycache__")
    )
    path = target / "wrangler.jsonc"
    config = jsonc.load(path)
    (limiter,) = config["env"]["development"]["ratelimits"]
    limiter["simple"]["limit"] = limit
    path.write_text(json.dumps(config, indent=2))
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    dispatcher = dispatcher_with_limit(tmp_path_factory.mktemp("copy") / "dispatcher", LIMIT)
    configs = [dispatcher, ROOT / "workers" / "db" / "wrangler.jsonc", ROOT / "workers" / "auth" / "wrangler.jsonc"]
    environ = dict(os.environ) | SECRETS
    state = tmp_path_factory.mktemp("state")
    async with LocalPlatform(ROOT, configs=configs, state_dir=state, port=0, environ=environ) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as client:
        yield client


def refusals_logged_by_auth(platform):
    lines = [json.loads(line) for line in platform.processes["auth"].output if line.startswith("{")]
    return [line for line in lines if line.get("event") == "credential_refused"]


async def settled_refusals(platform, expected, *, wait=5.0):
    """Auth's refusal lines once `expected` arrived (its output is read asynchronously), or after `wait`."""
    deadline = asyncio.get_running_loop().time() + wait
    while len(found := refusals_logged_by_auth(platform)) < expected and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return found


async def test_guessed_keys_at_db_spend_the_budget_and_the_next_never_reaches_auth(http, platform):
    guesses = [
        await http.get(
            "/things",
            headers=DB | {"authorization": f"Bearer sk_live_{n:016d}_" + "C" * 43, "x-request-id": f"trace-fd-{n}"},
        )
        for n in range(LIMIT + 1)
    ]
    assert [g.status_code for g in guesses] == [401] * LIMIT + [429]
    assert [g.json()["error"]["code"] for g in guesses[:LIMIT]] == ["INVALID_API_KEY"] * LIMIT
    refused = guesses[-1]
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert refused.json()["meta"]["request_id"] == f"trace-fd-{LIMIT}"
    assert refused.headers["retry-after"] == "60"
    assert len(await settled_refusals(platform, LIMIT)) == LIMIT  # one auth lookup per admitted guess
    await asyncio.sleep(0.5)
    refusals = refusals_logged_by_auth(platform)
    assert len(refusals) == LIMIT  # and none for the refused one
    assert f"trace-fd-{LIMIT}" not in "\n".join(platform.processes["db"].output)  # it never reached db


async def test_every_host_and_path_shares_the_spent_budget(http):
    for headers, path in [
        ({"host": "auth.do"}, "/health"),
        ({"host": "db.do"}, "/health"),
        ({}, "/api/db/health"),
        ({"host": "missing.do"}, "/health"),
    ]:
        reply = await http.get(path, headers=headers)
        assert reply.status_code == 429, (headers, path)
        assert reply.json()["error"]["code"] == "RATE_LIMITED"


async def test_a_client_sent_address_does_not_buy_a_new_budget(http):
    # The front door replaces CF-Connecting-IP with the TCP peer's address, as Cloudflare's edge does.
    reply = await http.get("/health", headers={"host": "db.do", "cf-connecting-ip": "203.0.113.99"})
    assert reply.status_code == 429
