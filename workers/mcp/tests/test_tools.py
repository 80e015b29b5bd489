"""Every service's tools through mcp: listed for the caller, called on the owning service, errors as MCP wants."""

import asyncio
import json

import pytest
from conftest import ADMIN, READER, ROOT, WRITER, db_service, kit_worker, rpc

import tools
from dotdo_dev.testing import WorkerHarness
from shared.errors import UpstreamError, rpc_error


async def names(worker, headers, **kwargs):
    status, reply = await rpc(worker, "tools/list", headers=headers, **kwargs)
    assert status == 200, reply
    return [tool["name"] for tool in reply["result"]["tools"]]


async def call(worker, headers, name, arguments, **kwargs):
    status, reply = await rpc(worker, "tools/call", {"name": name, "arguments": arguments}, headers=headers, **kwargs)
    return status, reply


async def test_the_tools_of_every_bound_service_are_listed_for_what_the_caller_holds(worker):
    assert await names(worker, ADMIN) == ["auth_whoami", "db_get", "db_upsert", "db_boom", "deploy_list_deployments"]
    assert await names(worker, READER) == ["auth_whoami", "db_get", "db_boom"]  # db:write and deploy hidden
    assert await names(worker, WRITER, modern=True) == ["auth_whoami", "db_get", "db_upsert", "db_boom"]


async def test_a_tool_keeps_its_services_description_and_json_schema(worker):
    _, reply = await rpc(worker, "tools/list", headers=ADMIN)
    described = {tool["name"]: tool for tool in reply["result"]["tools"]}
    assert described["db_upsert"]["description"] == "Create or replace a thing."
    schema = described["db_upsert"]["inputSchema"]
    assert (schema["type"], schema["required"], schema["additionalProperties"]) == ("object", ["id", "title"], False)


async def test_a_call_runs_on_the_owning_service_as_the_caller(worker, db):
    status, reply = await call(worker, WRITER, "db_upsert", {"id": "t1", "title": "Hello"}, modern=True)
    assert status == 200
    result = reply["result"]
    assert (result["isError"], result["structuredContent"]) == (
        False,
        {"id": "t1", "title": "Hello", "by": "usr_writer"},
    )
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    _, got = await call(worker, READER, "db_get", {"id": "t1"})
    assert got["result"]["structuredContent"]["title"] == "Hello"
    _, me = await call(worker, READER, "auth_whoami", {})
    assert me["result"]["structuredContent"] == {"id": "usr_reader"}


async def test_a_principal_without_the_permission_gets_forbidden_and_nothing_changes(worker, db):
    _, reply = await call(worker, READER, "db_upsert", {"id": "t2", "title": "No"})
    result = reply["result"]
    assert (result["isError"], result["structuredContent"]["code"]) == (True, "FORBIDDEN")
    assert result["structuredContent"]["details"] == {"permission": "db:write"}
    assert db.env.things == {}


async def test_tool_failures_are_results_the_model_can_read(worker):
    _, invalid = await call(worker, WRITER, "db_upsert", {"id": "t3"}, version="2025-11-25")
    assert invalid["result"]["structuredContent"]["code"] == "VALIDATION_ERROR"
    assert invalid["result"]["structuredContent"]["details"][0]["field"] == "title"
    _, missing = await call(worker, READER, "db_get", {"id": "nope"})
    assert missing["result"]["structuredContent"]["code"] == "NOT_FOUND"
    _, boom = await call(worker, READER, "db_boom", {})
    assert (boom["result"]["isError"], boom["result"]["structuredContent"]["code"]) == (True, "INTERNAL_ERROR")
    assert "secret" not in json.dumps(boom)


@pytest.mark.parametrize("version", [None, "2025-06-18"])
async def test_before_2025_11_25_arguments_failing_the_schema_are_invalid_params(worker, db, version):
    status, reply = await call(worker, WRITER, "db_upsert", {"id": "t3"}, version=version)
    assert status == 200
    assert reply["error"]["code"] == -32602
    assert reply["error"]["data"][0]["field"] == "title"  # the owning service's field errors
    assert db.env.things == {}


