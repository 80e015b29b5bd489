"""Bad input gets a 4xx with a code, never a 500: a sweep over every route of db, auth and the gateway.

Each route is called with an admin key and with malformed input of several kinds (bad JSON, wrong
types, oversized values, odd characters in paths and queries). Every answer must be an envelope
with a status below 500 (503 for WorkOS, which is not configured locally, is the one exception).
"""

import itertools

import httpx
import pytest
import pytest_asyncio
from conftest import BOOTSTRAP as ADMIN
from conftest import running_platform

ROUTES = {
    "db.do": [
        ("GET", "/things"),
        ("POST", "/things"),
        ("GET", "/things/ns/id"),
        ("PUT", "/things/ns/id"),
        ("DELETE", "/things/ns/id"),
        ("GET", "/things/ns/id/relationships"),
        ("GET", "/relationships"),
        ("POST", "/relationships"),
        ("DELETE", "/relationships"),
        ("GET", "/search"),
        ("GET", "/types"),
        ("POST", "/sql"),
        ("POST", "/mcp"),
    ],
    "auth.do": [
        ("GET", "/me"),
        ("POST", "/apikeys"),
        ("GET", "/apikeys"),
        ("DELETE", "/apikeys/key_x"),
        ("GET", "/sessions"),
        ("DELETE", "/sessions/ses_x"),
        ("POST", "/permissions/check"),
        ("GET", "/users/usr_x"),
        ("PUT", "/users/usr_x/role"),
        ("PUT", "/users/usr_x/disabled"),
        ("POST", "/users/usr_x/grants"),
        ("POST", "/refresh"),
        ("POST", "/logout"),
        ("GET", "/callback"),
        ("POST", "/mcp"),
    ],
    "gateway.do": [("GET", "/db/things"), ("POST", "/db/things"), ("POST", "/auth/apikeys"), ("GET", "/nope/x")],
}
BODIES = [
    None,
    "",
    "{",
    "[]",
    "null",
    '"text"',
    "1e999999",
    '{"a": NaN}',
    '{"name": 1, "permissions": "deploy", "ns": [], "id": {}, "sql": 5, "q": null}',
    '{"ns": "' + "x" * 70 + '", "id": "\\u0000", "type": "\\ud800", "data": "x", "from": 1, "predicate": "_"}',
    '{"sql": "select 1; select 2", "params": [{"a": 1}], "write": "yes"}',
    '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "db_get", "arguments": []}}',
    '{"refresh_token": ["x"], "permission": 7, "role": null, "org_id": 3}',
    "\xff\xfe",
]
QUERIES = [
    "",
    "?limit=-1&page=x",
    "?cursor=%%%",
    "?q=%00&order_by=rowid;drop&order=sideways",
    "?limit=99999999999999999999",
]

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(tmp_path_factory):
    async with (
        running_platform(tmp_path_factory.mktemp("state"), "gateway", "db", "auth") as platform,
        httpx.AsyncClient(base_url=platform.url, timeout=30) as client,
    ):
        yield client


async def test_no_route_answers_a_server_error(http):
    failures = []
    for host, routes in ROUTES.items():
        for (method, path), body, query in itertools.product(routes, BODIES, QUERIES):
            if method in ("GET", "DELETE") and body not in (None, ""):
                continue
            headers = {"host": host, "authorization": f"Bearer {ADMIN}", "content-type": "application/json"}
            reply = await http.request(
                method, path + query, content=body.encode("utf-8", "surrogatepass") if body else None, headers=headers
            )
            allowed = reply.status_code < 500 or (reply.status_code == 503 and path == "/callback")
            envelope = reply.headers.get("content-type", "").startswith("application/json")
            if not allowed or not envelope:
                failures.append((host, method, path + query, (body or "")[:40], reply.status_code, reply.text[:120]))
    assert failures == []
