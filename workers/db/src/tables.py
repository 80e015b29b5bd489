"""The typed record tables the other services keep in db, declared column by column.

Callers name a table and columns; both are checked against these declarations before any SQL is
built, values are checked against the column's type, and every value is bound, never spliced.
`migrations.py` creates the same tables (a test holds the two together).

Column types: `text`, `integer`, `boolean` (0/1 in SQLite), `json` (any JSON value, stored as
text), `timestamp` (ISO-8601 text, e.g. `2026-11-27T01:33:28.123Z`, compared as text).
`id`, `created_at` and `updated_at` are set by db: an `id` may be given on insert (else one is
made with the table's prefix), the two timestamps never.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPES = ("text", "integer", "boolean", "json", "timestamp")


@dataclass(frozen=True)
class Table:
    """A record table: its name, id prefix, columns (name -> type) and which of them must be given."""

    name: str
    prefix: str
    columns: dict[str, str]
    required: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for column, kind in self.columns.items():
            if kind not in TYPES:
                raise ValueError(f"{self.name}.{column}: unknown type {kind!r}")
        unknown = self.required - set(self.columns)
        if unknown:
            raise ValueError(f"{self.name}: required columns {sorted(unknown)} are not declared")

    @property
    def all_columns(self) -> dict[str, str]:
        """Every column, with the three db manages: `id`, `created_at`, `updated_at`."""
        return {"id": "text", **self.columns, "created_at": "timestamp", "updated_at": "timestamp"}


def _table(table: str, prefix: str, required: str, /, **columns: str) -> Table:
    return Table(table, prefix, columns, frozenset(required.split()))


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        # auth
        _table(
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
        _table("organizations", "org", "name", name="text", workos_org_id="text"),
        _table("memberships", "mbr", "user_id org_id role", user_id="text", org_id="text", role="text"),
        _table(
            "permission_grants",
            "grt",
            "user_id permission",
            user_id="text",
            org_id="text",
            permission="text",
            created_by="text",
        ),
        _table(
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
        _table(
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
        _table(
            "refresh_tokens",
            "rt",
            "session_id token_hash expires_at",
            session_id="text",
            token_hash="text",  # noqa: S106 - a column type, not a password
            expires_at="timestamp",
            used_at="timestamp",
        ),
        _table(
            "oauth_states",
            "st",
            "redirect_uri expires_at",
            redirect_uri="text",
            expires_at="timestamp",
            used_at="timestamp",
        ),
        # schedule
        _table(
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
        _table(
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
        _table(
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
        _table(
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
        _table(
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
        _table(
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
        _table("audit_log", "aud", "actor action", actor="text", action="text", target="text", details="json"),
    )
}
