"""The gateway in-process: what reaches a service, and what the client gets when a service fails.

Services are stand-ins here (a recording fetcher); auth answers like the auth service; the dispatch
namespace is a stand-in that holds the scripts it is given and fails like Cloudflare's for the rest.
The rate limiter is the real Durable Object on the local runtime. tests/e2e runs the real services.
"""

import json

import pytest
from conftest import ROOT
from workers import Request, Response

from dotdo_dev.testing import WorkerHarness
from shared.errors import Unauthorized, rpc_error

PRINCIPAL = {
    "id": "usr_1",
    "type": "user",
    "auth": "api_key",
    "key_id": "key_1",
    "permissions": ["db:read", "db:write"],
}


class Auth:
    async def validate_token(self, token, request_id=None):
        if token != "good":
            raise rpc_error(Unauthorized("Invalid API key or token", code="INVALID_API_KEY"))
        return dict(PRINCIPAL)


class Admin:
    """Like Auth, with a principal that holds every permission."""

    async def validate_token(self, token, request_id=None):
        if token != "good":
            raise rpc_error(Unauthorized("Invalid API key or token", code="INVALID_API_KEY"))
        return dict(PRINCIPAL, id="usr_admin", permissions=["*"])


class Recorder:
    """A service binding that records what it was sent and answers 200 with `data` (or raises `fail`)."""

    def __init__(self, fail: Exception | None = None, data: dict | None = None):
        self.requests = []
        self.fail = fail
        self.data = data or {"seen": True}

    async def fetch(self, request, **options):
        if self.fail is not None:
            raise self.fail
        if not isinstance(request, Request):
            request = Request(request, **options)
        self.requests.append((request.method, request.url, dict(request.headers), await request.text()))
        return Response.json({"success": True, "data": self.data})


class Namespace:
    """Stands in for the dispatch namespace bound as NAMESPACE: `get(name)` of a script it does not hold
    fails on use with "Worker not found", as Cloudflare's does."""

    def __init__(self, scripts):
        self.scripts = scripts
        self.asked = []

    def get(self, name, args=None, options=None):
        self.asked.append(name)
        if name in self.scripts:
            return self.scripts[name]
        return Recorder(fail=Exception(f"Worker not found: {name!r} in dispatch namespace 'dotdo-production'"))


@pytest.fixture
def db():
    return Recorder()


@pytest.fixture
def orders():
    return Recorder(data={"orders": []})


@pytest.fixture
def namespace(orders):
    return Namespace({"orders": orders})


@pytest.fixture
def gateway(tmp_path, db, namespace):
    bindings = {"AUTH_SERVICE": Auth(), "DB_SERVICE": db, "NAMESPACE": namespace}
    return WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings, host="gateway.do")


GOOD = {"authorization": "Bearer good"}


async def test_the_service_gets_its_own_path_the_request_id_and_the_principal(gateway, db):
    reply = await gateway.fetch(
        "/db/things/a?x=1",
        method="POST",
        body='{"k": 1}',
        headers=GOOD
        | {"x-request-id": "trace-1", "x-dotdo-principal": '{"id": "usr_evil"}', "content-type": "application/json"},
    )
    assert reply.status == 200
    method, url, headers, body = db.requests[0]
    assert (method, url, body) == ("POST", "http://gateway.do/things/a?x=1", '{"k": 1}')
    assert headers["x-request-id"] == "trace-1"
    assert json.loads(headers["x-dotdo-principal"]) == PRINCIPAL  # the gateway's, not the client's
    assert headers["authorization"] == "Bearer good"
    assert reply.headers.get("x-request-id") == "trace-1"
    assert reply.headers.get("x-ratelimit-remaining") == "59"


async def test_a_failing_service_is_a_502_without_internals(tmp_path):
    broken = Recorder(fail=RuntimeError("database password=hunter2 rejected"))
    gateway = WorkerHarness(ROOT, state_dir=tmp_path, bindings={"AUTH_SERVICE": Auth(), "DB_SERVICE": broken})
    reply = await gateway.fetch("/db/things", headers=GOOD)
    body = await reply.json()
    assert (reply.status, body["error"]["code"]) == (502, "UPSTREAM_ERROR")
    assert "hunter2" not in json.dumps(body)


