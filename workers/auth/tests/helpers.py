"""Small helpers shared by the auth tests."""

from typing import Any

from conftest import BOOTSTRAP_KEY, bearer

from dotdo_dev.runtime.bindings.services import Fetcher


def db(platform) -> Fetcher:
    """The db worker's RPC interface, as auth itself sees it."""
    return Fetcher(platform.peers, "db")


async def new_user(platform, role: str = "user", **values: Any) -> dict:
    return await db(platform).insert_record("users", {"role": role, **values})


async def make_key(auth, permissions: list[str], *, owner_id: str | None = None, as_key: str = BOOTSTRAP_KEY, **extra):
    """Create a key over HTTP (as the bootstrap admin unless `as_key`); returns (key, record)."""
    body = {"name": "test", "permissions": permissions, **extra}
    if owner_id is not None:
        body["owner_id"] = owner_id
    reply = await auth.fetch("/apikeys", method="POST", json=body, headers=bearer(as_key))
    assert reply.status == 201, await reply.text()
    data = (await reply.json())["data"]
    return data["key"], data["api_key"]


async def user_key(auth, platform, permissions: list[str], role: str = "user"):
    """A new user with `role` and a key of theirs with `permissions`: (user, key, record)."""
    user = await new_user(platform, role)
    key, record = await make_key(auth, permissions, owner_id=user["id"])
    return user, key, record
