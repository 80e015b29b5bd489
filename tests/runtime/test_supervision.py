"""The local platform restarts a worker that dies, says so, and reports it while it is down (issue #10).

The restart policy alone (backoff, crash loops) is tested with a stopped clock; the rest with the
real platform: real processes killed with SIGKILL, real HTTP on loopback, no file touched.
"""

import asyncio
import logging
import os
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest

from dotdo_dev.platform import LocalPlatform
from dotdo_dev.runtime.peers import WorkerDown
from dotdo_dev.supervision import CRASHED_ON_START, RESTARTING, RUNNING, RestartPolicy, WorkerHealth, exit_description

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "workers"
DISPATCHER = ROOT / "dispatcher" / "wrangler.jsonc"


# -- the policy ------------------------------------------------------------------------------------


def test_exit_descriptions_name_the_signal():
    assert exit_description(-9) == "signal SIGKILL"
    assert exit_description(-15) == "signal SIGTERM"
    assert exit_description(1) == "exit status 1"
    assert exit_description(0) == "exit status 0"


def test_restart_delays_double_to_five_seconds_and_start_over_after_a_healthy_run():
    health = WorkerHealth(RestartPolicy())
    delays, now = [], 0.0
    for _ in range(8):
        health.spawned(now)
        health.ready()
        now += 1.0  # a short run
        delays.append(health.exited(-9, was_ready=True, now=now, output=[]))
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert health.status == RESTARTING
    assert health.restarts == 8
    assert health.last_exit == "signal SIGKILL"
    health.spawned(now)
    health.ready()
    now += 60.0  # ran healthily for a minute
    assert health.exited(-9, was_ready=True, now=now, output=[]) == 0.1


def test_five_crashes_on_start_within_a_minute_are_retried_every_30_seconds():
    health = WorkerHealth(RestartPolicy())
    now, delays = 0.0, []
    for _ in range(5):
        health.spawned(now)
        now += 0.5
        delays.append(health.exited(1, was_ready=False, now=now, output=["Traceback", "ImportError: nope"]))
    assert delays == [0.1, 0.2, 0.4, 0.8, 30.0]
    assert health.crash_looping
    described = health.describe(now)
    assert described["status"] == CRASHED_ON_START
    assert described["output"][-1] == "ImportError: nope"
    assert described["retry_in_seconds"] == 30.0
    assert described["restarts"] == 5
    health.edited()  # a saved file: a fresh try
    assert not health.crash_looping
    health.spawned(now)
    assert health.exited(1, was_ready=False, now=now + 1, output=[]) == 0.1


def test_crashes_spread_over_more_than_a_minute_are_not_a_loop():
    health = WorkerHealth(RestartPolicy(limit=0.1))
    now = 0.0
    for _ in range(10):
        health.spawned(now)
        now += 20.0
        assert health.exited(1, was_ready=False, now=now, output=[]) == 0.1
    assert not health.crash_looping


# -- the real platform ------------------------------------------------------------------------------


async def answers(client, url, host, seconds):
    """Seconds until `GET url` with `Host: host` answers 200 (fails after `seconds`)."""
    started = time.monotonic()
    async with asyncio.timeout(seconds):
        while True:
            try:
                if (await client.get(url, headers={"Host": host})).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def status_becomes(platform, name, status, seconds=10):
    async with asyncio.timeout(seconds):
        while platform.describe()["workers"][name]["status"] != status:
            await asyncio.sleep(0.02)
    return platform.describe()["workers"][name]


@pytest.mark.slow
async def test_a_killed_worker_answers_again_within_5_seconds_and_the_log_says_so(tmp_path, caplog):
    configs = [DISPATCHER, FIXTURES / "callee" / "wrangler.jsonc"]
    caplog.set_level(logging.INFO, logger="dotdo.platform")
    async with (
        LocalPlatform(ROOT, configs=configs, state_dir=tmp_path / "state", port=0) as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=5) as client,
    ):
        assert (await client.get("/health", headers={"Host": "callee.do"})).status_code == 200
        name = "callee"  # the dispatcher runs in the platform's own process: test_resident_dispatcher.py
        pid = platform.processes[name].process.pid
        os.kill(pid, signal.SIGKILL)
        elapsed = await answers(client, "/health", "callee.do", 5)
        assert elapsed < 5
        described = await status_becomes(platform, name, RUNNING)
        assert described["restarts"] == 1
        assert described["last_exit"] == "signal SIGKILL"
        assert described["pid"] != pid
        messages = [r.getMessage() for r in caplog.records]
        assert f"worker {name!r} exited unexpectedly (signal SIGKILL); restarting in 0.1 s" in messages
        assert f"worker {name!r} is running again (restart 1)" in messages
        state = platform.describe()["state"]
        assert not state.startswith("/")


