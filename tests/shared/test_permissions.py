"""Permission strings and what grants them."""

import pytest

from shared.permissions import ROLES, allows, role_permissions, valid_permission


@pytest.mark.parametrize(
    ("granted", "needed", "expected"),
    [
        (["db:read"], "db:read", True),
        (["db:read"], "db:write", False),
        (["db:*"], "db:write", True),
        (["db:*"], "dbx:write", False),
        (["*"], "deploy", True),
        (["deploy"], "deploy", True),
        (["deploy"], "deploy:prod", False),
        (["deploy:*"], "deploy", True),  # every action on deploy includes deploying
        ([], "db:read", False),
        (["db:read"], "*", False),
        (["db:*"], "*", False),
        (["db:read"], "db:*", False),
        (["db:*"], "db:*", True),
    ],
)
def test_allows(granted, needed, expected):
    assert allows(granted, needed) is expected


@pytest.mark.parametrize("value", ["db:read", "deploy", "*", "db:*", "api-keys:write", "queue_jobs:read"])
def test_valid_permissions(value):
    assert valid_permission(value)


@pytest.mark.parametrize("value", ["", "DB:read", "db:", ":read", "db:read:x", "db read", "*:*", "d" * 40, None, 3])
def test_invalid_permissions(value):
    assert not valid_permission(value)


def test_roles_are_ordered_by_power():
    assert role_permissions("admin") == ("*",)
    assert set(role_permissions("viewer")) < set(role_permissions("user"))
    assert all(p.endswith(":read") for p in role_permissions("viewer"))
    assert role_permissions("nobody") == ()
    assert role_permissions(None) == ()
    assert all(valid_permission(p) for perms in ROLES.values() for p in perms)
