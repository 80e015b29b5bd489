"""Users without SSO on the local platform: an admin makes users and their keys; each key is its user's.

dispatcher -> auth (`Host: auth.do`) and dispatcher -> gateway -> auth and db, as real processes.
"""

import httpx
import pytest
import pytest_asyncio
from conftest import BOOTSTRAP, as_, running_platform

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    async with running_platform(tmp_path_factory.mktemp("state"), "gateway", "db", "auth") as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
        yield client


async def test_an_admin_makes_two_users_whose_keys_are_their_own(http):
    made = {}
    for name in ("Alice", "Bob"):
        body = {"email": f"{name}@Example.com", "name": name, "role": "user"}
        reply = await http.post("/users", json=body, headers=as_(BOOTSTRAP, "auth.do"))
        assert reply.status_code == 201, reply.text
        user = reply.json()["data"]
        assert (user["email"], user["role"]) == (f"{name.lower()}@example.com", "user")
        issued = await http.post(
            f"/users/{user['id']}/apikeys",
            json={"name": "laptop", "permissions": ["db:read", "db:write"]},
            headers=as_(BOOTSTRAP, "auth.do"),
        )
        assert issued.status_code == 201, issued.text
        assert issued.json()["data"]["api_key"]["owner_id"] == user["id"]
        made[name] = (user, issued.json()["data"]["key"])
    again = await http.post(
        "/users", json={"email": "ALICE@example.com", "name": "x"}, headers=as_(BOOTSTRAP, "auth.do")
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "USER_EXISTS")

    # each key is its own user's: at auth.do, and through the gateway (per-user rate budgets)
    alice, alice_key = made["Alice"]
    bob, bob_key = made["Bob"]
    remaining = []
    for _ in range(3):
        listed = await http.get("/db/things", headers=as_(alice_key, "gateway.do"))
        assert listed.status_code == 200, listed.text
        remaining.append(int(listed.headers["x-ratelimit-remaining"]))
    assert remaining == [59, 58, 57]
    bobs = await http.get("/db/things", headers=as_(bob_key, "gateway.do"))
    assert (bobs.status_code, bobs.headers["x-ratelimit-remaining"]) == (200, "59")  # Bob's own budget
    for user, key in ((alice, alice_key), (bob, bob_key)):
        for host, path in (("auth.do", "/me"), ("gateway.do", "/auth/me")):
            me = await http.get(path, headers=as_(key, host))
            assert me.status_code == 200, (host, me.text)
            data = me.json()["data"]
            assert (data["principal"]["id"], data["user"]["email"]) == (user["id"], user["email"]), host
            assert data["principal"]["permissions"] == ["db:read", "db:write"]

    # a second key of Alice's spends Alice's budget
    second = await http.post(
        f"/users/{alice['id']}/apikeys",
        json={"name": "ci", "permissions": ["db:read", "apikeys:read", "apikeys:write"]},
        headers=as_(BOOTSTRAP, "auth.do"),
    )
    alice_key = second.json()["data"]["key"]
    again = await http.get("/db/things", headers=as_(alice_key, "gateway.do"))
    assert int(again.headers["x-ratelimit-remaining"]) < 57

    # a role-user key, even one that manages its own keys, can neither make users nor keys for
    # others (nor, by this route, for itself)
    for host, prefix in (("auth.do", ""), ("gateway.do", "/auth")):
        made_user = await http.post(
            f"{prefix}/users", json={"email": "mallory@example.com", "name": "M"}, headers=as_(alice_key, host)
        )
        assert (made_user.status_code, made_user.json()["error"]["details"]) == (403, {"permission": "users:admin"})
        for target in (bob["id"], alice["id"]):
            key_for = await http.post(
                f"{prefix}/users/{target}/apikeys",
                json={"name": "x", "permissions": ["db:read"]},
                headers=as_(alice_key, host),
            )
            assert (key_for.status_code, key_for.json()["error"]["details"]) == (403, {"permission": "apikeys:admin"})
        as_owner = await http.post(
            f"{prefix}/apikeys",
            json={"name": "x", "permissions": ["db:read"], "owner_id": bob["id"]},
            headers=as_(alice_key, host),
        )
        assert (as_owner.status_code, as_owner.json()["error"]["details"]) == (403, {"permission": "apikeys:admin"})
    # and a key beyond the user's role is refused even to the admin
    beyond = await http.post(
        f"/users/{bob['id']}/apikeys", json={"name": "x", "permissions": ["deploy"]}, headers=as_(BOOTSTRAP, "auth.do")
    )
    assert (beyond.status_code, beyond.json()["error"]["code"]) == (403, "PERMISSIONS_EXCEED_USER")