@pytest.mark.slow
async def test_a_restarting_worker_is_reported_and_answers_a_503_envelope(tmp_path):
    configs = [DISPATCHER, FIXTURES / "caller" / "wrangler.jsonc", FIXTURES / "callee" / "wrangler.jsonc"]
    async with (
        LocalPlatform(ROOT, configs=configs, state_dir=tmp_path / "state", port=0) as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=5) as client,
    ):
        platform.health["callee"].policy = RestartPolicy(first=2.0)  # long enough to look at it while down
        os.kill(platform.processes["callee"].process.pid, signal.SIGKILL)
        described = await status_becomes(platform, "callee", RESTARTING)
        assert described["restarts"] == 1
        assert described["last_exit"] == "signal SIGKILL"
        assert 0 < described["retry_in_seconds"] <= 2.0
        assert "pid" not in described
        reply = await client.get("/health", headers={"Host": "callee.do"})
        assert reply.status_code == 503
        assert reply.headers["retry-after"] == "1"
        body = reply.json()
        assert body["success"] is False
        assert body["error"]["code"] == "WORKER_RESTARTING"
        assert body["error"]["details"] == {"worker": "callee"}
        assert "Traceback" not in reply.text
        # Through a service binding (the caller's fetch), the same 503 arrives.
        via = await client.get("/via-binding", headers={"Host": "caller.do"})
        assert via.json()["status"] == 503
        # RPC and cron raise, with the 503 error a caller's shared.rpc.call turns back into WORKER_RESTARTING.
        with pytest.raises(Exception, match="WORKER_RESTARTING"):
            await platform.peers.rpc("caller", None, "call", ("greeting", []), {})
        with pytest.raises(WorkerDown):
            await platform.peers.scheduled("callee", "* * * * *")
        await answers(client, "/health", "callee.do", 10)
        # The new process answers on its socket as soon as the socket appears; the platform marks it running
        # when it has read the process's ready line, a moment later (under load, after the first answer).
        assert (await status_becomes(platform, "callee", RUNNING, seconds=5))["status"] == RUNNING


@pytest.mark.slow
async def test_a_worker_that_keeps_crashing_on_start_is_reported_and_not_retried_in_a_hot_loop(tmp_path, caplog):
    worker = tmp_path / "hello"
    shutil.copytree(FIXTURES / "hello", worker)
    entry = worker / "src" / "entry.py"
    good = entry.read_text()
    configs = [DISPATCHER, worker / "wrangler.jsonc"]
    caplog.set_level(logging.INFO, logger="dotdo.platform")
    platform = LocalPlatform(
        ROOT, configs=configs, state_dir=tmp_path / "state", port=0, watch=True, watch_interval=0.2
    )
    async with platform, httpx.AsyncClient(base_url=platform.url, timeout=5) as client:
        assert (await client.get("/", headers={"Host": "hello.do"})).text == "hello"
        await asyncio.sleep(0.5)  # the watcher has taken its first look
        entry.write_text("import not_a_module_anywhere\n")  # saved: the reload crashes on start, again and again
        async with asyncio.timeout(30):
            while not platform.describe()["workers"]["hello"].get("crash_looping"):
                await asyncio.sleep(0.1)
        described = platform.describe()["workers"]["hello"]
        assert described["status"] == CRASHED_ON_START
        assert described["restarts"] >= 5
        assert described["last_exit"] == "exit status 1"
        assert described["retry_in_seconds"] > 20
        assert any("not_a_module_anywhere" in line for line in described["output"])
        assert not any(str(tmp_path) in line or str(ROOT) in line for line in described["output"])
        messages = [r.getMessage() for r in caplog.records]
        assert any(
            m.startswith("worker 'hello' crashed on start (exit status 1) 5 times within 60 s; retrying every 30 s")
            for m in messages
        )
        restarts = described["restarts"]
        await asyncio.sleep(1.5)
        assert platform.describe()["workers"]["hello"]["restarts"] == restarts  # no hot loop
        broken = await client.get("/", headers={"Host": "hello.do"})
        assert broken.status_code == 502  # a broken worker, as before: not a transient 503
        assert broken.json()["error"]["code"] == "WORKER_ERROR"
        entry.write_text(good)  # the next save starts it at once, not in 30 s
        assert await answers(client, "/", "hello.do", 10) < 10
        assert platform.describe()["workers"]["hello"]["status"] == RUNNING
