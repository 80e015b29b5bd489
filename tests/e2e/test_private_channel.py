"""The channel between the platform's processes is private (issue #10).

Services trust the gateway's `X-Dotdo-Principal`. A request sent straight to a worker's Unix socket
must not be able to carry one: only the platform's own calls (with the per-run token) may. And the
sockets themselves are reachable by the account running the platform only.
"""

import json
import os
import shutil
import stat
import subprocess
import uuid

import httpx
import pytest
import pytest_asyncio
from conftest import running_platform

from dotdo_dev.runtime.peers import TOKEN_HEADER

pytestmark = pytest.mark.asyncio(loop_scope="module")

FORGED = json.dumps({"id": "usr_x", "type": "user", "role": "admin", "permissions": ["*"]})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    async with running_platform(tmp_path_factory.mktemp("state"), "db", "auth") as running:
        yield running


def direct(platform, worker):
    """An HTTP client on `worker`'s socket, as any local process could open one, without the token."""
    transport = httpx.AsyncHTTPTransport(uds=str(platform.peers.socket_path(worker)))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{worker}.do", timeout=10)


async def test_a_forged_principal_on_a_worker_socket_is_not_honoured(platform):
    async with direct(platform, "db") as db, direct(platform, "auth") as auth:
        listed = await db.get("/things", headers={"X-Dotdo-Principal": FORGED})
        created = await auth.post(
            "/apikeys", headers={"X-Dotdo-Principal": FORGED}, json={"name": "backdoor", "permissions": ["*"]}
        )
    for reply in (listed, created):
        assert reply.status_code == 401, reply.text
        assert reply.json()["success"] is False
        assert reply.json()["error"]["code"] == "UNAUTHORIZED"


async def test_a_wrong_token_does_not_make_a_request_internal(platform):
    async with direct(platform, "db") as db:
        reply = await db.get("/things", headers={"X-Dotdo-Principal": FORGED, TOKEN_HEADER: "x" * 43})
        odd = await db.get("/things", headers={"X-Dotdo-Principal": FORGED, TOKEN_HEADER: "é".encode("latin-1")})
    assert reply.status_code == odd.status_code == 401


async def test_the_platforms_own_calls_still_carry_the_principal(platform):
    # The same header on the platform's path (with its token) is honoured: this is how the gateway reaches db.
    async with direct(platform, "db") as db:
        reply = await db.get("/things", headers={"X-Dotdo-Principal": FORGED, TOKEN_HEADER: platform.token})
    assert reply.status_code == 200, reply.text
    assert reply.json()["success"] is True


async def test_sockets_and_their_folder_are_private_to_this_account(platform):
    folder = platform.sockets.stat()
    assert stat.S_IMODE(folder.st_mode) == 0o700
    assert folder.st_uid == os.getuid()
    sockets = sorted(platform.sockets.glob("*.sock"))
    assert {p.stem for p in sockets} == {"db", "auth"}  # the dispatcher runs in the platform's own process
    for path in sockets:
        info = path.stat()
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o600, path
        assert info.st_uid == os.getuid()


CONNECT = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(type(exc).__name__)
else:
    print("connected")
"""


@pytest.fixture
def other_account():
    """A throw-away local account (needs root and useradd)."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("creating another local account needs root, useradd and runuser")
    name = f"dotdo{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


async def test_another_account_cannot_connect_to_a_worker(platform, other_account):
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "/usr/bin/python3"
    socket_path = str(platform.peers.socket_path("db"))
    probe = subprocess.run(
        ["runuser", "-u", other_account, "--", python, "-c", CONNECT, socket_path],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert probe.stdout.strip() == "PermissionError", probe.stdout + probe.stderr
    # The same probe as this account connects: the refusal above is the operating system's, not a broken socket.
    mine = subprocess.run([python, "-c", CONNECT, socket_path], capture_output=True, text=True, timeout=30, check=False)
    assert mine.stdout.strip() == "connected", mine.stdout + mine.stderr
