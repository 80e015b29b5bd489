"""The dispatcher worker's fetch: forwarding, stripped headers, request ids and error envelopes.

Account-level services (gateway, auth, db, deploy) are reached through their service bindings, every
other service through the dispatch namespace: both are stand-ins here that record what they were asked.
"""

import pytest
from workers import Response

from dotdo_dev.testing import WorkerHarness
from shared.registry import SERVICES


class FakeNamespace:
    """Stands in for Cloudflare's dispatch namespace (it only exists remotely)."""

    def __init__(self, scripts):
        self.scripts = scripts
        self.seen = []

    def get(self, name, args=None, options=None):
        namespace = self

        class Worker:
            async def fetch(self, request):
                namespace.seen.append((name, request))
                if name not in namespace.scripts:
                    raise Exception(f"Worker not found: {name}")
                return await namespace.scripts[name](request)

        return Worker()


class FakeService:
    """Stands in for a service binding to an account-level Worker: `fetch` answers with `handler`."""

    def __init__(self, name, handler):
        self.name = name
        self.handler = handler
        self.seen = []

    async def fetch(self, request, **options):
        self.seen.append(request)
        return await self.handler(request)


class Gone:
    """A service binding whose worker the local platform does not run (the local runtime's words)."""

    def __init__(self, name):
        self.name = name

    async def fetch(self, request, **options):
        raise RuntimeError(f"Service binding to {self.name!r}: that worker is not running on the local platform")


async def echo(request):
    return Response.json({"url": request.url, "headers": dict(request.headers.items())})


async def broken(request):
    raise RuntimeError("secret internals")


ACCOUNT_LEVEL = {
    "gateway": "GATEWAY_SERVICE",
    "auth": "AUTH_SERVICE",
    "db": "DB_SERVICE",
    "deploy": "DEPLOY_SERVICE",
    "email": "EMAIL_SERVICE",
    "mcp": "MCP_SERVICE",
    "queue": "QUEUE_SERVICE",
    "schedule": "SCHEDULE_SERVICE",
    "webhooks": "WEBHOOKS_SERVICE",
}


@pytest.fixture
def namespace():
    # It even holds scripts named like the account-level services: the dispatcher must never ask for them.
    return FakeNamespace({"orders": echo, "broken": broken, **{name: echo for name in ACCOUNT_LEVEL}})


@pytest.fixture
def services():
    return {binding: FakeService(name, echo) for name, binding in ACCOUNT_LEVEL.items()}


@pytest.fixture
def dispatcher(root, tmp_path, namespace, services):
    return WorkerHarness(root, state_dir=tmp_path, bindings={"DISPATCHER": namespace, **services})


def test_the_account_level_services_are_the_registrys():
    import dispatch

    assert dispatch.ACCOUNT_LEVEL == ACCOUNT_LEVEL
    assert {n for n, s in SERVICES.items() if s["placement"] == "account"} == {*ACCOUNT_LEVEL, "dispatcher"}


async def test_forwards_to_a_namespace_service_with_path_stripped_and_query_kept(dispatcher, namespace, services):
    reply = await dispatcher.fetch("http://do/api/orders/items?limit=2")
    assert (await reply.json())["url"] == "http://do/items?limit=2"
    assert [name for name, _ in namespace.seen] == ["orders"]
    assert not any(s.seen for s in services.values())  # a generated service is never reached by a binding


async def test_an_account_level_service_goes_through_its_binding_never_the_namespace(dispatcher, namespace, services):
    for url in ("http://do/api/db/things?limit=2", "http://db.do/things?limit=2", "http://database.do/things?limit=2"):
        reply = await dispatcher.fetch(url)
        assert reply.status == 200, url
        assert (await reply.json())["url"].endswith("/things?limit=2")
    assert len(services["DB_SERVICE"].seen) == 3
    for host, binding in (
        ("auth.do", "AUTH_SERVICE"),
        ("gateway.do", "GATEWAY_SERVICE"),
        ("deploy.do", "DEPLOY_SERVICE"),
    ):
        assert (await dispatcher.fetch(f"http://{host}/health")).status == 200
        assert len(services[binding].seen) == 1, binding
    assert (await dispatcher.fetch("http://do/x")).status == 200  # the bare domain's default: the gateway
    assert len(services["GATEWAY_SERVICE"].seen) == 2
    assert namespace.seen == []  # DISPATCHER.get was never called for them


async def test_an_unknown_or_versioned_service_is_looked_for_in_the_namespace_only(dispatcher, namespace, services):
    missing = await dispatcher.fetch("http://invoices.do/x")
    assert (missing.status, (await missing.json())["error"]["code"]) == (404, "SERVICE_NOT_DEPLOYED")
    versioned = await dispatcher.fetch("http://v2.db.do/x")  # db-v2: not the account-level db
    assert (versioned.status, (await versioned.json())["error"]["code"]) == (404, "SERVICE_NOT_DEPLOYED")
    assert [name for name, _ in namespace.seen] == ["invoices", "db-v2"]
    assert not any(s.seen for s in services.values())


