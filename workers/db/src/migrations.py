"""The db service's schema, as numbered migrations (applied by `shared.migrations` on first use).

Never edit a migration that has shipped: add the next one. `tables.py` declares db's own record
table (the audit log) column by column for validation, and a test holds the two together. The tables
services keep in db are not made here: they are declared in the services' manifests and made from
those declarations on first use (`tables.py`, `shared.records.ensure_tables`).

Version 1: things and relationships (the graph), full-text search over things' content (FTS5,
kept in step by triggers), the typed records of the other services, and the audit log.

Version 2: owners. Every thing and relationship gets `owner_id` (the principal that created it)
and `org_id` (its organisation, or none), with indexes for the access condition (`access.py`).
Rows written before this get their owner from `created_by` where that is a user id (`usr_...`);
the others keep no owner, which makes them admins' only until an admin gives them one
(`POST /sql`: `UPDATE things SET owner_id = ? WHERE ...`).

Version 3: the records of other services leave db. auth keeps its identity records in a D1 of its
own (`workers/auth/src/migrations.py`), so its tables here are dropped: no query of auth's reaches
db any more, and db's admin SQL cannot read or change keys and sessions. The tables made for
schedule, webhooks, email, queue and deploy, services that do not exist and never wrote them, are
dropped too: a service that chooses to keep records in db declares them in its own manifest
(`[tables.<name>]`), and db makes them from that declaration. Records written into these tables
before are not copied: export them first (`wrangler d1 export`) from a database that holds any
worth keeping.
"""

from shared.migrations import Migration

_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

GRAPH = (
    f"""CREATE TABLE things (
        ns TEXT NOT NULL,
        id TEXT NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{{}}',
        content TEXT,
        visibility TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('public', 'private', 'unlisted')),
        created_at TEXT NOT NULL DEFAULT ({_NOW}),
        updated_at TEXT NOT NULL DEFAULT ({_NOW}),
        created_by TEXT,
        updated_by TEXT,
        PRIMARY KEY (ns, id)
    )""",
    "CREATE INDEX things_ns_type ON things (ns, type, created_at)",
    "CREATE INDEX things_ns_created ON things (ns, created_at, id)",
    "CREATE INDEX things_ns_updated ON things (ns, updated_at, id)",
    "CREATE INDEX things_type ON things (type)",
    """CREATE TABLE relationships (
        from_ns TEXT NOT NULL,
        from_id TEXT NOT NULL,
        predicate TEXT NOT NULL,
        to_ns TEXT NOT NULL,
        to_id TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        created_by TEXT,
        PRIMARY KEY (from_ns, from_id, predicate, to_ns, to_id),
        FOREIGN KEY (from_ns, from_id) REFERENCES things (ns, id) ON DELETE CASCADE,
        FOREIGN KEY (to_ns, to_id) REFERENCES things (ns, id) ON DELETE CASCADE
    )""",
    "CREATE INDEX relationships_incoming ON relationships (to_ns, to_id, predicate)",
    # Full-text search over content: an external-content FTS5 index on `things`, kept by triggers.
    "CREATE VIRTUAL TABLE things_fts USING fts5(content, content='things', content_rowid='rowid')",
    """CREATE TRIGGER things_fts_insert AFTER INSERT ON things BEGIN
        INSERT INTO things_fts (rowid, content) VALUES (new.rowid, new.content);
    END""",
    """CREATE TRIGGER things_fts_delete AFTER DELETE ON things BEGIN
        INSERT INTO things_fts (things_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
    END""",
    """CREATE TRIGGER things_fts_update AFTER UPDATE OF content ON things BEGIN
        INSERT INTO things_fts (things_fts, rowid, content) VALUES ('delete', old.rowid, old.content);
        INSERT INTO things_fts (rowid, content) VALUES (new.rowid, new.content);
    END""",
)


def _stamps() -> str:
    return "created_at TEXT NOT NULL, updated_at TEXT NOT NULL"


