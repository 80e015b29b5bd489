"""auth with no db on the platform at all: its keys, users and sessions live in a D1 of its own.

Only the dispatcher and auth run. Making and validating API keys, making users and validating a
session's JWT read and write auth's database (a SQLite file in the state folder, made by the local
runtime from `d1_databases` in auth's wrangler.jsonc) and call no other worker.
"""

import httpx
import pytest
import pytest_asyncio
from conftest import BOOTSTRAP, ROOT, SECRETS, as_, auth_database, rpc, running_platform

from dotdo_dev.config import load_local
from dotdo_dev.testing import worker_root

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    async with running_platform(tmp_path_factory.mktemp("state"), "auth") as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=20) as client:
        yield client


async def test_there_is_no_db_to_call(http, platform):
    assert set(platform.processes) == {"auth"}  # and the dispatcher, in the platform's own process
    assert set(platform.describe()["workers"]) == {"dispatcher", "auth"}
    missing = await http.get("/health", headers={"host": "db.do"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "SERVICE_NOT_DEPLOYED"
    assert load_local(ROOT / "workers" / "auth").services == []  # auth binds no other worker


async def test_keys_and_users_are_made_and_validated_without_db(http, platform):
    made = await http.post(
        "/users", json={"email": "ada@example.com", "name": "Ada"}, headers=as_(BOOTSTRAP, "auth.do")
    )
    assert made.status_code == 201, made.text
    user_id = made.json()["data"]["id"]
    issued = await http.post(
        f"/users/{user_id}/apikeys",
        json={"name": "laptop", "permissions": ["db:read"]},
        headers=as_(BOOTSTRAP, "auth.do"),
    )
    assert issued.status_code == 201, issued.text
    key = issued.json()["data"]["key"]
    me = await http.get("/me", headers=as_(key, "auth.do"))
    assert me.status_code == 200, me.text
    assert me.json()["data"]["principal"]["id"] == user_id
    principal = await rpc(platform, "auth", "validate_token", key)
    assert (principal["id"], principal["permissions"]) == (user_id, ["db:read"])
    refused = await http.get("/me", headers=as_(key[:-4] + "AAAA", "auth.do"))
    assert refused.status_code == 401
    # what was stored is in auth's own database file, hashed
    rows = (await auth_database(platform).prepare("SELECT id, key_hash FROM api_keys").all())["results"]
    assert issued.json()["data"]["api_key"]["id"] in {r["id"] for r in rows}
    assert all(key not in r["key_hash"] for r in rows)


async def test_a_sessions_jwt_is_validated_without_db(platform):
    worker_root(ROOT / "workers" / "auth" / "tests" / "x")  # auth's src/ on sys.path, for `tokens`
    import tokens

    database = auth_database(platform)
    stamp = "2026-01-01T00:00:00.000Z"
    user = "INSERT INTO users (id, role, created_at, updated_at) VALUES ('usr_jwt', 'user', ?, ?)"
    await database.prepare(user).bind(stamp, stamp).run()
    session = (
        "INSERT INTO sessions (id, user_id, expires_at, created_at, updated_at) VALUES ('ses_jwt', 'usr_jwt', ?, ?, ?)"
    )
    await database.prepare(session).bind("2099-01-01T00:00:00.000Z", stamp, stamp).run()
    local = load_local(ROOT / "workers" / "auth").vars
    token = tokens.issue_access_token(
        tokens.SigningKeys(current_kid=local["JWT_KEY_ID"], keys={local["JWT_KEY_ID"]: SECRETS["JWT_SECRET"]}),
        subject="usr_jwt",
        session_id="ses_jwt",
        issuer=local["JWT_ISSUER"],
        audience=local["JWT_AUDIENCE"],
        claims={"role": "user", "permissions": ["db:read"]},
    )
    principal = await rpc(platform, "auth", "validate_token", token)
    assert (principal["id"], principal["auth"], principal["session_id"]) == ("usr_jwt", "session", "ses_jwt")
    await database.prepare("UPDATE sessions SET revoked_at = ? WHERE id = 'ses_jwt'").bind(stamp).run()
    with pytest.raises(Exception, match="SESSION_REVOKED"):
        await rpc(platform, "auth", "validate_token", token)
