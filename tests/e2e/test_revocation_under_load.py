"""A revoked API key is refused on the very next request, at `db.do` and through `gateway.do`, under load.

Real worker processes (dispatcher, gateway, db, auth) on loopback. Several clients send requests with one
key back to back, so that requests are in flight while an admin revokes it over HTTP (`DELETE
/apikeys/{id}` at auth.do); another user's key is used alongside. Every request sent after the revocation
was answered is refused with 401 INVALID_API_KEY (auth caches nothing: each request reads the key); those in
flight while it happened may go either way; the other key goes on working.
"""

import asyncio

import httpx
import pytest
import pytest_asyncio
from conftest import BOOTSTRAP, new_key, running_platform

pytestmark = pytest.mark.asyncio(loop_scope="module")

CLIENTS = 4  # concurrent clients using the key that is revoked
WARM = 8  # 200s seen with it before it is revoked (the gateway allows each user 60 a minute)
AFTER = 3  # requests each client sends once the revocation was answered


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    async with running_platform(tmp_path_factory.mktemp("state"), "gateway", "db", "auth") as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    limits = httpx.Limits(max_connections=CLIENTS + 4, max_keepalive_connections=CLIENTS + 4)
    async with httpx.AsyncClient(base_url=platform.url, timeout=60, limits=limits) as client:
        yield client


async def key_id_of(http, key: str) -> str:
    me = await http.get("/me", headers={"host": "auth.do", "authorization": f"Bearer {key}"})
    assert me.status_code == 200
    return me.json()["data"]["principal"]["key_id"]


@pytest.mark.parametrize(("host", "path"), [("db.do", "/things"), ("gateway.do", "/db/things")])
async def test_a_key_revoked_under_load_is_refused_by_every_request_sent_after(platform, http, host, path):
    key = await new_key(platform, ["db:read"])
    other = await new_key(platform, ["db:read"])
    key_id = await key_id_of(http, key)
    loop = asyncio.get_running_loop()
    revoked: dict[str, float] = {}  # "begun", "answered": loop times of the revocation
    warm = asyncio.Event()
    seen: dict[str, list[tuple[float, float, int, str | None]]] = {key: [], other: []}

    async def client(token: str) -> None:
        after = 0
        for _ in range(200):  # a bound, never reached: each client stops AFTER requests past the revocation
            started = loop.time()
            reply = await http.get(path, headers={"host": host, "authorization": f"Bearer {token}"})
            code = None if reply.status_code == 200 else reply.json()["error"]["code"]
            seen[token].append((started, loop.time(), reply.status_code, code))
            if token == key and sum(s[2] == 200 for s in seen[key]) >= WARM:
                warm.set()
            if "answered" in revoked and started > revoked["answered"]:
                after += 1
                if after == AFTER:
                    return
        raise AssertionError("the key was never revoked")

    async def revoke() -> None:
        await warm.wait()
        revoked["begun"] = loop.time()
        admin = {"host": "auth.do", "authorization": f"Bearer {BOOTSTRAP}"}
        reply = await http.delete(f"/apikeys/{key_id}", headers=admin)
        revoked["answered"] = loop.time()
        assert reply.status_code == 200
        assert reply.json()["data"]["revoked_at"]

    await asyncio.wait_for(asyncio.gather(revoke(), client(other), *(client(key) for _ in range(CLIENTS))), 120)

    begun, answered = revoked["begun"], revoked["answered"]
    before = [s for s in seen[key] if s[1] < begun]
    in_flight = [s for s in seen[key] if s[0] <= answered and s[1] >= begun]
    after = [s for s in seen[key] if s[0] > answered]
    assert len(before) >= WARM
    assert all(status == 200 for _, _, status, _ in before)
    assert in_flight  # the revocation happened under load
    assert len(after) == CLIENTS * AFTER
    assert {(status, code) for _, _, status, code in after} == {(401, "INVALID_API_KEY")}
    assert all(status in (200, 401) for _, _, status, _ in in_flight)
    # another user's key goes on working, before and after
    assert {status for _, _, status, _ in seen[other]} == {200}
    assert any(started > answered for started, _, _, _ in seen[other])
