"""The typed record tables the other services keep in db, declared column by column.

Callers name a table and columns; both are checked against these declarations (the engine and the
column types: `shared.records`) before any SQL is built, values are checked against the column's
type, and every value is bound, never spliced. `migrations.py` creates the same tables (a test holds
the two together).
"""

from __future__ import annotations

from shared.records import Table, table, tables

TABLES: dict[str, Table] = tables(
    # auth
    table(
        "users",
        "usr",
        "",
        email="text",
        name="text",
        role="text",
        workos_user_id="text",
        disabled_at="timestamp",
        created_by="text",
    ),
    table("organizations", "org", "name", name="text", workos_org_id="text"),
    table("memberships", "mbr", "user_id org_id role", user_id="text", org_id="text", role="text"),
    table(
        "permission_grants",
        "grt",
        "user_id permission",
        user_id="text",
        org_id="text",
        permission="text",
        created_by="text",
    ),
    table(
        "api_keys",
        "key",
        "name owner_id key_hash environment last4",
        name="text",
        owner_id="text",
        key_hash="text",
        environment="text",
        last4="text",
        permissions="json",
        expires_at="timestamp",
        revoked_at="timestamp",
        last_used_at="timestamp",
        created_by="text",
    ),
    table(
        "sessions",
        "ses",
        "user_id expires_at",
        user_id="text",
        org_id="text",
        expires_at="timestamp",
        revoked_at="timestamp",
        revoked_reason="text",
        ip="text",
        user_agent="text",
    ),
    table(
        "refresh_tokens",
        "rt",
        "session_id token_hash expires_at",
        session_id="text",
        token_hash="text",  # noqa: S106 - a column type, not a password
        expires_at="timestamp",
        used_at="timestamp",
    ),
    table(
        "oauth_states",
        "st",
        "redirect_uri expires_at",
        redirect_uri="text",
        expires_at="timestamp",
        used_at="timestamp",
    ),
    # schedule
    table(
        "schedule_tasks",
        "tsk",
        "name cron handler",
        name="text",
        cron="text",
        handler="text",
        payload="json",
        enabled="boolean",
        last_run_at="timestamp",
        next_run_at="timestamp",
        created_by="text",
    ),
    table(
        "schedule_runs",
        "run",
        "task_id status",
        task_id="text",
        status="text",
        attempt="integer",
        started_at="timestamp",
        finished_at="timestamp",
        error="text",
    ),
    # webhooks
    table(
        "webhook_events",
        "whe",
        "provider event_id type status",
        provider="text",
        event_id="text",
        type="text",
        status="text",
        payload="json",
        attempts="integer",
        error="text",
        processed_at="timestamp",
    ),
    # email
    table(
        "emails",
        "eml",
        "to_address from_address subject status",
        to_address="text",
        from_address="text",
        subject="text",
        template="text",
        status="text",
        provider="text",
        provider_message_id="text",
        error="text",
        created_by="text",
    ),
    # queue
    table(
        "queue_jobs",
        "job",
        "type status",
        type="text",
        status="text",
        payload="json",
        attempts="integer",
        max_attempts="integer",
        error="text",
        run_at="timestamp",
        created_by="text",
    ),
    # deploy
    table(
        "deployments",
        "dep",
        "service environment version status actor",
        service="text",
        environment="text",
        version="text",
        status="text",
        actor="text",
        commit_sha="text",
        previous_id="text",
        metadata="json",
    ),
    # audit
    table("audit_log", "aud", "actor action", actor="text", action="text", target="text", details="json"),
)