async def test_a_service_that_is_not_running_is_a_503(tmp_path):
    gone = Recorder(fail=RuntimeError("Service binding to 'db': that worker is not running on the local platform"))
    gateway = WorkerHarness(ROOT, state_dir=tmp_path, bindings={"AUTH_SERVICE": Auth(), "DB_SERVICE": gone})
    reply = await gateway.fetch("/db/things", headers=GOOD)
    assert (reply.status, (await reply.json())["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")


async def test_refusals_before_the_service(gateway, db, namespace):
    cases = [
        ("/db/things", {}, 401, "UNAUTHORIZED"),
        ("/db/things", {"authorization": "Bearer bad"}, 401, "INVALID_API_KEY"),
        ("/nowhere!/x", GOOD, 404, "ROUTE_NOT_FOUND"),
        ("/gateway/health", GOOD, 404, "ROUTE_NOT_FOUND"),  # not behind itself
        ("/orders/items", {}, 401, "UNAUTHORIZED"),
        ("/queue/jobs", GOOD, 403, "FORBIDDEN"),  # queue:read, which the principal lacks
    ]
    for path, headers, status, code in cases:
        reply = await gateway.fetch(path, headers=headers)
        assert (reply.status, (await reply.json())["error"]["code"]) == (status, code), path
    assert db.requests == []
    assert namespace.scripts["orders"].requests == []


async def test_a_namespace_service_is_reached_through_the_namespace_and_never_db_through_it(tmp_path, db, orders):
    namespace = Namespace({"orders": orders})
    admin = {"AUTH_SERVICE": Admin(), "DB_SERVICE": db, "NAMESPACE": namespace}
    gateway = WorkerHarness(ROOT, state_dir=tmp_path, bindings=admin, host="gateway.do")
    reply = await gateway.fetch("/orders/items?x=1", method="POST", body="{}", headers=GOOD)
    assert reply.status == 200
    assert (await reply.json())["data"] == {"orders": []}
    method, url, headers, _ = orders.requests[0]
    assert (method, url) == ("POST", "http://gateway.do/items?x=1")
    assert json.loads(headers["x-dotdo-principal"])["id"] == "usr_admin"
    assert (await gateway.fetch("/db/things", headers=GOOD)).status == 200
    assert namespace.asked == ["orders"]  # db went through DB_SERVICE, not the namespace
    assert len(db.requests) == 1


async def test_a_service_missing_from_the_namespace_is_a_404_not_deployed(tmp_path, db):
    namespace = Namespace({})
    admin = {"AUTH_SERVICE": Admin(), "DB_SERVICE": db, "NAMESPACE": namespace}
    gateway = WorkerHarness(ROOT, state_dir=tmp_path, bindings=admin, host="gateway.do")
    reply = await gateway.fetch("/billing/x", headers=GOOD)
    body = await reply.json()
    assert (reply.status, body["error"]["code"]) == (404, "SERVICE_NOT_DEPLOYED")
    assert body["error"]["details"] == {"service": "billing"}
    assert "dotdo-production" not in json.dumps(body)
    assert namespace.asked == ["billing"]


async def test_a_namespace_service_without_the_namespace_binding_is_not_bound(tmp_path, db):
    gateway = WorkerHarness(
        ROOT,
        state_dir=tmp_path,
        bindings={"AUTH_SERVICE": Admin(), "DB_SERVICE": db, "NAMESPACE": None},
        host="gateway.do",
    )
    reply = await gateway.fetch("/orders/items", headers=GOOD)
    assert (reply.status, (await reply.json())["error"]["code"]) == (404, "SERVICE_NOT_BOUND")
    assert (await gateway.fetch("/db/things", headers=GOOD)).status == 200  # account-level: its own binding


def test_the_gateways_namespace_is_the_dispatchers_in_every_environment():
    from dotdo_dev.config import load_worker

    for environment in (None, "staging", "development"):
        mine = load_worker(ROOT, environment=environment).dispatch_namespaces
        theirs = load_worker(ROOT.parents[1] / "dispatcher", environment=environment).dispatch_namespaces
        assert [(n.binding, n.namespace) for n in mine] == [("NAMESPACE", theirs[0].namespace)], environment
        assert theirs[0].namespace == f"dotdo-{environment or 'production'}"


async def test_health_is_public_and_deep_health_asks_each_bound_service(gateway, db):
    reply = await gateway.fetch("/health")
    assert (await reply.json())["data"] == {"service": "gateway", "status": "ok", "version": "0.1.0"}
    deep = (await (await gateway.fetch("/health?deep=1")).json())["data"]
    assert deep["services"]["db"] == {"status": "ok", "http_status": 200}
    assert deep["services"]["auth"] == {"status": "unreachable"}  # the stand-in has no fetch
    assert deep["status"] == "degraded"


async def test_deep_health_asks_namespace_services_through_the_namespace(tmp_path, db, orders, monkeypatch):
    import routing

    table = {"read": "", "write": "", "rate_class": "default", "public": []}
    for name in ("orders", "invoices"):  # as create-service's manifests say: placement "namespace"
        entry = {"name": name, "placement": "namespace", "gateway": table}
        monkeypatch.setitem(routing.ROUTES, name, routing.route_of(entry))
    namespace = Namespace({"orders": orders})
    ok = Answers(200, '{"success": true, "data": {}}')
    from shared.registry import SERVICES

    # every account-level service the gateway binds answers ok (whichever the registry holds today)
    account = {s["binding"]: ok for s in SERVICES.values() if s.get("placement") == "account" and s.get("binding")}
    bindings = account | {"DB_SERVICE": db, "NAMESPACE": namespace}
    gateway = WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings, host="gateway.do")
    deep = (await (await gateway.fetch("/health?deep=1")).json())["data"]
    assert deep["services"]["orders"] == {"status": "ok", "http_status": 200}
    assert deep["services"]["invoices"] == {"status": "not_deployed"}  # in the registry, not in the namespace
    assert deep["status"] == "ok"  # a service not deployed here is no fault of the gateway's
    assert sorted(namespace.asked) == ["invoices", "orders"]