async def test_an_account_level_service_whose_worker_is_not_running_is_not_deployed(root, tmp_path, namespace):
    alone = WorkerHarness(root, state_dir=tmp_path, bindings={"DISPATCHER": namespace, "DB_SERVICE": Gone("db")})
    reply = await alone.fetch("http://db.do/x")
    body = await reply.json()
    assert (reply.status, body["error"]["code"]) == (404, "SERVICE_NOT_DEPLOYED")
    assert body["error"]["details"] == {"service": "db", "environment": "production"}
    assert namespace.seen == []


async def test_a_failing_account_level_service_is_a_502_without_internals(root, tmp_path, namespace):
    bindings = {"DISPATCHER": namespace, "DB_SERVICE": FakeService("db", broken)}
    reply = await WorkerHarness(root, state_dir=tmp_path, bindings=bindings).fetch("http://db.do/x")
    assert reply.status == 502
    text = await reply.text()
    assert "WORKER_ERROR" in text
    assert "secret internals" not in text


async def test_a_missing_service_binding_is_a_configuration_error(root, tmp_path, namespace):
    alone = WorkerHarness(root, state_dir=tmp_path, bindings={"DISPATCHER": namespace, "DB_SERVICE": None})
    reply = await alone.fetch("http://db.do/x")
    assert (reply.status, (await reply.json())["error"]["code"]) == (500, "CONFIGURATION_ERROR")
    assert namespace.seen == []  # not looked for in the namespace instead
    assert (await alone.fetch("http://orders.do/x")).status == 200  # the namespace still serves the rest


async def test_forwards_with_path_stripped_and_query_kept(dispatcher):
    reply = await dispatcher.fetch("http://do/api/db/things?limit=2")
    assert (await reply.json())["url"] == "http://do/things?limit=2"


async def test_request_id_is_created_or_honoured_and_forwarded(dispatcher):
    created = await (await dispatcher.fetch("http://db.do/x")).json()
    assert created["headers"]["x-request-id"].startswith("req_")
    kept = await (await dispatcher.fetch("http://db.do/x", headers={"X-Request-ID": "trace-1"})).json()
    assert kept["headers"]["x-request-id"] == "trace-1"
    bad = await (await dispatcher.fetch("http://db.do/x", headers={"X-Request-ID": "bad id!"})).json()
    assert bad["headers"]["x-request-id"].startswith("req_")


async def test_client_cannot_set_version_overrides_or_platform_headers(dispatcher):
    headers = {
        "Cloudflare-Workers-Version-Overrides": 'db="abc"',
        "x-dotdo-principal": "admin",
        "Authorization": "Bearer kept",
    }
    seen = (await (await dispatcher.fetch("http://db.do/x", headers=headers)).json())["headers"]
    assert "cloudflare-workers-version-overrides" not in seen
    assert "x-dotdo-principal" not in seen
    assert seen["authorization"] == "Bearer kept"


async def test_body_and_method_are_forwarded(dispatcher, namespace, services):
    await dispatcher.fetch("http://orders.do/things", method="POST", body=b"\x00payload")
    name, request = namespace.seen[-1]
    assert name == "orders"
    assert request.method.value == "POST"
    assert await request.bytes() == b"\x00payload"
    await dispatcher.fetch("http://db.do/things", method="PUT", body=b"\x01db")
    request = services["DB_SERVICE"].seen[-1]
    assert request.method.value == "PUT"
    assert await request.bytes() == b"\x01db"


async def test_errors_are_envelopes(dispatcher):
    missing = await dispatcher.fetch("http://nope.do/x")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "SERVICE_NOT_DEPLOYED"
    unrouted = await dispatcher.fetch("http://example.com/x")
    assert unrouted.status == 404
    assert (await unrouted.json())["error"]["code"] == "SERVICE_NOT_FOUND"
    failed = await dispatcher.fetch("http://broken.do/x")
    assert failed.status == 502
    text = await failed.text()
    assert "WORKER_ERROR" in text
    assert "secret internals" not in text


async def test_missing_namespace_binding_is_a_configuration_error(root, tmp_path, services):
    alone = WorkerHarness(root, state_dir=tmp_path, bindings={"DISPATCHER": None, **services})
    reply = await alone.fetch("http://orders.do/x")
    assert reply.status == 500
    assert (await reply.json())["error"]["code"] == "CONFIGURATION_ERROR"
    assert (await alone.fetch("http://db.do/x")).status == 200  # account-level: its own binding


async def test_environment_selects_the_namespace(root):
    from dotdo_dev.config import load_worker

    assert load_worker(root).dispatch_namespaces[0].namespace == "dotdo-production"
    assert load_worker(root, environment="staging").dispatch_namespaces[0].namespace == "dotdo-staging"
    assert load_worker(root, environment="development").vars["ENVIRONMENT"] == "development"
    for environment in (None, "staging", "development"):  # the account-level Workers of each environment
        bound = {s.binding: s.service for s in load_worker(root, environment=environment).services}
        suffix = f"-{environment}" if environment else ""  # wrangler deploys them as <name>-<env>
        assert bound == {binding: name + suffix for name, binding in ACCOUNT_LEVEL.items()}, environment
