"""What the gateway enforces on its own, whatever the service behind it would accept.

The service stand-in here answers 200 to anything, so a refusal can only come from the gateway, and
a refused request must never reach it. The rate limiter's clock is a fake one the tests move.
"""

import math
import types

import pytest
from conftest import ROOT
from workers import Request, Response

import rate_limiter
import routing
from dotdo_dev.testing import WorkerHarness
from shared.errors import Unauthorized, rpc_error

T0 = 1_800_000_000.4  # not a whole second: X-RateLimit-Reset and Retry-After round up

TOKENS = {
    "nothing": [],
    "reader": ["db:read"],
    "writer": ["db:read", "db:write"],
    "mcp-user": ["mcp:use"],
}


class Auth:
    """Answers like auth: each token of TOKENS is a principal with those permissions."""

    async def validate_token(self, token, request_id=None):
        if token not in TOKENS:
            raise rpc_error(Unauthorized("Invalid API key or token", code="INVALID_API_KEY"))
        return {"id": f"usr_{token}", "type": "user", "auth": "api_key", "permissions": list(TOKENS[token])}


class AcceptsAnything:
    """A service binding with no checks of its own: it records each request and answers 200."""

    def __init__(self):
        self.paths = []

    async def fetch(self, request, **options):
        if not isinstance(request, Request):
            request = Request(request, **options)
        self.paths.append((request.method, request.url))
        return Response.json({"success": True, "data": {"accepted": True}})


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(rate_limiter, "time", types.SimpleNamespace(time=fake.time))
    return fake


@pytest.fixture
def db():
    return AcceptsAnything()


@pytest.fixture
def mcp():
    return AcceptsAnything()


@pytest.fixture
def gateway(tmp_path, db, mcp):
    bindings = {"AUTH_SERVICE": Auth(), "DB_SERVICE": db, "MCP_SERVICE": mcp}
    return WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings, host="gateway.do")


def bearer(token):
    return {"authorization": f"Bearer {token}"}


async def test_a_write_without_the_write_permission_is_refused_403_before_the_service(gateway, db, clock):
    reply = await gateway.fetch("/db/things", method="POST", json={"id": "a"}, headers=bearer("reader"))
    body = await reply.json()
    assert reply.status == 403
    assert body["error"]["code"] == "FORBIDDEN"
    assert body["error"]["details"] == {"permission": "db:write"}
    assert db.paths == []  # the service, which would have accepted it, never saw it
    # the refusal still spent and reports the caller's budget
    assert reply.headers.get("x-ratelimit-remaining") == "59"
    assert reply.headers.get("x-ratelimit-reset") == str(math.ceil(T0 + 60))


async def test_a_read_without_the_read_permission_is_refused_403_before_the_service(gateway, db, clock):
    reply = await gateway.fetch("/db/things", headers=bearer("nothing"))
    body = await reply.json()
    assert (reply.status, body["error"]["code"]) == (403, "FORBIDDEN")
    assert body["error"]["details"] == {"permission": "db:read"}
    assert db.paths == []


async def test_a_principal_with_the_routes_permission_reaches_the_service(gateway, db, clock):
    assert (await gateway.fetch("/db/things", headers=bearer("reader"))).status == 200
    assert (await gateway.fetch("/db/things", method="POST", json={}, headers=bearer("writer"))).status == 200
    assert db.paths == [("GET", "http://gateway.do/things"), ("POST", "http://gateway.do/things")]


async def test_a_services_mcp_endpoint_is_open_to_its_read_permission_and_no_less(gateway, db, clock):
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "db_create", "arguments": {}}}
    # db:read reaches db's /mcp: each tool checks its own permission there (db:write for writes)
    reader = await gateway.fetch("/db/mcp", method="POST", json=call, headers=bearer("reader"))
    assert reader.status == 200
    assert db.paths == [("POST", "http://gateway.do/mcp")]
    refused = await gateway.fetch("/db/mcp", method="POST", json=call, headers=bearer("nothing"))
    assert refused.status == 403
    assert (await refused.json())["error"]["details"] == {"permission": "db:read"}
    assert len(db.paths) == 1


