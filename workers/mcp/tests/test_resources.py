"""mcp's resources: the platform's health, each service's API document, recent deployments (with `deploy`)."""

import json

import pytest
from conftest import ADMIN, DEPLOYER, DEPLOYMENTS, READER, ROOT, rpc

import resources
from dotdo_dev.testing import WorkerHarness
from upstreams import UPSTREAMS


async def read(worker, headers, uri, **kwargs):
    status, reply = await rpc(worker, "resources/read", {"uri": uri}, headers=headers, **kwargs)
    if "error" in reply:
        return status, reply["error"]
    (content,) = reply["result"]["contents"]
    assert content["uri"] == uri
    return status, json.loads(content["text"]) if content["mimeType"] == "application/json" else content["text"]


async def test_the_list_offers_health_every_services_api_and_deployments_to_whom_may_read_them(worker):
    _, reply = await rpc(worker, "resources/list", headers=READER)
    uris = [r["uri"] for r in reply["result"]["resources"]]
    assert uris == ["dotdo://platform/health", *(f"dotdo://openapi/{name}" for name in UPSTREAMS)]
    _, reply = await rpc(worker, "resources/list", headers=DEPLOYER, modern=True)
    assert "dotdo://deployments/recent" in [r["uri"] for r in reply["result"]["resources"]]
    assert all(r["mimeType"] == "application/json" and r["description"] for r in reply["result"]["resources"])


async def test_platform_health_reports_each_service(worker):
    status, health = await read(worker, READER, "dotdo://platform/health")
    assert status == 200
    services = health["services"]
    assert services["db"] == {"status": "ok", "version": "9.9.9"}
    assert services["deploy"] == {"status": "ok", "version": "2.0.0"}
    assert services["email"] == {"status": "unreachable"}  # bound, but not running in this test
    assert health["status"] == "degraded"


async def test_a_service_that_is_not_bound_is_reported_so(tmp_path, bindings, monkeypatch):
    unbound = {f"{name.upper()}_SERVICE": None for name in ("email", "queue", "schedule", "webhooks")}
    worker = WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings | unbound)
    _, health = await read(worker, READER, "dotdo://platform/health")
    assert health["services"]["queue"] == {"status": "not_bound"}
    assert health["status"] == "ok"
    _, error = await read(worker, READER, "dotdo://openapi/queue")
    assert (error["code"], error["data"]["code"]) == (-32603, "SERVICE_NOT_BOUND")


async def test_a_services_api_document_is_its_openapi(worker):
    status, document = await read(worker, READER, "dotdo://openapi/db", modern=True)
    assert status == 200
    assert document["openapi"].startswith("3.1")
    assert "/things/{id}" in document["paths"]
    _, error = await read(worker, READER, "dotdo://openapi/email")  # bound, not running
    assert (error["code"], error["data"]["code"]) == (-32603, "SERVICE_UNAVAILABLE")


async def test_recent_deployments_need_the_deploy_permission(worker):
    status, page = await read(worker, DEPLOYER, "dotdo://deployments/recent")
    assert status == 200
    assert [d["id"] for d in page["items"]] == [d["id"] for d in DEPLOYMENTS]
    assert page["limit"] == resources.RECENT_DEPLOYMENTS
    status, error = await read(worker, READER, "dotdo://deployments/recent")
    assert (status, error["code"], error["data"]["code"]) == (200, -32602, "FORBIDDEN")
    status, error = await read(worker, READER, "dotdo://deployments/recent", modern=True)
    assert (status, error["code"]) == (400, -32602)


@pytest.mark.parametrize(("modern", "status", "code"), [(False, 200, -32002), (True, 400, -32602)])
async def test_an_unknown_resource_per_revision(worker, modern, status, code):
    got_status, error = await read(worker, ADMIN, "dotdo://nothing/here", modern=modern)
    assert (got_status, error["code"]) == (status, code)
