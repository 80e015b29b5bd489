"""The gateway on the local platform, as `make dev` runs it: dispatcher -> gateway -> auth and db.

Real worker processes and HTTP on loopback; the rate limiter is the gateway's Durable Object.
"""

import asyncio
import json

import httpx
import pytest
import pytest_asyncio
from conftest import BOOTSTRAP, new_key, running_platform

GATEWAY = {"host": "gateway.do"}

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    # every account-level service the gateway binds (the registry: placement = "account")
    services = ("gateway", "db", "auth", "deploy", "email", "queue", "schedule", "webhooks")
    async with running_platform(tmp_path_factory.mktemp("state"), *services) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    limits = httpx.Limits(max_connections=120, max_keepalive_connections=120)
    async with httpx.AsyncClient(base_url=platform.url, timeout=60, limits=limits) as client:
        yield client


async def log_lines(platform, worker, request_id, *, wait=5.0):
    """The JSON lines `worker` printed with `request_id` (its output is read asynchronously: poll a while)."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        lines = [json.loads(line) for line in platform.processes[worker].output if line.startswith("{")]
        found = [line for line in lines if line.get("request_id") == request_id]
        if found or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


def bearer(key):
    return GATEWAY | {"authorization": f"Bearer {key}"}


async def test_health_and_deep_health(http):
    reply = await http.get("/health", headers=GATEWAY)
    assert reply.status_code == 200
    assert reply.json()["data"]["service"] == "gateway"
    deep = (await http.get("/health?deep=1", headers=GATEWAY)).json()["data"]
    assert deep["services"] == {
        "db": {"status": "ok", "http_status": 200},
        "auth": {"status": "ok", "http_status": 200},
        "deploy": {"status": "ok", "http_status": 200},
        "email": {"status": "ok", "http_status": 200},
        "queue": {"status": "ok", "http_status": 200},
        "schedule": {"status": "ok", "http_status": 200},
        "webhooks": {"status": "ok", "http_status": 200},  # every service the gateway binds
    }


async def test_db_through_the_gateway_needs_a_key_and_its_permissions(http, platform):
    anonymous = await http.get("/db/things", headers=GATEWAY)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHORIZED"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    wrong = await http.get("/db/things", headers=bearer("sk_live_aaaaaaaaaaaaaaaa_" + "C" * 43))
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "INVALID_API_KEY")
    writer = await new_key(platform, ["db:read", "db:write"])
    created = await http.post(
        "/db/things",
        json={"ns": "gw", "id": "one", "content": "via gateway", "visibility": "public"},
        headers=bearer(writer),
    )
    assert created.status_code == 201
    # another user's private thing is not theirs to see (before owners, any reader listed it)
    secret = await http.post("/db/things", json={"ns": "gw", "id": "secret"}, headers=bearer(writer))
    assert (secret.status_code, secret.json()["data"]["visibility"]) == (201, "private")
    reader = await new_key(platform, ["db:read"])
    listed = await http.get("/db/things?ns=gw", headers=bearer(reader))
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["data"]] == ["one"]
    assert listed.json()["meta"]["total"] == 1
    assert listed.headers["x-ratelimit-limit"] == "60"
    # the service sees the same path through the gateway as through db.do
    direct = await http.get("/things?ns=gw", headers={"host": "db.do", "authorization": f"Bearer {reader}"})
    assert direct.json()["data"] == listed.json()["data"]
    denied = await http.post("/db/things", json={"ns": "gw", "id": "two"}, headers=bearer(reader))
    assert denied.status_code == 403
    assert denied.json()["error"]["details"] == {"permission": "db:write"}
    assert (await http.get("/db/things/gw/two", headers=bearer(reader))).status_code == 404
    hidden = await http.get("/db/things/gw/secret", headers=bearer(reader))
    missing = await http.get("/db/things/gw/nothing-here", headers=bearer(reader))
    assert hidden.status_code == missing.status_code == 404
    # the same answer as for an id that does not exist
    assert hidden.json()["error"] == {
        "code": "NOT_FOUND",
        "message": "No thing gw/secret",
        "details": {"ns": "gw", "id": "secret"},
    }
    assert missing.json()["error"]["code"] == "NOT_FOUND"
    searched = await http.get("/db/search?q=gateway", headers=bearer(reader))
    assert [t["id"] for t in searched.json()["data"]] == ["one"]
    assert (await http.get("/db/things/gw/secret", headers=bearer(writer))).status_code == 200


async def test_one_key_gets_exactly_its_limit_under_concurrency(http, platform):
    key = await new_key(platform, ["db:read"])
    replies = await asyncio.gather(*(http.get("/db/stats", headers=bearer(key)) for _ in range(100)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses.count(200) == 60
    assert statuses.count(429) == 40
    limited = next(r for r in replies if r.status_code == 429)
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-limit"] == "60"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) > 0
    # another key of the same user spends the same budget; another user has their own
    owner = (await platform.peers.rpc("auth", None, "validate_api_key", [key], {}))["id"]
    admin = await platform.peers.rpc("auth", None, "validate_api_key", [BOOTSTRAP], {})
    request = {"name": "second", "permissions": ["db:read"], "owner_id": owner}
    second = (await platform.peers.rpc("auth", None, "create_api_key", [admin, request], {}))["key"]
    assert (await http.get("/db/stats", headers=bearer(second))).status_code == 429
    other = await new_key(platform, ["db:read"])
    assert (await http.get("/db/stats", headers=bearer(other))).status_code == 200


async def test_request_id_reaches_the_services_log(http, platform):
    key = await new_key(platform, ["db:read"])
    reply = await http.get("/db/stats", headers=bearer(key) | {"x-request-id": "trace-gw-0001"})
    assert reply.headers["x-request-id"] == "trace-gw-0001"
    assert reply.json()["meta"]["request_id"] == "trace-gw-0001"
    db_access = await log_lines(platform, "db", "trace-gw-0001")
    assert db_access
    assert db_access[0]["path"] == "/stats"
    assert db_access[0]["principal"].startswith("usr_")
    mine = await log_lines(platform, "gateway", "trace-gw-0001")
    assert mine[0]["type"] == "access"
    assert mine[0]["status"] == 200
    assert mine[0]["principal"] == db_access[0]["principal"]
    assert key not in "\n".join(platform.processes["gateway"].output)


async def test_a_forged_principal_header_is_dropped(http):
    forged = json.dumps({"id": "usr_evil", "permissions": ["*"]})
    via_gateway = await http.get("/db/things", headers=GATEWAY | {"x-dotdo-principal": forged})
    assert via_gateway.status_code == 401
    direct = await http.get("/things", headers={"host": "db.do", "x-dotdo-principal": forged})
    assert direct.status_code == 401  # the dispatcher drops x-dotdo-* from outside


async def test_unknown_and_undeployed_routes_are_404_envelopes(http):
    key = BOOTSTRAP
    nothing = await http.get("/", headers=bearer(key))
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (404, "ROUTE_NOT_FOUND")
    itself = await http.get("/gateway/health", headers=bearer(key))  # not behind itself
    assert (itself.status_code, itself.json()["error"]["code"]) == (404, "ROUTE_NOT_FOUND")
    # no manifest here: looked for in the dispatch namespace (env.NAMESPACE.get), where it is not
    missing = await http.get("/billing/invoices", headers=bearer(key))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "SERVICE_NOT_DEPLOYED")
    assert missing.json()["error"]["details"] == {"service": "billing"}


async def test_public_auth_routes_need_no_key(http):
    login = await http.get("/auth/login?redirect_uri=http://localhost:3000/", headers=GATEWAY)
    assert login.status_code == 503  # reached auth: WorkOS is not configured locally
    assert login.json()["error"]["code"] == "SSO_NOT_CONFIGURED"
    me = await http.get("/auth/me", headers=GATEWAY)
    assert me.status_code == 401


async def test_cors_preflight_is_answered_without_a_key(http):
    preflight = await http.options(
        "/db/things",
        headers=GATEWAY | {"origin": "http://localhost:3000", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    stranger = await http.options(
        "/db/things", headers=GATEWAY | {"origin": "https://evil.com", "access-control-request-method": "POST"}
    )
    assert stranger.status_code == 403


def from_address(platform, address: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (loopback has all of 127/8): the front door
    sets CF-Connecting-IP from the TCP peer, so this is the only way to be another client."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=platform.url, timeout=60, transport=transport)


async def test_anonymous_callers_are_limited_by_ip_on_auth_routes(platform):
    login = "/auth/login?redirect_uri=http://localhost:3000/"
    async with from_address(platform, "127.0.0.7") as first, from_address(platform, "127.0.0.8") as second:
        # a client's own CF-Connecting-IP changes nothing: the budget is its address's
        replies = [await first.get(login, headers=GATEWAY | {"cf-connecting-ip": f"203.0.113.{n}"}) for n in range(12)]
        other_ip = await second.get(login, headers=GATEWAY)
    assert [r.status_code for r in replies] == [503] * 10 + [429] * 2  # RATE_LIMIT_AUTH = 10 per minute
    assert other_ip.status_code == 503


async def test_a_refused_credential_is_logged_by_auth_with_the_request_id(http, platform):
    forged = "sk_live_bbbbbbbbbbbbbbbb_" + "D" * 43
    reply = await http.get("/db/things", headers=bearer(forged) | {"x-request-id": "trace-gw-refused"})
    assert reply.status_code == 401
    refused = await log_lines(platform, "auth", "trace-gw-refused")
    assert refused == [
        {
            "type": "auth",
            "event": "credential_refused",
            "kind": "api_key",
            "code": "INVALID_API_KEY",
            "request_id": "trace-gw-refused",
        }
    ]
    assert forged not in "\n".join(platform.processes["auth"].output)