async def test_a_401_points_oauth_clients_at_the_protected_resource_metadata(gateway, db, clock):
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, bearer("forged")):
        refused = await gateway.fetch("/db/mcp", method="POST", json=call, headers=headers)
        assert refused.status == 401
        metadata = 'resource_metadata="http://gateway.do/.well-known/oauth-protected-resource"'
        assert refused.headers.get("www-authenticate").endswith(metadata)
    assert db.paths == []
    document = await gateway.fetch("/.well-known/oauth-protected-resource")  # no token needed
    assert document.status == 200
    assert await document.json() == {
        "resource": "http://gateway.do",
        "authorization_servers": ["http://auth.do"],
        "bearer_methods_supported": ["header"],
        "resource_name": "gateway",
    }


async def test_a_manifests_own_permissions_are_what_the_gateway_asks_for(gateway, mcp, clock, monkeypatch):
    # as the mcp service's manifest will say: [gateway] read = "mcp:use", write = "mcp:use"
    table = {"read": "mcp:use", "write": "mcp:use", "rate_class": "default", "public": []}
    entry = {"name": "mcp", "placement": "account", "binding": "MCP_SERVICE", "gateway": table}
    monkeypatch.setitem(routing.ROUTES, "mcp", routing.route_of(entry))
    for method, body in (("GET", None), ("POST", "{}")):
        refused = await gateway.fetch("/mcp/tools", method=method, body=body, headers=bearer("writer"))
        assert refused.status == 403, method
        assert (await refused.json())["error"]["details"] == {"permission": "mcp:use"}
    assert mcp.paths == []
    for method, body in (("GET", None), ("POST", "{}")):
        assert (await gateway.fetch("/mcp/tools", method=method, body=body, headers=bearer("mcp-user"))).status == 200
    assert [m for m, _ in mcp.paths] == ["GET", "POST"]


async def test_a_429_says_when_the_oldest_request_leaves_the_window(gateway, db, clock):
    first = await gateway.fetch("/db/things", headers=bearer("reader"))
    assert first.headers.get("x-ratelimit-limit") == "60"
    assert first.headers.get("x-ratelimit-remaining") == "59"
    assert first.headers.get("x-ratelimit-reset") == str(math.ceil(T0 + 60))
    clock.now = T0 + 20.5
    for _ in range(59):
        assert (await gateway.fetch("/db/things", headers=bearer("reader"))).status == 200
    clock.now = T0 + 30.75  # the first request leaves the window in 29.25 s
    refused = await gateway.fetch("/db/things", headers=bearer("reader"))
    body = await refused.json()
    assert (refused.status, body["error"]["code"]) == (429, "RATE_LIMITED")
    assert refused.headers.get("retry-after") == "30"  # rounded up, never early
    assert refused.headers.get("x-ratelimit-limit") == "60"
    assert refused.headers.get("x-ratelimit-remaining") == "0"
    assert refused.headers.get("x-ratelimit-reset") == str(math.ceil(T0 + 60))
    assert body["error"]["details"] == {"limit": 60, "window_seconds": 60}
    assert len(db.paths) == 60


async def test_a_429_a_moment_before_the_window_ends_says_retry_after_one_second(gateway, db, clock):
    for _ in range(60):
        assert (await gateway.fetch("/db/things", headers=bearer("reader"))).status == 200
    clock.now = T0 + 59.9
    refused = await gateway.fetch("/db/things", headers=bearer("reader"))
    assert refused.status == 429
    assert refused.headers.get("retry-after") == "1"
    clock.now = T0 + 60
    again = await gateway.fetch("/db/things", headers=bearer("reader"))
    assert again.status == 200
    # the 60 first hits left together: this one is the only one in the window now
    assert again.headers.get("x-ratelimit-remaining") == "59"
    assert again.headers.get("x-ratelimit-reset") == str(math.ceil(T0 + 120))