@pytest.mark.parametrize("name", ["db_nope", "nope_get", "gateway_get", "mcp_x", "db", "whoami"])
async def test_an_unknown_tool_is_invalid_params(worker, name):
    status, reply = await call(worker, ADMIN, name, {})
    assert (status, reply["error"]["code"]) == (200, -32602)
    status, reply = await call(worker, ADMIN, name, {}, modern=True)
    assert (status, reply["error"]["code"]) == (400, -32602)


async def test_malformed_arguments_are_invalid_params(worker):
    for params in ({"name": "db_get", "arguments": ["id"]}, {"arguments": {}}, {"name": 7}):
        _, reply = await rpc(worker, "tools/call", params, headers=ADMIN)
        assert reply["error"]["code"] == -32602, params


async def test_a_service_that_is_not_bound_offers_no_tools(tmp_path, bindings):
    from conftest import ROOT

    from dotdo_dev.testing import WorkerHarness

    worker = WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings | {"DB_SERVICE": None})
    assert await names(worker, ADMIN) == ["auth_whoami", "deploy_list_deployments"]
    _, reply = await call(worker, ADMIN, "db_get", {"id": "a"})
    assert reply["error"]["code"] == -32602


async def test_a_service_that_is_down_is_left_out_of_the_list_and_its_calls_are_tool_errors(tmp_path, bindings):
    async def broken(*args, **kwargs):
        raise rpc_error(UpstreamError("db's storage is down"))

    down = kit_worker(db_service(), mcp_list_tools=broken, mcp_call_tool=broken)
    worker = WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings | {"DB_SERVICE": down})
    assert await names(worker, ADMIN) == ["auth_whoami", "deploy_list_deployments"]
    _, reply = await call(worker, ADMIN, "db_get", {"id": "a"})
    result = reply["result"]
    assert (result["isError"], result["structuredContent"]["code"]) == (True, "SERVICE_UNAVAILABLE")
    assert result["structuredContent"]["details"]["service"] == "db"


async def test_the_bound_workers_that_are_not_running_are_left_out_quietly(worker, capsys):
    # email, queue, schedule and webhooks are bound in wrangler.jsonc but not running in this test
    assert "email_send" not in await names(worker, ADMIN)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    unavailable = {line["service"] for line in logged if line.get("type") == "tools_unavailable"}
    assert unavailable == {"email", "queue", "schedule", "webhooks"}


async def test_a_slow_service_does_not_hold_the_list(worker, db, monkeypatch):
    async def slow(*args, **kwargs):
        await asyncio.sleep(5)

    monkeypatch.setattr(tools, "LIST_TIMEOUT", 0.05)
    db.mcp_list_tools = slow
    assert await names(worker, ADMIN) == ["auth_whoami", "deploy_list_deployments"]


async def test_malformed_tools_from_a_service_are_dropped(worker, db):
    async def odd(principal):
        return [
            {"name": "db_ok", "description": "fine", "inputSchema": {"type": "object"}},
            {"name": "auth_steal", "description": "another service's name", "inputSchema": {"type": "object"}},
            {"name": "db_noschema", "description": "no schema"},
            {"name": "db bad", "description": "bad name", "inputSchema": {"type": "object"}},
            "not a tool",
        ]

    db.mcp_list_tools = odd
    assert [n for n in await names(worker, ADMIN) if n.startswith("db_") or n == "auth_steal"] == ["db_ok"]


async def test_a_result_without_content_is_an_internal_tool_error(worker, db):
    async def odd(*args):
        return {"nothing": True}

    db.mcp_call_tool = odd
    _, reply = await call(worker, ADMIN, "db_get", {"id": "a"})
    assert reply["result"]["structuredContent"]["code"] == "INTERNAL_ERROR"
