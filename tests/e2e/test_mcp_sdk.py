"""Both lines of the official MCP Python SDK against the local platform, over loopback HTTP (issue #15):
a service's own `/mcp` (db's) and the aggregator's (the mcp service: every service's tools, resources, prompts).

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
    state = tmp_path_factory.mktemp("state")
    async with running_platform(state, "auth", "db", "deploy", "mcp", cloudflare_api_port=0) as running:
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


# -- the aggregator: workers/mcp -----------------------------------------------------------------------------


async def operator_key(platform) -> str:
    """A key that may read and write db, read its own API keys and list deployments."""
    return await new_key(platform, ["db:read", "db:write", "apikeys:read", "deploy"], grants=["deploy"])


async def test_the_2x_client_uses_every_service_through_the_aggregator_on_2026_07_28(platform, recorder):
    key = await operator_key(platform)
    mark = len(recorder.seen)
    report = await mcp2(
        f"{recorder.url}/mcp/mcp",
        key,
        calls=[
            {"name": "db_upsert", "arguments": {"ns": "agg", "id": "n1", "type": "Note", "content": "via mcp"}},
            {"name": "db_get", "arguments": {"ns": "agg", "id": "n1"}},
            {"name": "auth_list_api_keys", "arguments": {}},
            {"name": "deploy_rollback", "arguments": {"service": "orders", "environment": "staging"}},
        ],
        reads=["dotdo://platform/health", "dotdo://openapi/db", "dotdo://deployments/recent"],
        prompts=[{"name": "rollback_service", "arguments": {"service": "db", "environment": "staging"}}],
    )
    assert report["protocol_version"] == MODERN
    assert report["server_info"]["name"] == "mcp"
    tools = {t["name"]: t for t in report["tools"]}
    assert {"db_get", "db_upsert", "auth_list_api_keys", "deploy_list_deployments", "deploy_rollback"} <= set(tools)
    assert tools["db_get"]["input_schema"]["required"] == ["ns", "id"]
    assert not [name for name in tools if name.startswith(("email_", "queue_"))]  # not running here
    upserted, got, keys, rollback = report["calls"]
    assert (upserted["is_error"], got["structured"]["content"]) == (False, "via mcp")
    assert keys["is_error"] is False
    assert any(k["id"] for k in keys["structured"]["items"])
    assert (rollback["is_error"], rollback["structured"]["code"]) == (True, "NOTHING_TO_ROLL_BACK")
    health, openapi, deployments = report["reads"]
    services = json.loads(health[0]["text"])["services"]
    assert {name: services[name]["status"] for name in ("auth", "db", "deploy")} == dict.fromkeys(
        ("auth", "db", "deploy"), "ok"
    )
    assert services["queue"]["status"] == "unreachable"
    assert "/things/{ns}/{id}" in json.loads(openapi[0]["text"])["paths"]
    assert json.loads(deployments[0]["text"])["items"] == []
    assert "check_platform_health" in report["prompts"]
    assert "deploy_rollback" in report["prompt_results"][0][0]
    seen = recorder.since(mark, "mcp")
    assert seen[0]["rpc"] == "server/discover"
    assert "initialize" not in [s["rpc"] for s in seen]
    assert all(s["http"] == "POST" and s["version"] == MODERN and s["mcp_method"] == s["rpc"] for s in seen)


async def test_the_1x_client_uses_every_service_through_the_aggregator_on_2025_11_25(platform, recorder):
    key = await operator_key(platform)
    async with mcp1(f"{recorder.url}/mcp/mcp", key) as session:
        assert session.init.protocolVersion == HANDSHAKE
        assert session.init.serverInfo.name == "mcp"
        names = [t.name for t in (await session.list_tools()).tools]
        assert {"db_get", "auth_list_api_keys", "deploy_list_deployments"} <= set(names)
        await session.call_tool("db_upsert", {"ns": "agg", "id": "n2", "type": "Note", "content": "v1 client"})
        got = await session.call_tool("db_get", {"ns": "agg", "id": "n2"})
        assert (got.isError, got.structuredContent["content"]) == (False, "v1 client")
        keys = await session.call_tool("auth_list_api_keys", {})
        assert keys.isError is False
        resources = [str(r.uri) for r in (await session.list_resources()).resources]
        assert "dotdo://deployments/recent" in resources
        health = await session.read_resource("dotdo://platform/health")
        assert json.loads(health.contents[0].text)["services"]["db"]["status"] == "ok"
        prompts = [p.name for p in (await session.list_prompts()).prompts]
        assert "rollback_service" in prompts
        prompt = await session.get_prompt("check_platform_health")
        assert "dotdo://platform/health" in prompt.messages[0].content.text


async def test_a_principal_lacking_permissions_sees_fewer_tools_and_gets_forbidden(platform, recorder):
    reader = await new_key(platform, ["db:read"])
    report = await mcp2(
        f"{recorder.url}/mcp/mcp",
        reader,
        calls=[{"name": "db_upsert", "arguments": {"ns": "agg", "id": "n3"}}],
        reads=["dotdo://deployments/recent"],
    )
    names = {t["name"] for t in report["tools"]}
    assert "db_get" in names
    assert not names & {"db_upsert", "deploy_list_deployments", "deploy_rollback"}
    (refused,) = report["calls"]
    assert (refused["is_error"], refused["structured"]["code"]) == (True, "FORBIDDEN")
    assert "dotdo://deployments/recent" not in report["resources"]
    assert report["reads"][0]["error"]["code"] == -32602
    assert "rollback_service" not in report["prompts"]


async def test_the_aggregators_protocol_errors_over_http(platform):
    key = await operator_key(platform)
    url = f"{platform.url}/api/mcp/mcp"
    modern = {"mcp-protocol-version": MODERN, "mcp-method": "tools/list", "authorization": f"Bearer {key}"}
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    async with httpx.AsyncClient(timeout=60) as http:
        anonymous = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert anonymous.status_code == 401
        assert "resource_metadata=" in anonymous.headers["www-authenticate"]
        garbage = await http.post(url, content=b"{not json", headers={"authorization": f"Bearer {key}"})
        assert (garbage.status_code, garbage.json()["error"]["code"]) == (400, -32700)
        unknown = {"jsonrpc": "2.0", "id": 2, "method": "tools/nope", "params": {"_meta": meta}}
        reply = await http.post(url, json=unknown, headers=modern | {"mcp-method": "tools/nope"})
        assert (reply.status_code, reply.json()["error"]["code"]) == (404, -32601)
        mismatch = {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": meta}}
        reply = await http.post(url, json=mismatch, headers=modern | {"mcp-method": "tools/call"})
        assert (reply.status_code, reply.json()["error"]["code"]) == (400, -32020)
        bad_args = {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "db_get", "arguments": 5}}
        reply = await http.post(url, json=bad_args, headers={"authorization": f"Bearer {key}"})
        assert reply.json()["error"]["code"] == -32602
