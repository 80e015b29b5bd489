"""API keys against a clock the test moves: `expires_at` to the second, `last_used_at` at most once a minute.

The clock is `shared.clock` in this process: auth's, which also stamps the records it stores.
"""

import datetime
from types import SimpleNamespace

import pytest
from conftest import BOOTSTRAP_KEY, bearer
from helpers import make_key

import shared.clock
import store
from shared.clock import to_iso

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Clock:
    """A stopped clock for `shared.clock`: `advance(seconds)` moves it."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)

    def iso(self, seconds: float = 0) -> str:
        return to_iso(self.now + datetime.timedelta(seconds=seconds))


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()

    class StoppedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return fake.now.astimezone(tz)

    stand_in = SimpleNamespace(datetime=StoppedDatetime, UTC=datetime.UTC, timedelta=datetime.timedelta)
    monkeypatch.setattr(shared.clock, "datetime", stand_in)
    return fake


async def status_of(auth, key: str) -> int:
    return (await auth.fetch("/me", headers=bearer(key))).status


async def test_a_key_works_until_its_expires_at_and_not_a_moment_longer(auth, clock):
    key, record = await make_key(auth, ["db:read"], expires_at=clock.iso(3600))
    assert record["expires_at"] == clock.iso(3600)
    principal = await auth.rpc("validate_api_key", key)
    clock.advance(3599)
    assert await status_of(auth, key) == 200
    assert (await auth.rpc("check_permission", principal, "db:read"))["allowed"] is True
    clock.advance(1)  # now == expires_at
    assert await status_of(auth, key) == 401
    assert (await auth.rpc("check_permission", principal, "db:read"))["allowed"] is False
    clock.advance(86400)
    with pytest.raises(Exception, match="INVALID_API_KEY"):
        await auth.rpc("validate_api_key", key)


async def test_expires_in_days_counts_from_now(auth, clock):
    key, record = await make_key(auth, ["db:read"], expires_in_days=2)
    assert record["expires_at"] == clock.iso(2 * 86400)
    clock.advance(2 * 86400 - 1)
    assert await status_of(auth, key) == 200
    clock.advance(1)
    assert await status_of(auth, key) == 401


async def test_expires_at_must_lie_ahead_of_the_clock(auth, clock):
    body = {"name": "x", "permissions": ["db:read"], "expires_at": clock.iso(-1)}

    reply = await auth.fetch("/apikeys", method="POST", json=body, headers=bearer(BOOTSTRAP_KEY))
    assert (reply.status, (await reply.json())["error"]["code"]) == (400, "VALIDATION_ERROR")
    ok = await auth.fetch(
        "/apikeys", method="POST", json=body | {"expires_at": clock.iso(1)}, headers=bearer(BOOTSTRAP_KEY)
    )
    assert ok.status == 201


async def test_last_used_at_is_written_at_most_once_a_minute(auth, clock):
    key, record = await make_key(auth, ["db:read"])
    assert record["last_used_at"] is None

    async def last_used() -> str | None:
        return (await store.get(auth.env, "api_keys", record["id"]))["last_used_at"]

    await auth.rpc("validate_api_key", key)
    first = clock.iso()
    assert await last_used() == first
    clock.advance(59)
    await auth.rpc("validate_api_key", key)
    assert await last_used() == first  # within the minute: not written again
    clock.advance(1)
    await auth.rpc("validate_api_key", key)
    assert await last_used() == clock.iso()
    # a refused use (wrong secret) leaves it alone
    clock.advance(120)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert await status_of(auth, forged) == 401
    assert await last_used() == clock.iso(-120)
