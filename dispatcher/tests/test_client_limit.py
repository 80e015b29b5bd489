"""The front door's limit: every host and path spends the client address's budget before routing."""

import pytest
from test_dispatch import FakeNamespace, FakeService, echo
from workers import Response

import client_limit
from dotdo_dev.config import load_worker
from dotdo_dev.runtime.bindings.rate_limits import RateLimit, RateLimitConfig, RateLimitCounters
from dotdo_dev.testing import WorkerHarness

WINDOW_START = 1_800_000_000.0  # a multiple of 60: a window of the binding starts here
LIMIT = 3


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Auth:
    """Stands in for auth behind db.do: counts the lookups a bearer token costs, refuses them all."""

    def __init__(self) -> None:
        self.lookups = 0

    async def db(self, request):
        self.lookups += 1
        return Response.json({"success": False, "error": {"code": "INVALID_API_KEY"}}, status=401)


@pytest.fixture
def clock():
    return Clock(WINDOW_START)


@pytest.fixture
def auth():
    return Auth()


@pytest.fixture
def namespace():
    return FakeNamespace({"orders": echo})


@pytest.fixture
def services(auth):
    """The account-level services' bindings: db.do is auth.db, the rest answer 200."""
    return {
        "DB_SERVICE": FakeService("db", auth.db),
        "AUTH_SERVICE": FakeService("auth", echo),
        "GATEWAY_SERVICE": FakeService("gateway", echo),
        "DEPLOY_SERVICE": FakeService("deploy", echo),
    }


@pytest.fixture
def limited(root, tmp_path, namespace, services, clock):
    def make(*, limit=LIMIT):
        limiter = RateLimit(
            RateLimitConfig(client_limit.LIMITER, "1001", limit, 60), counters=RateLimitCounters(), clock=clock
        )
        bindings = {"DISPATCHER": namespace, client_limit.LIMITER: limiter, **services}
        return WorkerHarness(root, state_dir=tmp_path, bindings=bindings, clock=clock)

    return make


def ip(address):
    return {"CF-Connecting-IP": address}


async def statuses(dispatcher, url, headers, times):
    return [(await dispatcher.fetch(url, headers=headers)).status for _ in range(times)]


async def test_refused_with_a_429_envelope_and_retry_after_before_any_routing(limited, namespace):
    dispatcher = limited()
    assert await statuses(dispatcher, "http://orders.do/x", ip("203.0.113.7"), LIMIT) == [200] * LIMIT
    reached = len(namespace.seen)
    refused = await dispatcher.fetch("http://orders.do/x", headers=ip("203.0.113.7") | {"X-Request-ID": "trace-1"})
    assert refused.status == 429
    assert refused.headers.get("retry-after") == str(client_limit.RETRY_AFTER_SECONDS)
    assert refused.headers.get("content-type").startswith("application/json")
    body = await refused.json()
    assert body["success"] is False
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["details"] == {"retry_after": 60, "limited_by": "address"}
    assert body["meta"]["request_id"] == "trace-1"
    assert len(namespace.seen) == reached  # the refused request reached no service


async def test_every_host_and_path_spends_the_same_budget(limited):
    dispatcher = limited(limit=5)
    client = ip("198.51.100.20")
    urls = ["http://db.do/things", "http://auth.do/me", "http://do/api/orders/x", "http://do/", "http://example.com/"]
    first = [(await dispatcher.fetch(u, headers=client)).status for u in urls]
    assert first == [401, 200, 200, 200, 404]  # unrouted hosts spend it too: scanning is not free
    for url in urls:
        assert (await dispatcher.fetch(url, headers=client)).status == 429


async def test_refused_until_the_window_ends_then_admitted(limited, clock):
    dispatcher = limited()
    client = ip("203.0.113.9")
    assert await statuses(dispatcher, "http://orders.do/", client, LIMIT + 1) == [200] * LIMIT + [429]
    clock.now = WINDOW_START + 59.9
    assert await statuses(dispatcher, "http://orders.do/", client, 1) == [429]
    clock.now = WINDOW_START + 60
    assert await statuses(dispatcher, "http://orders.do/", client, LIMIT + 1) == [200] * LIMIT + [429]


