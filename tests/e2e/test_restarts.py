"""A service killed under the gateway (issue #10): reported while it restarts, then back, with no file touched.

dispatcher -> gateway -> db and auth as `make dev` runs them; db's process is killed with SIGKILL.
"""

import asyncio
import os
import signal
import time

import httpx
import pytest
from conftest import new_key, running_platform

from dotdo_dev.supervision import RestartPolicy

GATEWAY = {"host": "gateway.do"}


@pytest.mark.slow
async def test_a_killed_service_is_reported_by_deep_health_and_answers_503_until_it_is_back(tmp_path):
    async with (
        running_platform(tmp_path / "state", "gateway", "db", "auth") as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=10) as http,
    ):
        reader = {"authorization": f"Bearer {await new_key(platform, ['db:read'])}"} | GATEWAY
        assert (await http.get("/db/things", headers=reader)).status_code == 200
        platform.health["db"].policy = RestartPolicy(first=2.0)  # long enough to look at it while it is down
        os.kill(platform.processes["db"].process.pid, signal.SIGKILL)
        killed = time.monotonic()
        async with asyncio.timeout(2):
            while platform.describe()["workers"]["db"]["status"] != "restarting":
                await asyncio.sleep(0.02)
        deep = (await http.get("/health?deep=1", headers=GATEWAY)).json()["data"]
        assert deep["status"] == "degraded"
        assert deep["services"]["db"] == {"status": "restarting", "http_status": 503, "code": "WORKER_RESTARTING"}
        direct = await http.get("/health", headers={"host": "db.do"})
        assert direct.status_code == 503
        assert direct.json()["error"]["code"] == "WORKER_RESTARTING"
        via_gateway = await http.get("/db/things", headers=reader)
        assert via_gateway.status_code == 503
        assert via_gateway.json()["success"] is False
        assert "Traceback" not in via_gateway.text
        async with asyncio.timeout(10):
            while (await http.get("/db/things", headers=reader)).status_code != 200:
                await asyncio.sleep(0.05)
        assert time.monotonic() - killed < 5 + 2  # the 2 s first delay chosen above, plus the 5 s it must take at most
        deep = (await http.get("/health?deep=1", headers=GATEWAY)).json()["data"]
        assert deep["services"]["db"]["status"] == "ok"
        assert platform.describe()["workers"]["db"]["last_exit"] == "signal SIGKILL"
