"""Who may see and change which things: db's ownership and visibility rules, in this one place.

Every query of `things` and `relationships` takes its condition from `condition()` (SQL) and every
decision about a row already read from `allowed()` (Python): the two say the same thing, and a
test holds them together. The rules, for a thing with an `owner_id`, an `org_id` (or none) and a
`visibility`:

- **admins** (role `admin`, or a permission covering `db:admin`: `*`, `db:*`, `db:admin`) may
  read and write every thing;
- the **owner** may read and write it;
- a **member of its organisation** (the principal's `org_id` is the thing's) may read it, and
  write it when the principal holds `db:write` (which every write needs anyway);
- anyone else with `db:read` may read a `public` thing, and an `unlisted` one by its id only
  (never in a list, a search, a count or stats), and no `private` one;
- a thing without an owner (written before owners existed, by no known principal) is admins' only.

Three scopes: `LIST` (found by listing, search, counting, stats), `GET` (read by its id), and
`WRITE` (update, delete, relate). Reads need `db:read` and writes `db:write` on top of these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared.errors import BadRequest, Forbidden
from shared.permissions import allows

Scope = Literal["list", "get", "write"]
LIST: Scope = "list"
GET: Scope = "get"
WRITE: Scope = "write"

#: Which visibilities a non-owner outside the organisation may read, per scope.
_OPEN: dict[str, tuple[str, ...]] = {LIST: ("public",), GET: ("public", "unlisted"), WRITE: ()}
_MAX_ID = 256


@dataclass(frozen=True)
class Principal:
    """Who a call acts for: the principal auth verified (HTTP), or the one an RPC caller passes."""

    id: str
    permissions: tuple[str, ...]
    role: str | None = None
    org_id: str | None = None
    type: str | None = None

    @classmethod
    def of(cls, value: Any) -> Principal:
        """A principal from its dict (`id`, `permissions`, `role`, `org_id`, `type`); else 400 `INVALID_PRINCIPAL`."""
        if isinstance(value, Principal):
            return value
        get = getattr(value, "get", None)
        if value is None or get is None:
            raise _invalid("Pass the principal the call acts for: {id, permissions, role, org_id}")
        id_, permissions = get("id"), get("permissions")
        if not isinstance(id_, str) or not 0 < len(id_) <= _MAX_ID:
            raise _invalid("The principal's id is a non-empty string")
        if isinstance(permissions, (str, bytes, Mapping)) or not hasattr(permissions, "__iter__"):
            raise _invalid("The principal's permissions are a list of strings")
        permissions = tuple(permissions)
        if not all(isinstance(p, str) for p in permissions):
            raise _invalid("The principal's permissions are a list of strings")
        fields = {name: get(name) for name in ("role", "org_id", "type")}
        for name, field in fields.items():
            if field is not None and (not isinstance(field, str) or not 0 < len(field) <= _MAX_ID):
                raise _invalid(f"The principal's {name} is a string or null")
        return cls(id=id_, permissions=permissions, **fields)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" or allows(self.permissions, "db:admin")

    def may(self, permission: str) -> bool:
        return allows(self.permissions, permission)

    def belongs_to(self, org_id: str | None) -> bool:
        """Whether this principal acts as a member of `org_id` (None belongs to nobody)."""
        return org_id is not None and org_id == self.org_id


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="INVALID_PRINCIPAL")


def require(principal: Principal, permission: str) -> Principal:
    """The principal, if it holds `permission` (`db:read`, `db:write`); else 403 `FORBIDDEN` naming it."""
    if not principal.may(permission):
        raise Forbidden(f"This needs the permission {permission!r}", details={"permission": permission})
    return principal


def condition(principal: Principal, scope: Scope, table: str = "things") -> tuple[str, list[Any]]:
    """A SQL condition on `table` (a name or alias of `things`) true for the rows `principal` may `scope`,
    and its parameters."""
    if principal.is_admin:
        return "1", []
    t = table
    terms, params = [f"{t}.owner_id = ?"], [principal.id]
    if principal.org_id is not None:
        terms.append(f"{t}.org_id = ?")
        params.append(principal.org_id)
    open_to_all = _OPEN[scope]
    if open_to_all:
        marks = ", ".join("?" for _ in open_to_all)
        terms.append(f"{t}.visibility IN ({marks})")
        params += open_to_all
    return f"({t}.owner_id IS NOT NULL AND ({' OR '.join(terms)}))", params


def allowed(principal: Principal, scope: Scope, row: Mapping[str, Any]) -> bool:
    """Whether `principal` may `scope` this thing (a stored row or a thing as the API shows it)."""
    if principal.is_admin:
        return True
    if row.get("owner_id") is None:
        return False
    if row["owner_id"] == principal.id or principal.belongs_to(row.get("org_id")):
        return True
    return row.get("visibility") in _OPEN[scope]


def may_assign_org(principal: Principal, org_id: str | None) -> bool:
    """Whether `principal` may put a thing (or an edge) in `org_id`: one it belongs to, any for admins."""
    return org_id is None or principal.is_admin or principal.belongs_to(org_id)
