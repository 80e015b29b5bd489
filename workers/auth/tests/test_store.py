"""auth's identity store is a D1 of its own (`AUTH_DB`): no other worker is bound or called, its schema is
what `tables.py` declares, and validating an API key or a JWT reads auth's own tables and nothing else."""

import re

import pytest
from conftest import BOOTSTRAP_KEY, ROOT, auth_harness
from helpers import make_key, new_user

import sessions
import store
from dotdo_dev.config import load_worker
from dotdo_dev.schema_check import schema_mismatches
from migrations import MIGRATIONS
from shared.errors import AppError
from tables import TABLES

_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)


class RecordingD1:
    """auth's D1 binding, noting the SQL of every statement it prepares."""

    def __init__(self, d1):
        self.d1, self.sql = d1, []

    def prepare(self, sql):
        self.sql.append(sql)
        return self.d1.prepare(sql)

    async def batch(self, statements):
        return await self.d1.batch(statements)

    def tables(self) -> set[str]:
        return {name for sql in self.sql for name in _TABLE.findall(sql)}


@pytest.mark.parametrize(
    ("environment", "name", "database_id"),
    [
        (None, "auth", "local-auth"),
        ("staging", "auth-staging", "local-auth-staging"),
        ("development", "auth-development", "local-auth-development"),
    ],
)
def test_auth_binds_its_own_d1_and_no_other_worker_in_every_environment(environment, name, database_id):
    config = load_worker(ROOT, environment=environment)
    assert config.services == []
    assert [(d.binding, d.database_name, d.database_id) for d in config.d1_databases] == [
        ("AUTH_DB", name, database_id)
    ]


async def test_the_schema_is_what_tables_py_declares(auth):
    assert await store.count(auth.env, "users") == 0  # the first use migrates
    assert await schema_mismatches(auth.env.AUTH_DB, TABLES) == []
    applied = (await auth.env.AUTH_DB.prepare("SELECT version, name FROM _migrations").all())["results"]
    assert [(m["version"], m["name"]) for m in applied] == [(m.version, m.name) for m in MIGRATIONS]


async def test_validating_a_key_and_a_jwt_reads_only_auths_own_tables(auth):
    assert getattr(auth.env, "DB_SERVICE", None) is None  # nothing to call: no service binding at all
    key, record = await make_key(auth, ["db:read"])
    user = await new_user(auth)
    issued = await sessions.create_session(auth.env, user)
    recording = auth.env.AUTH_DB = RecordingD1(auth.env.AUTH_DB)

    principal = await auth.rpc("validate_token", key)
    assert (principal["key_id"], principal["permissions"]) == (record["id"], ["db:read"])
    assert recording.tables() <= {"api_keys", "users", "permission_grants"}
    assert "api_keys" in recording.tables()

    recording.sql.clear()
    principal = await auth.rpc("validate_token", issued["access_token"])
    assert (principal["id"], principal["session_id"]) == (user["id"], issued["session_id"])
    assert recording.tables() == {"sessions"}


async def test_without_its_database_auth_says_which_binding_is_missing(tmp_path):
    broken = auth_harness(tmp_path, BOOTSTRAP_ADMIN_KEY=BOOTSTRAP_KEY)
    broken.env.AUTH_DB = None
    with pytest.raises(Exception, match="no D1 binding 'AUTH_DB'"):
        await broken.rpc("validate_token", BOOTSTRAP_KEY)


async def test_the_store_serves_auths_tables_only(auth):
    for table in ("things", "audit_log", "_migrations", "sqlite_master"):
        with pytest.raises(AppError) as info:
            await store.find(auth.env, table)
        assert (info.value.status, info.value.code) == (400, "UNKNOWN_TABLE")
        assert info.value.details == {"tables": sorted(TABLES)}


async def test_a_duplicate_is_a_conflict_and_nothing_is_half_written(auth):
    await store.insert(auth.env, "users", {"email": "ada@example.com", "role": "user"})
    with pytest.raises(AppError) as info:
        await store.insert(auth.env, "users", {"email": "ada@example.com", "role": "admin"})
    assert (info.value.status, info.value.code) == (409, "CONFLICT")
    assert await store.count(auth.env, "users", {"email": "ada@example.com"}) == 1
    assert await store.delete_where(auth.env, "users", {"email": "ada@example.com"}) == 1
    with pytest.raises(AppError) as info:
        await store.delete_where(auth.env, "users", {})
    assert info.value.code == "VALIDATION_ERROR"
    assert "at least one condition" in info.value.details[0]["message"]
