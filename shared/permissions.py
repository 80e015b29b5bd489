"""Permissions: strings like `db:read`, `db:write`, `deploy`, and what grants them.

A granted permission covers a needed one when it is the same string, `*` (everything), or
`<resource>:*` (every action on that resource: `db:*` covers `db:read` and `db:write`).

    allows(["db:*"], "db:write")     -> True
    allows(["db:read"], "db:write")  -> False

Roles are named sets of permissions: each service's manifest (`service.toml`, `[roles]`) says what
`user` and `viewer` hold of its permissions; `admin` holds `*`. An organisation may grant a user
more (see the auth service).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.registry import SERVICES

#: What a permission looks like: `resource` or `resource:action`, lower-case, or a wildcard.
PERMISSION = re.compile(r"^(\*|[a-z][a-z0-9_-]{0,31}(:(\*|[a-z][a-z0-9_-]{0,31}))?)$")


def _roles() -> dict[str, tuple[str, ...]]:
    """admin holds `*`; `user` and `viewer` what each service's manifest grants them (`[roles]`)."""
    roles: dict[str, tuple[str, ...]] = {"admin": ("*",), "user": (), "viewer": ()}
    for service in SERVICES.values():
        for role, grants in service.get("roles", {}).items():
            roles[role] = (*roles[role], *grants)
    return roles


#: The built-in roles and their permissions, from the services' manifests (shared/registry.py).
ROLES: dict[str, tuple[str, ...]] = _roles()


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
