"""Permissions: strings like `db:read`, `db:write`, `deploy`, and what grants them.

A granted permission covers a needed one when it is the same string, `*` (everything), or
`<resource>:*` (every action on that resource: `db:*` covers `db:read` and `db:write`).

    allows(["db:*"], "db:write")     -> True
    allows(["db:read"], "db:write")  -> False

Roles are named sets of permissions; an organisation may grant a user more (see the auth service).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: What a permission looks like: `resource` or `resource:action`, lower-case, or a wildcard.
PERMISSION = re.compile(r"^(\*|[a-z][a-z0-9_-]{0,31}(:(\*|[a-z][a-z0-9_-]{0,31}))?)$")

ROLES: dict[str, tuple[str, ...]] = {
    "admin": ("*",),
    "user": (
        "db:read",
        "db:write",
        "apikeys:read",
        "apikeys:write",
        "schedule:read",
        "schedule:write",
        "email:send",
        "queue:read",
        "queue:write",
        "webhooks:read",
        "mcp:use",
    ),
    "viewer": ("db:read", "apikeys:read", "schedule:read", "queue:read", "webhooks:read"),
}


def valid_permission(value: object) -> bool:
    """Whether `value` is a well-formed permission string."""
    return isinstance(value, str) and PERMISSION.fullmatch(value) is not None


def allows(granted: Iterable[str], needed: str) -> bool:
    """Whether any of the `granted` permissions covers `needed`."""
    resource = needed.split(":", 1)[0]
    return any(permission in ("*", needed, f"{resource}:*") for permission in granted)


def role_permissions(role: str | None) -> tuple[str, ...]:
    """The permissions of a built-in role (none for an unknown one)."""
    return ROLES.get(role or "", ())
