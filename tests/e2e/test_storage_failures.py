"""Storage that stops taking writes at run time: every write answers a 503 envelope naming the problem.

The platform's state lives on a small tmpfs of its own, filled to the last byte while the platform
runs, as a full disk would be. Needs root and `mount` (skipped otherwise). (A read-only remount is
refused while the workers hold their databases open, so "full" is the failure tested here; the
start-time check covers a read-only or missing state folder.)
"""

import contextlib
import os
import shutil
import subprocess

import httpx
import pytest
import pytest_asyncio
from conftest import BOOTSTRAP, running_platform

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount to give the state a disk of its own")
    folder = tmp_path_factory.mktemp("disk")
    mounted = _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(small_disk):
    async with running_platform(small_disk / "state", "auth", "db", "gateway") as running:
        yield running


def _fill(folder):
    """Write a file until the disk is full; returns its path (delete it to give the space back)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1024 * 1024, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


async def test_writes_to_a_full_disk_answer_503_and_nothing_answers_500(platform, small_disk):
    headers = {"Authorization": f"Bearer {BOOTSTRAP}"}
    thing = {"ns": "docs", "id": "a", "type": "Note", "content": "before"}
    async with httpx.AsyncClient(base_url=platform.url, timeout=20) as http:
        created = await http.post("/things", json=thing, headers=headers | {"Host": "db.do"})
        assert created.status_code in (200, 201), created.text
        filler = _fill(small_disk)
        try:
            big = {"ns": "docs", "id": "b", "type": "Note", "content": "x" * 200_000}
            writes = [
                await http.post("/things", json=big | {"id": f"b{i}"}, headers=headers | {"Host": "db.do"})
                for i in range(5)
            ]
            through_gateway = await http.get("/db/things/docs/a", headers=headers | {"Host": "gateway.do"})
            deep = (await http.get("/health?deep=1", headers={"Host": "db.do"})).json()["data"]
            gateway_deep = (await http.get("/health?deep=1", headers={"Host": "gateway.do"})).json()["data"]
        finally:
            filler.unlink()
        after = await http.post("/things", json=thing | {"id": "c"}, headers=headers | {"Host": "db.do"})
    refused = [w for w in writes if w.status_code != 201]
    assert refused, "the disk never filled"
    for write in refused:
        assert write.status_code == 503, write.text
        assert write.json()["error"]["code"] == "STORAGE_UNAVAILABLE"
        assert write.json()["error"]["message"] == "The storage is full"
    assert through_gateway.status_code in (200, 503), through_gateway.text
    if through_gateway.status_code == 503:
        assert through_gateway.json()["error"]["code"] == "STORAGE_UNAVAILABLE"
    assert after.status_code == 201, after.text  # space back: writes work again, nothing restarted
    # /health?deep=1 says what is wrong, and the gateway's deep health passes it on
    assert deep["status"] == "degraded"
    # the no-op write probe may still fit in the database's own free space: the failure is reported anyway
    assert deep["storage"]["recent_failure"]["problem"] == "The storage is full"
    assert gateway_deep["services"]["db"]["status"] == "degraded"
    assert gateway_deep["status"] == "degraded"
