"""The local platform end to end: real worker processes, real HTTP on loopback, real SQLite state.

Fixture workers (tests/fixtures/workers): `caller` reaches `callee` over service bindings; the real
dispatcher sits in front, as with `make dev`.
"""

import asyncio
import datetime
import json
import shutil
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from dotdo_dev.platform import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "workers"
CONFIGS = [ROOT / "dispatcher" / "wrangler.jsonc", FIXTURES / "caller" / "wrangler.jsonc"]
CONFIGS.append(FIXTURES / "callee" / "wrangler.jsonc")

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    async with LocalPlatform(ROOT, configs=CONFIGS, state_dir=state, port=0) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=10) as client:
        yield client


async def rpc(platform, method, *args):
    return await platform.peers.rpc("caller", None, method, args, {})


# -- routing through the dispatcher ------------------------------------------------------------------


async def test_host_routes_to_the_worker(http):
    reply = await http.get("/health", headers={"Host": "callee.do"})
    assert reply.status_code == 200
    assert reply.json() == {"success": True, "data": {"worker": "callee"}}


async def test_localhost_subdomain_and_api_path_route_the_same(http):
    by_host = await http.get("/health", headers={"Host": "callee.localhost:8787"})
    by_path = await http.get("/api/callee/health")
    assert by_host.json() == by_path.json() == {"success": True, "data": {"worker": "callee"}}


async def test_api_path_prefix_is_stripped(http):
    reply = await http.get("/api/callee/some/where?x=1")
    assert reply.json() == {"worker": "callee", "path": "/some/where"}


async def test_missing_service_is_a_404_envelope(http):
    reply = await http.get("/health", headers={"Host": "missing.do"})
    assert reply.status_code == 404
    body = reply.json()
    assert body["success"] is False
    assert body["error"]["code"] == "SERVICE_NOT_DEPLOYED"
    assert body["meta"]["request_id"]


async def test_failing_worker_is_a_5xx_envelope_without_internals(http):
    reply = await http.get("/boom", headers={"Host": "callee.do"})
    assert 500 <= reply.status_code < 600
    body = reply.json()
    assert body["success"] is False
    assert body["error"]["code"] == "WORKER_ERROR"
    assert "boom from callee" not in reply.text
    assert "Traceback" not in reply.text


async def test_request_reaches_the_worker_with_method_headers_and_body(http):
    reply = await http.post("/echo", headers={"Host": "callee.do", "X-Custom": "1"}, content=b"payload")
    echo = reply.json()
    assert echo["method"] == "POST"
    assert echo["body"] == "payload"
    assert echo["headers"]["x-custom"] == "1"
    assert echo["url"] == "http://callee.do/echo"
    assert not any(k.startswith("x-dotdo") for k in echo["headers"])


async def test_a_client_cannot_pose_as_an_internal_call(http):
    # Without the platform's token, /__dotdo/rpc is just a path of the worker's own fetch.
    payload = json.dumps({"entrypoint": None, "method": "greeting", "args": [], "kwargs": {}})
    reply = await http.post(
        "/__dotdo/rpc", headers={"Host": "callee.do", "x-dotdo-runtime-token": "guess"}, content=payload
    )
    assert reply.json() == {"worker": "callee", "path": "/__dotdo/rpc"}


# -- service-binding RPC --------------------------------------------------------------------------


async def test_rpc_calls_a_method_on_the_other_worker(platform):
    assert await rpc(platform, "call", "add", [2, 3]) == 5
    assert await rpc(platform, "call", "greeting", []) == "hello"


async def test_rpc_values_cross_as_on_cloudflare(platform):
    value = {"n": None, "f": 1.5, "whole": 2.0, "s": "x", "list": [1, "a"], "nested": {"b": b"\x00\xff"}}
    echoed = await rpc(platform, "call", "echo", [value])
    assert echoed == {"n": None, "f": 1.5, "whole": 2, "s": "x", "list": [1, "a"], "nested": {"b": b"\x00\xff"}}
    assert isinstance(echoed["whole"], int)  # JavaScript has one number type
    assert echoed.nested.b == b"\x00\xff"  # dicts arrive as JsDict (attribute access)
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000)
    assert await rpc(platform, "call", "echo", [when]) == when
    assert await rpc(platform, "call", "echo", [{1, 2}]) == {1, 2}


@pytest.mark.parametrize("kind", ["tuple", "object", "bytearray"])
async def test_rpc_refuses_what_cloudflare_cannot_send(platform, kind):
    message = await rpc(platform, "try_send", kind)
    assert message.startswith("TypeError: ")
    assert "RPC" in message


