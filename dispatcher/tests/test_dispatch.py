"""The dispatcher worker's fetch: forwarding, stripped headers, request ids and error envelopes."""

import pytest
from workers import Response

from dotdo_dev.testing import WorkerHarness


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


async def echo(request):
    return Response.json({"url": request.url, "headers": dict(request.headers.items())})


async def broken(request):
    raise RuntimeError("secret internals")


@pytest.fixture
def namespace():
    return FakeNamespace({"db": echo, "broken": broken})


@pytest.fixture
def dispatcher(root, tmp_path, namespace):
    return WorkerHarness(root, state_dir=tmp_path, bindings={"DISPATCHER": namespace})


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


async def test_body_and_method_are_forwarded(dispatcher, namespace):
    await dispatcher.fetch("http://db.do/things", method="POST", body=b"\x00payload")
    name, request = namespace.seen[-1]
    assert name == "db"
    assert request.method.value == "POST"
    assert await request.bytes() == b"\x00payload"


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


async def test_missing_namespace_binding_is_a_configuration_error(root, tmp_path):
    alone = WorkerHarness(root, state_dir=tmp_path, bindings={"DISPATCHER": None})
    reply = await alone.fetch("http://db.do/x")
    assert reply.status == 500
    assert (await reply.json())["error"]["code"] == "CONFIGURATION_ERROR"


async def test_environment_selects_the_namespace(root):
    from dotdo_dev.config import load_worker

    assert load_worker(root).dispatch_namespaces[0].namespace == "dotdo-production"
    assert load_worker(root, environment="staging").dispatch_namespaces[0].namespace == "dotdo-staging"
    assert load_worker(root, environment="development").vars["ENVIRONMENT"] == "development"
