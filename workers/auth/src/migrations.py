"""auth's schema in its own D1 (`AUTH_DB`), as numbered migrations applied on first use.

Never edit a migration that has shipped: add the next one. `tables.py` declares the same tables (a
test holds the two together). Version 1: users, organisations, memberships, grants, API keys,
sessions, refresh tokens, sign-in states (until then in db's database; db's migration 3 drops them).
"""

from shared.migrations import Migration

_STAMPS = "created_at TEXT NOT NULL, updated_at TEXT NOT NULL"

IDENTITY = (
    f"""CREATE TABLE users (
        id TEXT PRIMARY KEY, email TEXT, name TEXT, role TEXT NOT NULL DEFAULT 'user',
        workos_user_id TEXT, disabled_at TEXT, {_STAMPS}, created_by TEXT
    )""",
    "CREATE UNIQUE INDEX users_email ON users (email)",
    "CREATE UNIQUE INDEX users_workos ON users (workos_user_id)",
    f"CREATE TABLE organizations (id TEXT PRIMARY KEY, name TEXT NOT NULL, workos_org_id TEXT, {_STAMPS})",
    "CREATE UNIQUE INDEX organizations_workos ON organizations (workos_org_id)",
    f"""CREATE TABLE memberships (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, org_id TEXT NOT NULL, role TEXT NOT NULL, {_STAMPS}
    )""",
    "CREATE UNIQUE INDEX memberships_user_org ON memberships (user_id, org_id)",
    f"""CREATE TABLE permission_grants (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, org_id TEXT, permission TEXT NOT NULL,
        {_STAMPS}, created_by TEXT
    )""",
    "CREATE UNIQUE INDEX permission_grants_unique ON permission_grants (user_id, permission, coalesce(org_id, ''))",
    f"""CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_id TEXT NOT NULL, key_hash TEXT NOT NULL,
        environment TEXT NOT NULL, last4 TEXT NOT NULL, permissions TEXT NOT NULL DEFAULT '[]',
        expires_at TEXT, revoked_at TEXT, last_used_at TEXT, {_STAMPS}, created_by TEXT
    )""",
    "CREATE INDEX api_keys_owner ON api_keys (owner_id, created_at)",
    f"""CREATE TABLE sessions (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, org_id TEXT, expires_at TEXT NOT NULL,
        revoked_at TEXT, revoked_reason TEXT, ip TEXT, user_agent TEXT, {_STAMPS}
    )""",
    "CREATE INDEX sessions_user ON sessions (user_id)",
    f"""CREATE TABLE refresh_tokens (
        id TEXT PRIMARY KEY, session_id TEXT NOT NULL, token_hash TEXT NOT NULL, expires_at TEXT NOT NULL,
        used_at TEXT, {_STAMPS}
    )""",
    "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)",
    f"""CREATE TABLE oauth_states (
        id TEXT PRIMARY KEY, redirect_uri TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT, {_STAMPS}
    )""",
)

MIGRATIONS: list[Migration] = [Migration(1, "identity", IDENTITY)]

LATEST = MIGRATIONS[-1].version