async def test_an_unsendable_result_fails_the_call(platform):
    with pytest.raises(Exception, match="cannot be sent over RPC"):
        await rpc(platform, "call", "unsendable", [])


async def test_callee_exception_reaches_the_caller_with_its_message(platform):
    assert "ValueError: quota exceeded" in await rpc(platform, "catch_remote", "quota exceeded")


async def test_private_and_missing_methods_are_not_callable(platform):
    with pytest.raises(Exception, match='does not implement the method "_private"'):
        await rpc(platform, "call", "_private", [])
    with pytest.raises(Exception, match='does not implement the method "nope"'):
        await rpc(platform, "call", "nope", [])


async def test_only_methods_the_class_itself_defines_are_callable(platform):
    # workerd's Python introspection lists `cls.__dict__`: inherited methods and static/class methods are
    # not RPC methods on Cloudflare, so they are not here either; a method set on the class later is
    for name in ("inherited", "static"):
        with pytest.raises(Exception, match=f'does not implement the method "{name}"'):
            await rpc(platform, "call", name, [])
    assert await rpc(platform, "call", "added_later", []) == "set on the class after its body, as shared.service does"


async def test_named_entrypoint_binding(platform):
    assert await rpc(platform, "call_admin") == "admin"


async def test_binding_to_a_worker_that_is_not_running(platform):
    with pytest.raises(Exception, match="not running on the local platform"):
        await rpc(platform, "call_nobody")


async def test_fetch_over_a_service_binding(http):
    reply = await http.get("/via-binding", headers={"Host": "caller.do"})
    data = reply.json()
    assert data["status"] == 200
    assert data["echo"]["method"] == "POST"
    assert data["echo"]["body"] == "ping"


async def test_exception_in_fetch_over_a_binding_reaches_the_caller(platform):
    assert "boom from callee" in await rpc(platform, "fetch_boom")


# -- cron, queues, state --------------------------------------------------------------------------


async def test_scheduled_on_demand_through_the_dev_url(http, platform):
    reply = await http.get("/__scheduled", params={"cron": "*/5 * * * *"}, headers={"Host": "callee.do"})
    assert reply.status_code == 200, reply.text
    recorded = await platform.peers.rpc("callee", None, "last_cron", (), {})
    assert recorded["cron"] == "*/5 * * * *"


