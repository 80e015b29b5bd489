"""The principal a service passes when it acts for itself rather than for a user.

Services that call db (and auth) over RPC pass the principal they act for: the one the gateway or
auth verified for a request. A service doing its own work (a cron job, a queue consumer) says so
explicitly with `service_principal`: it is an ordinary principal, not an admin. db applies the same
rules to it as to any user: it owns what it writes, reads public things and its own, and nothing
private of anyone else.

    await call(env.DB_SERVICE.upsert_thing, service_principal("schedule"), thing, service="db")

A service that must reach everything asks for it in plain sight,
`service_principal("cleanup", permissions=("db:read", "db:write", "db:admin"))`, never by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def service_principal(name: str, permissions: Iterable[str] = ("db:read", "db:write")) -> dict[str, Any]:
    """`{"id": "svc_<name>", "type": "service", "role": "service", "org_id": None, "permissions": [...]}`."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"a service name is 1-32 lower-case letters, digits and -, not {name!r}")
    return {"id": f"svc_{name}", "type": "service", "role": "service", "org_id": None, "permissions": list(permissions)}