RECORDS = (
    # -- auth --------------------------------------------------------------------------------------
    f"""CREATE TABLE users (
        id TEXT PRIMARY KEY, email TEXT, name TEXT, role TEXT NOT NULL DEFAULT 'user',
        workos_user_id TEXT, disabled_at TEXT, {_stamps()}, created_by TEXT
    )""",
    "CREATE UNIQUE INDEX users_email ON users (email)",
    "CREATE UNIQUE INDEX users_workos ON users (workos_user_id)",
    f"CREATE TABLE organizations (id TEXT PRIMARY KEY, name TEXT NOT NULL, workos_org_id TEXT, {_stamps()})",
    "CREATE UNIQUE INDEX organizations_workos ON organizations (workos_org_id)",
    f"""CREATE TABLE memberships (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, org_id TEXT NOT NULL, role TEXT NOT NULL, {_stamps()}
    )""",
    "CREATE UNIQUE INDEX memberships_user_org ON memberships (user_id, org_id)",
    f"""CREATE TABLE permission_grants (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, org_id TEXT, permission TEXT NOT NULL,
        {_stamps()}, created_by TEXT
    )""",
    "CREATE UNIQUE INDEX permission_grants_unique ON permission_grants (user_id, permission, coalesce(org_id, ''))",
    f"""CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_id TEXT NOT NULL, key_hash TEXT NOT NULL,
        environment TEXT NOT NULL, last4 TEXT NOT NULL, permissions TEXT NOT NULL DEFAULT '[]',
        expires_at TEXT, revoked_at TEXT, last_used_at TEXT, {_stamps()}, created_by TEXT
    )""",
    "CREATE INDEX api_keys_owner ON api_keys (owner_id, created_at)",
    f"""CREATE TABLE sessions (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, org_id TEXT, expires_at TEXT NOT NULL,
        revoked_at TEXT, revoked_reason TEXT, ip TEXT, user_agent TEXT, {_stamps()}
    )""",
    "CREATE INDEX sessions_user ON sessions (user_id)",
    f"""CREATE TABLE refresh_tokens (
        id TEXT PRIMARY KEY, session_id TEXT NOT NULL, token_hash TEXT NOT NULL, expires_at TEXT NOT NULL,
        used_at TEXT, {_stamps()}
    )""",
    "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)",
    f"""CREATE TABLE oauth_states (
        id TEXT PRIMARY KEY, redirect_uri TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT, {_stamps()}
    )""",
    # -- schedule ----------------------------------------------------------------------------------
    f"""CREATE TABLE schedule_tasks (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, cron TEXT NOT NULL, handler TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{{}}', enabled INTEGER NOT NULL DEFAULT 1, last_run_at TEXT,
        next_run_at TEXT, {_stamps()}, created_by TEXT
    )""",
    "CREATE UNIQUE INDEX schedule_tasks_name ON schedule_tasks (name)",
    f"""CREATE TABLE schedule_runs (
        id TEXT PRIMARY KEY, task_id TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,
        started_at TEXT, finished_at TEXT, error TEXT, {_stamps()}
    )""",
    "CREATE INDEX schedule_runs_task ON schedule_runs (task_id, created_at)",
    # -- webhooks ----------------------------------------------------------------------------------
    f"""CREATE TABLE webhook_events (
        id TEXT PRIMARY KEY, provider TEXT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,
        status TEXT NOT NULL, payload TEXT NOT NULL DEFAULT '{{}}', attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT, processed_at TEXT, {_stamps()}
    )""",
    "CREATE UNIQUE INDEX webhook_events_unique ON webhook_events (provider, event_id)",
    # -- email -------------------------------------------------------------------------------------
    f"""CREATE TABLE emails (
        id TEXT PRIMARY KEY, to_address TEXT NOT NULL, from_address TEXT NOT NULL, subject TEXT NOT NULL,
        template TEXT, status TEXT NOT NULL, provider TEXT, provider_message_id TEXT, error TEXT,
        {_stamps()}, created_by TEXT
    )""",
    "CREATE INDEX emails_to ON emails (to_address, created_at)",
    # -- queue -------------------------------------------------------------------------------------
    f"""CREATE TABLE queue_jobs (
        id TEXT PRIMARY KEY, type TEXT NOT NULL, status TEXT NOT NULL, payload TEXT NOT NULL DEFAULT '{{}}',
        attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL DEFAULT 3, error TEXT, run_at TEXT,
        {_stamps()}, created_by TEXT
    )""",
    "CREATE INDEX queue_jobs_status ON queue_jobs (status, run_at)",
    # -- deploy ------------------------------------------------------------------------------------
    f"""CREATE TABLE deployments (
        id TEXT PRIMARY KEY, service TEXT NOT NULL, environment TEXT NOT NULL, version TEXT NOT NULL,
        status TEXT NOT NULL, actor TEXT NOT NULL, commit_sha TEXT, previous_id TEXT,
        metadata TEXT NOT NULL DEFAULT '{{}}', {_stamps()}
    )""",
    "CREATE INDEX deployments_service ON deployments (service, environment, created_at)",
    # -- audit -------------------------------------------------------------------------------------
    f"""CREATE TABLE audit_log (
        id TEXT PRIMARY KEY, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT,
        details TEXT NOT NULL DEFAULT '{{}}', {_stamps()}
    )""",
    "CREATE INDEX audit_log_actor ON audit_log (actor, created_at)",
)

OWNERS = (
    "ALTER TABLE things ADD COLUMN owner_id TEXT",
    "ALTER TABLE things ADD COLUMN org_id TEXT",
    "ALTER TABLE relationships ADD COLUMN owner_id TEXT",
    "ALTER TABLE relationships ADD COLUMN org_id TEXT",
    "UPDATE things SET owner_id = created_by WHERE created_by GLOB 'usr_?*'",
    "UPDATE relationships SET owner_id = created_by WHERE created_by GLOB 'usr_?*'",
    "CREATE INDEX things_owner ON things (owner_id, ns, created_at)",
    "CREATE INDEX things_org ON things (org_id, ns, created_at)",
    "CREATE INDEX things_visibility ON things (visibility, ns, created_at)",
    "CREATE INDEX relationships_owner ON relationships (owner_id)",
    "CREATE INDEX relationships_org ON relationships (org_id)",
)

#: The record tables migration 1 made for other services, as it named them.
MOVED_OUT = (
    *("users", "organizations", "memberships", "permission_grants", "api_keys", "sessions"),
    *("refresh_tokens", "oauth_states", "schedule_tasks", "schedule_runs", "webhook_events"),
    *("emails", "queue_jobs", "deployments"),
)

MIGRATIONS: list[Migration] = [
    Migration(1, "graph_records_audit", GRAPH + RECORDS),
    Migration(2, "owners", OWNERS),
    Migration(3, "other_services_records_out", tuple(f"DROP TABLE IF EXISTS {name}" for name in MOVED_OUT)),
]

LATEST = MIGRATIONS[-1].version