@pytest.mark.parametrize("path", ["/cdn-cgi/handler/scheduled", "/__scheduled"])
async def test_scheduled_dev_urls_run_the_scheduled_handler_at_the_given_time(http, platform, path):
    # wrangler dev serves /cdn-cgi/handler/scheduled for Python workers; without the platform
    # handling it, the request went to the worker's fetch.
    params = {"cron": "*/7 * * * *", "time": "1700000000123"}
    reply = await http.get(path, params=params, headers={"Host": "callee.do"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"] == {"worker": "callee", "outcome": "ok", "cron": "*/7 * * * *"}
    assert await platform.peers.rpc("callee", None, "last_cron", (), {}) == {"cron": "*/7 * * * *", "at": 1700000000123}


async def test_cdn_cgi_scheduled_picks_the_worker_by_query_too(http, platform):
    reply = await http.get("/cdn-cgi/handler/scheduled", params={"cron": "1 2 3 4 *", "worker": "callee"})
    assert reply.status_code == 200, reply.text
    assert (await platform.peers.rpc("callee", None, "last_cron", (), {}))["cron"] == "1 2 3 4 *"


@pytest.mark.parametrize("path", ["/cdn-cgi/handler/scheduled", "/__scheduled"])
async def test_scheduled_dev_urls_refuse_a_time_that_is_not_milliseconds(http, path):
    reply = await http.get(path, params={"cron": "* * * * *", "time": "noon"}, headers={"Host": "callee.do"})
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "BAD_TIME"
    assert "milliseconds" in reply.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/cdn-cgi/handler/scheduled", "/__scheduled"])
async def test_scheduled_for_an_unknown_worker_is_404(http, path):
    reply = await http.get(path, params={"cron": "* * * * *"}, headers={"Host": "missing.do"})
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "WORKER_NOT_FOUND"


async def test_queue_messages_are_delivered_or_dead_lettered(platform):
    await rpc(platform, "enqueue", [{"n": 1}, {"n": 2}, {"n": 3, "fail": True}])
    async with asyncio.timeout(20):
        while await platform.peers.rpc("callee", None, "delivered", (2,), {}) is None:
            await asyncio.sleep(0.1)
    assert await platform.peers.rpc("callee", None, "delivered", (1,), {}) is not None
    from dotdo_dev.runtime.bindings.queues import QueueStore

    store = QueueStore(platform.state.queues())
    async with asyncio.timeout(30):
        while store.pending("jobs-dlq") < 1:
            await asyncio.sleep(0.2)
    dead = store.messages("jobs-dlq")
    assert len(dead) == 1


async def test_state_is_kept_in_sqlite_files(http, platform):
    first = (await http.get("/counter", headers={"Host": "callee.do"})).json()["count"]
    second = (await http.get("/counter", headers={"Host": "callee.do"})).json()["count"]
    assert second == first + 1
    assert platform.state.kv("callee-kv").is_file()


async def test_platform_lists_its_workers(http):
    listed = (await http.get("/__platform")).json()["data"]
    assert sorted(listed["workers"]) == ["callee", "caller", "dispatcher"]
    for name, worker in listed["workers"].items():
        assert worker["status"] == "running", name
        assert worker["restarts"] == 0
        assert isinstance(worker["pid"], int)
    assert not listed["state"].startswith("/")  # relative to the repository


@pytest.mark.asyncio(loop_scope="function")
async def test_state_survives_a_restart(tmp_path):
    configs = [ROOT / "dispatcher" / "wrangler.jsonc", FIXTURES / "callee" / "wrangler.jsonc"]
    counts = []
    for _ in range(2):
        running = LocalPlatform(ROOT, configs=configs, state_dir=tmp_path, port=0)
        async with running, httpx.AsyncClient(timeout=10) as client:
            reply = await client.get(f"{running.url}/counter", headers={"Host": "callee.do"})
            counts.append(reply.json()["count"])
    assert counts == [1, 2]


@pytest.mark.asyncio(loop_scope="function")
async def test_a_worker_that_cannot_start_is_reported(tmp_path):
    broken = tmp_path / "broken"
    (broken / "src").mkdir(parents=True)
    (broken / "src" / "entry.py").write_text("import not_a_module_anywhere\n")
    (broken / "wrangler.jsonc").write_text(
        '{"name": "broken", "main": "src/entry.py", "compatibility_date": "2026-11-01",'
        ' "compatibility_flags": ["python_workers"]}'
    )
    configs = [ROOT / "dispatcher" / "wrangler.jsonc", broken / "wrangler.jsonc"]
    platform = LocalPlatform(ROOT, configs=configs, state_dir=tmp_path / "state", port=0)
    await platform.start()  # the others run (issue #16): one worker's failure does not take the platform down
    try:
        async with asyncio.timeout(20):
            while not platform.describe()["workers"]["broken"].get("output"):
                await asyncio.sleep(0.1)
        described = platform.describe()["workers"]["broken"]
        assert described["status"] != "running"
        assert any("not_a_module_anywhere" in line for line in described["output"])
        assert platform.describe()["workers"]["dispatcher"]["status"] == "running"
    finally:
        await platform.stop()


@pytest.mark.asyncio(loop_scope="function")
async def test_a_dispatcher_that_cannot_start_stops_the_platform(tmp_path):
    dispatcher = tmp_path / "dispatcher"
    shutil.copytree(ROOT / "dispatcher", dispatcher, ignore=shutil.ignore_patterns("python_modules", "tests"))
    (dispatcher / "src" / "entry.py").write_text("import not_a_module_anywhere\n")
    platform = LocalPlatform(ROOT, configs=[dispatcher / "wrangler.jsonc"], state_dir=tmp_path / "state", port=0)
    with pytest.raises(RuntimeError, match="not_a_module_anywhere"):
        await platform.start()


async def test_outbound_fetch_makes_real_http_requests(platform):
    from workers import fetch

    reply = await fetch(f"{platform.url}/health", headers={"Host": "callee.do"})
    assert reply.status == 200
    assert await reply.json() == {"success": True, "data": {"worker": "callee"}}
    posted = await fetch(f"{platform.url}/echo", method="POST", headers={"Host": "callee.do"}, body="hi")
    assert (await posted.json())["body"] == "hi"


@pytest.mark.asyncio(loop_scope="function")
async def test_a_busy_port_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        platform = LocalPlatform(ROOT, configs=[ROOT / "dispatcher" / "wrangler.jsonc"], state_dir=tmp_path, port=port)
        with pytest.raises(RuntimeError, match="port in use"):
            await platform.start()
    assert platform.processes == {}


async def test_the_front_door_turns_nagle_off(platform):
    # asyncio sets TCP_NODELAY on accepted connections only when the listening socket says IPPROTO_TCP;
    # without it every response waited ~40 ms for the client's delayed ACK.
    import socket

    listening = platform._server.servers[0].sockets
    assert all(s.proto == socket.IPPROTO_TCP for s in listening)