async def test_deep_health_passes_on_a_service_that_reports_itself_degraded(tmp_path):
    # db answers 200 but says its storage takes no writes: the gateway must not call that "ok".
    degraded = Recorder(data={"status": "degraded", "storage": {"writable": False, "problem": "The storage is full"}})
    gateway = WorkerHarness(
        ROOT, state_dir=tmp_path, bindings={"AUTH_SERVICE": Auth(), "DB_SERVICE": degraded}, host="gateway.do"
    )
    deep = (await (await gateway.fetch("/health?deep=1")).json())["data"]
    assert deep["services"]["db"] == {"status": "degraded", "http_status": 200}
    assert deep["status"] == "degraded"
    assert degraded.requests[0][1].endswith("/health?deep=1")  # the service's own deep check was asked for


async def test_refused_credentials_spend_the_client_ips_budget(gateway, db):
    ip = {"cf-connecting-ip": "198.51.100.9", "authorization": "Bearer bad"}
    statuses = [(await gateway.fetch("/db/things", headers=ip)).status for _ in range(62)]
    assert statuses == [401] * 60 + [429] * 2  # RATE_LIMIT_DEFAULT = 60 per minute
    other_ip = await gateway.fetch("/db/things", headers={"cf-connecting-ip": "198.51.100.10"} | GOOD)
    assert other_ip.status == 200
    assert db.requests  # a good key from elsewhere is not affected


class Answers:
    """A service binding that answers every request with `status` and `body`."""

    def __init__(self, status: int, body: str):
        self.status, self.body = status, body

    async def fetch(self, request, **options):
        return Response(self.body, status=self.status, headers={"content-type": "application/json"})


async def test_deep_health_tells_a_restarting_service_from_a_failing_one(tmp_path):
    # The local platform answers 503 WORKER_RESTARTING for a service whose process it is restarting.
    restarting = json.dumps({"success": False, "error": {"code": "WORKER_RESTARTING", "message": "m", "details": None}})
    gateway = WorkerHarness(
        ROOT,
        state_dir=tmp_path,
        bindings={"AUTH_SERVICE": Answers(500, "Internal Server Error"), "DB_SERVICE": Answers(503, restarting)},
        host="gateway.do",
    )
    deep = (await (await gateway.fetch("/health?deep=1")).json())["data"]
    assert deep["services"]["db"] == {"status": "restarting", "http_status": 503, "code": "WORKER_RESTARTING"}
    assert deep["services"]["auth"] == {"status": "failing", "http_status": 500}  # not JSON: no code
    assert deep["status"] == "degraded"


async def test_deep_health_calls_a_200_that_is_not_json_unreachable(tmp_path):
    gateway = WorkerHarness(
        ROOT,
        state_dir=tmp_path,
        bindings={"AUTH_SERVICE": Auth(), "DB_SERVICE": Answers(200, "<html>")},
        host="gateway.do",
    )
    deep = (await (await gateway.fetch("/health?deep=1")).json())["data"]
    assert deep["services"]["db"] == {"status": "unreachable"}
