"""db and auth on the local platform, as `make dev` runs them: real worker processes, real HTTP.

Requests go to the front door with `Host: <svc>.do`, through the real dispatcher; db authenticates
every HTTP call with the real auth service, which keeps its records in a D1 of its own (db's admin
SQL does not see them).
"""

import httpx
import pytest
import pytest_asyncio
from conftest import BOOTSTRAP, as_, auth_database, rpc, running_platform

from shared.errors import from_rpc_exception
from shared.principals import service_principal

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    async with running_platform(tmp_path_factory.mktemp("state"), "db", "auth") as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=20) as client:
        yield client


async def test_health_of_both_services_is_public(http):
    db = await http.get("/health", headers={"host": "db.do"})
    assert db.status_code == 200
    assert db.json()["data"]["schema_version"] == 3
    assert (await http.get("/health", headers={"host": "auth.do"})).json()["data"]["service"] == "auth"


async def test_the_bootstrap_flow_of_the_readme(http, platform):
    # curl -H 'Authorization: Bearer <bootstrap>' -H 'Host: auth.do' localhost:8787/apikeys -d '{...}'
    reply = await http.post(
        "/apikeys",
        content='{"name":"ci","permissions":["deploy"]}',
        headers=as_(BOOTSTRAP, "auth.do") | {"content-type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 201, reply.text
    key = reply.json()["data"]["key"]
    key_id = reply.json()["data"]["api_key"]["id"]
    # validates over RPC and over HTTP
    principal = await rpc(platform, "auth", "validate_api_key", key)
    assert principal["permissions"] == ["deploy"]
    me = await http.get("/me", headers=as_(key, "auth.do"))
    assert me.status_code == 200
    assert me.json()["data"]["principal"]["key_id"] == key_id
    # lacking a permission: 403 (creating keys needs apikeys:write; reading db needs db:read)
    assert (
        await http.post("/apikeys", json={"name": "x", "permissions": ["deploy"]}, headers=as_(key, "auth.do"))
    ).status_code == 403
    denied = await http.get("/things", headers=as_(key, "db.do"))
    assert denied.status_code == 403
    assert denied.json()["error"]["details"] == {"permission": "db:read"}
    # revoked: refused everywhere
    assert (await http.delete(f"/apikeys/{key_id}", headers=as_(BOOTSTRAP, "auth.do"))).status_code == 200
    assert (await http.get("/me", headers=as_(key, "auth.do"))).status_code == 401
    with pytest.raises(Exception, match="dotdo-error") as info:
        await rpc(platform, "auth", "validate_api_key", key)
    assert from_rpc_exception(info.value).status == 401


async def test_an_expired_key_is_refused(http, platform):
    reply = await http.post(
        "/apikeys",
        json={"name": "short", "permissions": ["db:read"], "expires_in_days": 1},
        headers=as_(BOOTSTRAP, "auth.do"),
    )
    key, key_id = reply.json()["data"]["key"], reply.json()["data"]["api_key"]["id"]
    assert (await http.get("/things", headers=as_(key, "db.do"))).status_code == 200
    expired = "UPDATE api_keys SET expires_at = '2021-01-01T00:00:00.000Z' WHERE id = ?"
    assert (await auth_database(platform).prepare(expired).bind(key_id).run())["meta"]["changes"] == 1
    refused = await http.get("/things", headers=as_(key, "db.do"))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_db_refuses_missing_and_bad_credentials(http):
    assert (await http.get("/things", headers={"host": "db.do"})).status_code == 401
    bad = await http.get("/things", headers=as_("sk_live_aaaaaaaaaaaaaaaa_" + "B" * 43, "db.do"))
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "INVALID_API_KEY"


async def test_things_round_trip_the_same_through_http_rpc_and_mcp(http, platform):
    created = await http.post(
        "/apikeys", json={"name": "rw", "permissions": ["db:read", "db:write"]}, headers=as_(BOOTSTRAP, "auth.do")
    )
    key = created.json()["data"]["key"]
    thing = {"ns": "e2e", "id": "doc-1", "type": "Article", "data": {"tags": ["a"]}, "content": "the quick brown fox"}
    put = await http.post("/things", json=thing, headers=as_(key, "db.do"))
    assert put.status_code == 201
    stored = {k: v for k, v in put.json()["data"].items() if k != "created"}
    principal = await rpc(platform, "auth", "validate_api_key", key)
    assert stored["created_by"] == stored["owner_id"] == principal["id"]
    via_http = (await http.get("/things/e2e/doc-1", headers=as_(key, "db.do"))).json()["data"]
    via_rpc = await rpc(platform, "db", "get_thing", principal, "e2e", "doc-1")
    mcp = await http.post(
        "/mcp",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "db_get", "arguments": {"ns": "e2e", "id": "doc-1"}},
        },
        headers=as_(key, "db.do"),
    )
    via_mcp = mcp.json()["result"]["structuredContent"]
    assert via_http == dict(via_rpc) == via_mcp == stored
    listed = (await http.get("/things?ns=e2e", headers=as_(key, "db.do"))).json()
    assert [t["id"] for t in listed["data"]] == ["doc-1"]
    assert listed["meta"]["total"] == 1
    found = (await http.get("/search?q=quick fox", headers=as_(key, "db.do"))).json()["data"]
    assert [t["id"] for t in found] == ["doc-1"]
    searched = await rpc(platform, "db", "search_things", principal, "brown")
    assert [t["id"] for t in searched["items"]] == ["doc-1"]
    gone = await http.delete("/things/e2e/doc-1", headers=as_(key, "db.do"))
    assert gone.json()["data"] == {"ns": "e2e", "id": "doc-1", "deleted": True}
    assert (await http.get("/things/e2e/doc-1", headers=as_(key, "db.do"))).status_code == 404


