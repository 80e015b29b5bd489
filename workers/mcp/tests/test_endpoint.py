"""mcp's HTTP face: credentials through AUTH_SERVICE, the OAuth metadata, both protocol generations, bad input."""

import json

from conftest import ADMIN, META, MODERN, READER, rpc

from dotdo_dev.testing import bearer


async def test_no_credentials_is_401_naming_the_protected_resource_metadata(worker):
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, bearer("forged-token"), {"authorization": "Basic abc"}):
        reply = await worker.fetch("/mcp", method="POST", json=message, headers=headers)
        assert reply.status == 401
        challenge = reply.headers.get("www-authenticate")
        assert challenge.startswith('Bearer realm="dotdo"')
        assert challenge.endswith('resource_metadata="http://mcp.do/.well-known/oauth-protected-resource"')
        assert (await reply.json())["error"]["code"] in ("UNAUTHORIZED", "INVALID_TOKEN")


async def test_the_metadata_names_the_auth_service_and_needs_no_token(worker):
    reply = await worker.fetch("/.well-known/oauth-protected-resource")
    assert reply.status == 200
    assert await reply.json() == {
        "resource": "http://mcp.do",
        "authorization_servers": ["http://auth.do"],
        "bearer_methods_supported": ["header"],
        "resource_name": "mcp",
    }
    health = await worker.fetch("/health")
    assert (await health.json())["data"] == {"service": "mcp", "status": "ok", "version": "0.1.0"}


async def test_the_credentials_are_checked_by_the_auth_service(worker, auth):
    status, _ = await rpc(worker, "tools/list", headers=READER)
    assert status == 200
    assert auth.calls == ["reader-token"]


async def test_the_handshake_revisions(worker):
    status, reply = await rpc(worker, "initialize", {"protocolVersion": "2025-06-18"}, headers=READER)
    result = reply["result"]
    assert (status, result["protocolVersion"], result["serverInfo"]["name"]) == (200, "2025-06-18", "mcp")
    assert set(result["capabilities"]) == {"tools", "resources", "prompts"}
    assert "db_get" in result["instructions"]
    note = await worker.fetch(
        "/mcp", method="POST", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=READER
    )
    assert note.status == 202
    assert (await rpc(worker, "ping", headers=READER))[1]["result"] == {}


async def test_the_stateless_revision(worker):
    status, reply = await rpc(worker, "server/discover", headers=READER, modern=True)
    result = reply["result"]
    assert (status, result["resultType"], result["supportedVersions"][0]) == (200, "complete", MODERN)
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "mcp"
    status, reply = await rpc(worker, "initialize", {"protocolVersion": MODERN}, headers=READER, modern=True)
    assert (status, reply["error"]["code"]) == (404, -32601)


async def test_unknown_methods_wrong_headers_and_bad_bodies(worker):
    status, reply = await rpc(worker, "tools/unknown", headers=READER)
    assert (status, reply["error"]["code"]) == (200, -32601)
    status, reply = await rpc(worker, "tools/unknown", headers=READER, modern=True)
    assert (status, reply["error"]["code"]) == (404, -32601)
    message = {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": META}}
    wrong = {"mcp-protocol-version": MODERN, "mcp-method": "tools/call"}
    reply = await worker.fetch("/mcp", method="POST", json=message, headers=READER | wrong)
    assert (reply.status, (await reply.json())["error"]["code"]) == (400, -32020)
    unsupported = {"mcp-protocol-version": "2099-01-01", "mcp-method": "tools/list"}
    reply = await worker.fetch("/mcp", method="POST", json=message, headers=READER | unsupported)
    assert (reply.status, (await reply.json())["error"]["code"]) == (400, -32022)
    reply = await worker.fetch("/mcp", method="POST", body="{not json", headers=READER)
    assert (reply.status, (await reply.json())["error"]["code"]) == (400, -32700)
    huge = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * (1024 * 1024)}})
    reply = await worker.fetch("/mcp", method="POST", body=huge, headers=READER)
    assert reply.status == 413
    for method in ("GET", "DELETE"):
        reply = await worker.fetch("/mcp", method=method, headers=ADMIN)
        assert (reply.status, reply.headers.get("allow")) == (405, "POST")
