"""auth's record tables, declared column by column (the types: `shared.records`).

`store.py` serves these and nothing else; `migrations.py` makes them in auth's own D1 (a test holds
the two together).
"""

from __future__ import annotations

from shared.records import Table, table, tables

TABLES: dict[str, Table] = tables(
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
)