async def test_relationships_both_ways(http, platform):
    me = service_principal("e2e")  # a service acting for itself: it owns what it writes
    for thing in ({"ns": "people", "id": "ada"}, {"ns": "papers", "id": "notes"}):
        await rpc(platform, "db", "upsert_thing", me, thing)
    edge = {"from": {"ns": "people", "id": "ada"}, "predicate": "wrote", "to": {"ns": "papers", "id": "notes"}}
    await rpc(platform, "db", "upsert_relationship", me, edge)
    out = await rpc(platform, "db", "get_relationships", me, "people", "ada")
    into = await rpc(platform, "db", "get_incoming_relationships", me, "papers", "notes")
    assert out["items"][0]["owner_id"] == "svc_e2e"
    # another service sees none of it (the things are private to the first)
    other = service_principal("other")
    assert (await rpc(platform, "db", "get_relationships", other, "people", "ada"))["items"] == []
    assert out["items"][0]["to"] == {"ns": "papers", "id": "notes"}
    assert into["items"][0]["from"] == {"ns": "people", "id": "ada"}


async def test_dbs_admin_sql_cannot_reach_auths_records(http):
    # The bootstrap key holds `*` (db:admin): still, auth's tables are not in db's database at all.
    admin = as_(BOOTSTRAP, "db.do")
    for sql, write in [
        ("SELECT key_hash FROM api_keys", False),
        ("SELECT count(*) FROM sessions", False),
        ("DELETE FROM api_keys", True),
        ("UPDATE users SET role = 'admin'", True),
    ]:
        reply = await http.post("/sql", json={"sql": sql, "write": write}, headers=admin)
        assert reply.status_code == 400, reply.text
        assert reply.json()["error"]["code"] == "SQL_ERROR"
        assert "no such table" in reply.json()["error"]["details"]["error"]
    tables = await http.post("/sql", json={"sql": "SELECT name FROM sqlite_master WHERE type = 'table'"}, headers=admin)
    names = {row["name"] for row in tables.json()["data"]["rows"]}
    assert "things" in names
    assert not names & {"users", "api_keys", "sessions", "refresh_tokens", "oauth_states", "permission_grants"}
    # and the bootstrap key those requests used lives on, in auth's own database
    assert (await http.get("/me", headers=as_(BOOTSTRAP, "auth.do"))).status_code == 200