async def test_addresses_are_independent(limited):
    dispatcher = limited(limit=1)
    assert await statuses(dispatcher, "http://orders.do/", ip("203.0.113.1"), 2) == [200, 429]
    assert await statuses(dispatcher, "http://orders.do/", ip("203.0.113.2"), 1) == [200]
    assert await statuses(dispatcher, "http://orders.do/", ip("2001:db8::1"), 1) == [200]


async def test_requests_without_an_address_share_the_bucket_unknown(limited):
    dispatcher = limited(limit=2)
    assert await statuses(dispatcher, "http://orders.do/", {}, 1) == [200]
    assert await statuses(dispatcher, "http://orders.do/", ip("not an address"), 1) == [200]
    assert await statuses(dispatcher, "http://orders.do/", ip(""), 1) == [429]
    assert await statuses(dispatcher, "http://orders.do/", ip("203.0.113.1"), 1) == [200]


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("203.0.113.7", "ip:203.0.113.7"),
        (" 203.0.113.7 ", "ip:203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "ip:2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "ip:2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "ip:203.0.113.7"),
        ("", "unknown"),
        (None, "unknown"),
        ("203.0.113.7, 10.0.0.1", "unknown"),
    ],
)
def test_client_key(header, key):
    assert client_limit.client_key({} if header is None else {"cf-connecting-ip": header}) == key


async def test_guessed_keys_at_db_spend_the_front_door_budget_and_the_last_never_reaches_auth(limited, auth):
    dispatcher = limited()
    replies = [
        await dispatcher.fetch(
            "http://db.do/things", headers=ip("192.0.2.66") | {"Authorization": f"Bearer sk_live_guess{n:04d}"}
        )
        for n in range(LIMIT + 1)
    ]
    assert [r.status for r in replies] == [401] * LIMIT + [429]
    assert (await replies[-1].json())["error"]["code"] == "RATE_LIMITED"
    assert auth.lookups == LIMIT  # the (N+1)-th guess cost no auth lookup


async def test_a_failing_limiter_lets_requests_through_and_is_logged(root, tmp_path, namespace, capsys):
    class Broken:
        async def limit(self, options):
            raise RuntimeError("limiter unavailable")

    bindings = {"DISPATCHER": namespace, client_limit.LIMITER: Broken()}
    dispatcher = WorkerHarness(root, state_dir=tmp_path, bindings=bindings)
    assert (await dispatcher.fetch("http://orders.do/", headers={"X-Request-ID": "trace-broken"})).status == 200
    logged = capsys.readouterr().out
    assert "rate limiter failed" in logged
    assert "trace-broken" in logged


async def test_no_limiter_bound_is_a_configuration_error(root, tmp_path, namespace):
    bindings = {"DISPATCHER": namespace, client_limit.LIMITER: None}
    dispatcher = WorkerHarness(root, state_dir=tmp_path, bindings=bindings)
    reply = await dispatcher.fetch("http://orders.do/")
    assert reply.status == 500
    assert (await reply.json())["error"]["code"] == "CONFIGURATION_ERROR"
    assert namespace.seen == []


@pytest.mark.parametrize("environment", [None, "staging", "development"])
def test_every_environment_binds_the_limiter_and_retry_after_is_its_period(root, environment):
    config = load_worker(root, environment=environment)
    (limiter,) = [r for r in config.ratelimits if r.name == client_limit.LIMITER]
    assert limiter.period == client_limit.RETRY_AFTER_SECONDS
    assert limiter.limit >= 600  # generous: a browser or a CI job from one address stays far below it
    ids = {load_worker(root, environment=e).ratelimits[0].namespace_id for e in (None, "staging", "development")}
    assert len(ids) == 3  # a shared namespace_id would share counters across environments


async def test_the_configured_limiter_is_the_local_binding(root, tmp_path, namespace):
    dispatcher = WorkerHarness(root, state_dir=tmp_path, bindings={"DISPATCHER": namespace})
    assert isinstance(dispatcher.env.FRONT_DOOR_LIMITER, RateLimit)
    assert dispatcher.env.FRONT_DOOR_LIMITER.config.limit == 600
