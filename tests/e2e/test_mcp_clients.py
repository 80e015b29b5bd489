"""The official MCP client (Python SDK, 1.x line) against the services' MCP endpoints on the local platform.

db's and auth's tools are reached by path (`/api/<svc>/mcp`, through the dispatcher) and through
the gateway (`/db/mcp`), with API keys; each tool checks the caller's permissions itself.
"""

import contextlib

import pytest
import pytest_asyncio
from conftest import new_key, running_platform
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    async with running_platform(tmp_path_factory.mktemp("state"), "gateway", "db", "auth") as running:
        yield running


@contextlib.asynccontextmanager
async def mcp_session(url, key, **headers):
    """An initialized MCP client session to `url` with a bearer key (the SDK's streamable HTTP transport)."""
    async with (
        create_mcp_http_client(headers={"authorization": f"Bearer {key}", **headers}) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        session.init = await session.initialize()
        yield session


async def test_db_tools_through_the_official_client(platform):
    writer = await new_key(platform, ["db:read", "db:write"])
    async with mcp_session(f"{platform.url}/api/db/mcp", writer) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == {"db_get", "db_list", "db_search", "db_upsert", "db_delete", "db_stats"}
        assert tools["db_get"].inputSchema["required"] == ["ns", "id"]
        upserted = await session.call_tool(
            "db_upsert", {"ns": "mcp", "id": "n1", "type": "Note", "content": "model context protocol"}
        )
        assert upserted.isError is False
        assert upserted.structuredContent["created"] is True
        got = await session.call_tool("db_get", {"ns": "mcp", "id": "n1"})
        principal = await platform.peers.rpc("auth", None, "validate_api_key", [writer], {})
        via_rpc = await platform.peers.rpc("db", None, "get_thing", [principal, "mcp", "n1"], {})
        assert got.structuredContent == dict(via_rpc)
        found = await session.call_tool("db_search", {"q": "context"})
        assert [t["id"] for t in found.structuredContent["items"]] == ["n1"]
        invalid = await session.call_tool("db_get", {"ns": "mcp"})
        assert invalid.isError is True
        assert '"VALIDATION_ERROR"' in invalid.content[0].text


async def test_the_negotiated_revision_and_server_name(platform):
    reader = await new_key(platform, ["db:read"])
    async with mcp_session(f"{platform.url}/api/db/mcp", reader) as session:
        assert session.init.protocolVersion == "2025-11-25"
        assert session.init.serverInfo.name == "db"


async def test_a_reader_through_the_gateway_can_read_but_not_write(platform):
    reader = await new_key(platform, ["db:read"])
    async with mcp_session(f"{platform.url}/db/mcp", reader, host="gateway.do") as session:
        stats = await session.call_tool("db_stats", {})
        assert stats.isError is False
        assert stats.structuredContent["schema_version"] == 3
        refused = await session.call_tool("db_upsert", {"ns": "mcp", "id": "n2"})
        assert refused.isError is True
        assert '"FORBIDDEN"' in refused.content[0].text
    admin = {"id": "usr_e2e_admin", "role": "admin", "permissions": ["*"]}  # sees everything there is
    with pytest.raises(Exception, match="NOT_FOUND"):
        await platform.peers.rpc("db", None, "get_thing", [admin, "mcp", "n2"], {})


async def test_auth_tools_through_the_official_client(platform):
    manager = await new_key(platform, ["apikeys:read", "apikeys:write", "db:read"])
    async with mcp_session(f"{platform.url}/api/auth/mcp", manager) as session:
        created = await session.call_tool("auth_create_api_key", {"name": "agent", "permissions": ["db:read"]})
        assert created.isError is False
        made = created.structuredContent["key"]
        principal = await platform.peers.rpc("auth", None, "validate_api_key", [made], {})
        assert principal["permissions"] == ["db:read"]
        escalation = await session.call_tool("auth_create_api_key", {"name": "x", "permissions": ["deploy"]})
        assert escalation.isError is True
