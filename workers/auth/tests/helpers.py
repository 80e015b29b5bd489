"""Small helpers shared by the auth tests."""

from typing import Any

from conftest import BOOTSTRAP_KEY, bearer

import store


async def new_user(auth, role: str = "user", **values: Any) -> dict:
    """A user stored straight into auth's database (no permission check)."""
    return await store.insert(auth.env, "users", {"role": role, **values})


async def make_key(auth, permissions: list[str], *, owner_id: str | None = None, as_key: str = BOOTSTRAP_KEY, **extra):
    """Create a key over HTTP (as the bootstrap admin unless `as_key`); returns (key, record)."""
    body = {"name": "test", "permissions": permissions, **extra}
    if owner_id is not None:
        body["owner_id"] = owner_id
    reply = await auth.fetch("/apikeys", method="POST", json=body, headers=bearer(as_key))
    assert reply.status == 201, await reply.text()
    data = (await reply.json())["data"]
    return data["key"], data["api_key"]


async def user_key(auth, permissions: list[str], role: str = "user"):
    """A new user with `role` and a key of theirs with `permissions`: (user, key, record)."""
    user = await new_user(auth, role)
    key, record = await make_key(auth, permissions, owner_id=user["id"])
    return user, key, record
