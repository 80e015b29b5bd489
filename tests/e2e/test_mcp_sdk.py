"""Both lines of the official MCP Python SDK against the local platform, over loopback HTTP (issue #15).

- mcp 2.x `Client(url)` runs in a process of its own (`mcp2_client.py`, with the 2.x SDK that `make test`
  installs into .cache/mcp2 first on PYTHONPATH): it probes `server/discover` and must stay on the
  stateless revision 2026-07-28, so no `initialize` may reach the server.
- mcp 1.x `streamable_http_client` + `ClientSession` runs in this process: the handshake, 2025-11-25.

A recording proxy on loopback (`Recorder`) stands between the clients and the platform, so the tests see
what each client sent: `http://127.0.0.1:<port>/<svc>/mcp` goes to the platform's `/api/<svc>/mcp`, and
every request's JSON-RPC method and MCP headers are noted.
"""

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import uvicorn
from conftest import ROOT, new_key, running_platform
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

MCP2 = ROOT / ".cache" / "mcp2"
DRIVER = Path(__file__).with_name("mcp2_client.py")
MODERN, HANDSHAKE = "2026-07-28", "2025-11-25"
#: Response headers the proxy does not copy (httpx has decoded the body; the server sets its own length).
HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}


class Recorder:
    """A loopback HTTP proxy to the platform that notes each request: `/<svc>/<path>` -> `/api/<svc>/<path>`."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.seen: list[dict] = []
        self.url = ""

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        service, _, rest = scope["path"].lstrip("/").partition("/")
        try:
            message = json.loads(body) if body else None
        except ValueError:
            message = None
        self.seen.append(
            {
                "service": service,
                "http": scope["method"],
                "rpc": message.get("method") if isinstance(message, dict) else None,
                "version": headers.get("mcp-protocol-version"),
                "mcp_method": headers.get("mcp-method"),
                "mcp_name": headers.get("mcp-name"),
                "session": headers.get("mcp-session-id"),
            }
        )
        forwarded = {k: v for k, v in headers.items() if k not in {"host", "content-length"}}
        async with httpx.AsyncClient(timeout=60) as client:
            reply = await client.request(
                scope["method"], f"{self.target}/api/{service}/{rest}", headers=forwarded, content=body
            )
        out = [(k.encode(), v.encode()) for k, v in reply.headers.items() if k.lower() not in HOP_BY_HOP]
        out.append((b"content-length", str(len(reply.content)).encode()))
        await send({"type": "http.response.start", "status": reply.status_code, "headers": out})
        await send({"type": "http.response.body", "body": reply.content})

    def since(self, mark: int, service: str) -> list[dict]:
        return [seen for seen in self.seen[mark:] if seen["service"] == service]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    if not (MCP2 / ".installed").is_file():
        pytest.fail(f"the MCP SDK 2.x test peer is not installed in {MCP2}: run `make .cache/mcp2/.installed`")
    async with running_platform(tmp_path_factory.mktemp("state"), "auth", "db") as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorder(platform):
    recording = Recorder(platform.url)
    server = uvicorn.Server(uvicorn.Config(recording, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    recording.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    yield recording
    server.should_exit = True
    await serving


async def mcp2(url: str, key: str, **scenario) -> dict:
    """What the 2.x `Client` saw running `scenario` (mcp2_client.py) against `url` with `key`."""
    request = {"url": url, "headers": {"authorization": f"Bearer {key}"}} | scenario
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(DRIVER),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(MCP2)),
    )
    out, err = await asyncio.wait_for(process.communicate(json.dumps(request).encode()), 120)
    assert process.returncode == 0, err.decode()[-3000:]
    return json.loads(out)


@contextlib.asynccontextmanager
async def mcp1(url: str, key: str):
    """An initialized 1.x `ClientSession` to `url` with `key` (its `init` is the InitializeResult)."""
    async with (
        create_mcp_http_client(headers={"authorization": f"Bearer {key}"}) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        session.init = await session.initialize()
        yield session


# -- a service's own /mcp ---------------------------------------------------------------------------------


async def test_the_2x_client_stays_on_2026_07_28_at_a_services_own_endpoint(platform, recorder):
    key = await new_key(platform, ["db:read", "db:write"])
    mark = len(recorder.seen)
    upsert = {"ns": "sdk", "id": "two", "type": "Note", "content": "written by mcp 2.x"}
    report = await mcp2(
        f"{recorder.url}/db/mcp",
        key,
        calls=[
            {"name": "db_upsert", "arguments": upsert},
            {"name": "db_get", "arguments": {"ns": "sdk", "id": "two"}},
            {"name": "db_get", "arguments": {"ns": "sdk"}},  # invalid arguments: a tool error
            {"name": "db_nope", "arguments": {}},  # unknown tool: a protocol error
        ],
    )
    assert report["sdk"].startswith("2.")
    assert report["protocol_version"] == MODERN
    assert report["server_info"]["name"] == "db"
    assert {t["name"] for t in report["tools"]} >= {"db_get", "db_upsert", "db_search"}
    created, got, invalid, unknown = report["calls"]
    assert (created["is_error"], created["structured"]["created"]) == (False, True)
    assert got["structured"]["content"] == "written by mcp 2.x"
    assert (invalid["is_error"], invalid["structured"]["code"]) == (True, "VALIDATION_ERROR")
    assert unknown["error"]["code"] == -32602
    seen = recorder.since(mark, "db")
    assert seen[0]["rpc"] == "server/discover"
    assert "initialize" not in [s["rpc"] for s in seen]  # no fallback to the handshake
    assert all(s["http"] == "POST" and s["version"] == MODERN for s in seen)  # no GET stream, no DELETE
    assert all(s["mcp_method"] == s["rpc"] for s in seen)
    assert all(s["session"] is None for s in seen)
    assert [s["mcp_name"] for s in seen if s["rpc"] == "tools/call"] == ["db_upsert", "db_get", "db_get", "db_nope"]


async def test_the_1x_client_negotiates_2025_11_25_at_a_services_own_endpoint(platform, recorder):
    key = await new_key(platform, ["db:read"])
    mark = len(recorder.seen)
    async with mcp1(f"{recorder.url}/db/mcp", key) as session:
        assert session.init.protocolVersion == HANDSHAKE
        assert session.init.serverInfo.name == "db"
        await session.send_ping()
        names = [t.name for t in (await session.list_tools()).tools]
        assert "db_get" in names
        assert "db_upsert" not in names  # db:read only: the write tools are hidden
        refused = await session.call_tool("db_upsert", {"ns": "sdk", "id": "one"})
        assert (refused.isError, refused.structuredContent["code"]) == (True, "FORBIDDEN")
    seen = recorder.since(mark, "db")
    assert [s["rpc"] for s in seen if s["http"] == "POST"][:2] == ["initialize", "notifications/initialized"]
    assert "server/discover" not in [s["rpc"] for s in seen]
    assert {s["version"] for s in seen[1:] if s["http"] == "POST"} == {HANDSHAKE}


async def test_no_credentials_is_a_401_that_names_the_protected_resource_metadata(platform, recorder):
    async with httpx.AsyncClient(base_url=platform.url) as http:
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        refused = await http.post("/mcp", json=message, headers={"host": "db.localhost"})
        assert refused.status_code == 401
        challenge = refused.headers["www-authenticate"]
        assert 'resource_metadata="http://db.localhost/.well-known/oauth-protected-resource"' in challenge
        document = await http.get("/.well-known/oauth-protected-resource", headers={"host": "db.localhost"})
        assert document.status_code == 200
        assert document.json()["authorization_servers"] == ["http://auth.localhost"]
