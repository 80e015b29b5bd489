"""Versions and rollback: every deployment listed (filters, pagination), and POST /rollback re-uploading the
previous successful version's stored bundle, recorded as a deployment of its own."""

import pytest
from conftest import ADMIN, DEPLOYER, PROD, cf_error, cf_success, make_bundle, post_deploy, script_url, target
from test_deploy import BINDING_NOT_FOUND, sent_parts

from dotdo_dev.schema_check import schema_mismatches
from dotdo_dev.testing import envelope
from shared.principals import service_principal


async def listed(worker, query: str = "") -> tuple[list[dict], dict]:
    reply = await worker.fetch(f"/deployments{query}", headers=ADMIN)
    body = await envelope(reply)
    assert reply.status == 200, body
    return body["data"], body["meta"]


async def rollback(worker, headers=DEPLOYER, service="orders", environment="staging"):
    reply = await worker.fetch(
        "/rollback", method="POST", headers=headers, json={"service": service, "environment": environment}
    )
    return reply.status, await envelope(reply)


async def test_v1_v2_rollback_makes_v1_live_again_and_lists_three_entries(worker, cloudflare):
    route = cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders"))
    v1 = (await envelope(await post_deploy(worker, DEPLOYER, target(version="1", commit="c1"), make_bundle()))).get(
        "data"
    )
    v2_bundle = make_bundle(version="2")
    v2 = (await envelope(await post_deploy(worker, DEPLOYER, target(version="2", commit="c2"), v2_bundle)))["data"]
    assert v1["bundle_sha256"] != v2["bundle_sha256"]

    status, body = await rollback(worker)
    assert status == 201, body
    back = body["data"]
    assert back["action"] == "rollback"
    assert back["status"] == "uploaded"
    assert back["rollback_of"] == v1["id"]
    assert back["replaced"] == v2["id"]
    assert (back["version"], back["commit"], back["bundle_sha256"]) == ("1", "c1", v1["bundle_sha256"])
    assert back["actor"] == "usr_ci"

    # the third upload is v1's bundle again
    assert route.call_count == 3
    assert sent_parts(route.calls[2].request)["entry.py"]["data"].startswith(b"# version 1")

    items, meta = await listed(worker)
    assert [d["id"] for d in items] == [back["id"], v2["id"], v1["id"]]  # newest first
    assert [d["status"] for d in items] == ["uploaded", "rolled_back", "uploaded"]
    assert all(d["actor"] == "usr_ci" for d in items)
    assert [d["commit"] for d in items] == ["c1", "c2", "c1"]
    assert meta["total"] == 3

    # rolled back to v1 already: nothing before it with another bundle
    status, body = await rollback(worker)
    assert status == 409, body
    assert body["error"]["code"] == "NOTHING_TO_ROLL_BACK"


async def test_rollback_with_no_previous_success_is_409(worker, cloudflare):
    route = cloudflare.put(script_url("orders"))
    status, body = await rollback(worker)
    assert (status, body["error"]["code"]) == (409, "NOTHING_TO_ROLL_BACK")

    route.mock(return_value=cf_success("orders"))
    await post_deploy(worker, DEPLOYER, target(), make_bundle())
    route.mock(return_value=cf_error(10143, BINDING_NOT_FOUND))
    await post_deploy(worker, DEPLOYER, target(version="2"), make_bundle(version="2"))  # failed: not a version
    status, body = await rollback(worker)
    assert (status, body["error"]["code"]) == (409, "NOTHING_TO_ROLL_BACK")
    assert route.call_count == 2


async def test_a_failed_rollback_is_recorded_and_changes_nothing(worker, cloudflare):
    route = cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders"))
    await post_deploy(worker, DEPLOYER, target(version="1"), make_bundle())
    v2 = (await envelope(await post_deploy(worker, DEPLOYER, target(version="2"), make_bundle(version="2"))))["data"]
    route.mock(return_value=cf_error(10143, BINDING_NOT_FOUND))
    status, body = await rollback(worker)
    assert status == 400, body
    assert body["error"]["details"]["cloudflare"]["code"] == 10143
    items, _ = await listed(worker)
    assert [(d["action"], d["status"]) for d in items] == [
        ("rollback", "failed"),
        ("deploy", "uploaded"),
        ("deploy", "uploaded"),
    ]
    assert items[1]["id"] == v2["id"]  # v2 is still the live one


async def test_rollback_in_production_needs_deploy_production(worker, cloudflare):
    route = cloudflare.put(script_url("orders", "production")).mock(return_value=cf_success("orders"))
    await post_deploy(worker, PROD, target(environment="production", version="1"), make_bundle())
    await post_deploy(worker, PROD, target(environment="production", version="2"), make_bundle(version="2"))
    status, body = await rollback(worker, DEPLOYER, environment="production")
    assert status == 403, body
    assert body["error"]["details"]["permission"] == "deploy:production"
    assert route.call_count == 2
    status, body = await rollback(worker, PROD, environment="production")
    assert status == 201, body
    assert route.call_count == 3


async def test_rollback_is_per_service_and_environment(worker, cloudflare):
    cloudflare.put(url__regex=r".*").mock(return_value=cf_success("x"))
    await post_deploy(worker, DEPLOYER, target(version="1"), make_bundle())
    await post_deploy(worker, DEPLOYER, target(service="invoices", version="2"), make_bundle(version="2"))
    await post_deploy(worker, DEPLOYER, target(environment="development", version="3"), make_bundle(version="3"))
    status, _ = await rollback(worker)
    assert status == 409  # orders in staging has one version only


async def test_deployments_filter_and_paginate(worker, cloudflare):
    cloudflare.put(url__regex=r".*/scripts/orders$").mock(return_value=cf_success("orders"))
    cloudflare.put(url__regex=r".*/scripts/invoices$").mock(return_value=cf_error(10143, BINDING_NOT_FOUND))
    for n in range(3):
        await post_deploy(worker, DEPLOYER, target(version=str(n)), make_bundle(version=str(n)))
    await post_deploy(worker, DEPLOYER, target(service="invoices"), make_bundle())
    await post_deploy(worker, DEPLOYER, target(environment="development"), make_bundle())

    items, meta = await listed(worker)
    assert len(items) == 5
    assert meta["total"] == 5
    assert meta["has_more"] is False
    items, _ = await listed(worker, "?service=invoices")
    assert [(d["service"], d["status"]) for d in items] == [("invoices", "failed")]
    items, _ = await listed(worker, "?status=failed")
    assert [d["service"] for d in items] == ["invoices"]
    items, _ = await listed(worker, "?environment=development")
    assert len(items) == 1
    items, _ = await listed(worker, "?service=orders&environment=staging")
    assert [d["version"] for d in items] == ["2", "1", "0"]

    page1, meta1 = await listed(worker, "?service=orders&environment=staging&limit=2")
    page2, meta2 = await listed(worker, "?service=orders&environment=staging&limit=2&offset=2")
    assert [d["version"] for d in page1 + page2] == ["2", "1", "0"]
    assert (meta1["has_more"], meta2["has_more"], meta1["total"]) == (True, False, 3)

    reply = await worker.fetch(f"/deployments/{page1[0]['id']}", headers=DEPLOYER)
    assert (await envelope(reply))["data"]["version"] == "2"
    reply = await worker.fetch("/deployments/dep_missing", headers=DEPLOYER)
    assert reply.status == 404


@pytest.mark.parametrize("query", ["?environment=prod", "?status=live", "?limit=0", "?limit=101", "?offset=-1"])
async def test_bad_filters_are_400(worker, query):
    reply = await worker.fetch(f"/deployments{query}", headers=ADMIN)
    assert reply.status == 400


async def test_operations_over_rpc_check_the_same_permissions(worker, cloudflare):
    import base64

    route = cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders"))
    bundle = base64.b64encode(make_bundle()).decode()
    ci = {"id": "usr_ci", "type": "user", "key_id": "key_ci", "permissions": ["deploy"]}
    record = await worker.rpc("deploy", ci, target() | {"bundle": bundle})
    assert record["status"] == "uploaded"
    assert record["key_id"] == "key_ci"
    with pytest.raises(Exception, match="deploy:production"):
        await worker.rpc("deploy", ci, target(environment="production") | {"bundle": bundle})
    with pytest.raises(Exception, match="'deploy'"):
        await worker.rpc("list_deployments", service_principal("orders"), {})
    page = await worker.rpc("list_deployments", ci, {"service": "orders"})
    assert [d["id"] for d in page["items"]] == [record["id"]]
    assert route.call_count == 1


async def test_deployments_table_is_what_tables_py_declares(worker):
    from tables import TABLES

    await worker.fetch("/deployments", headers=ADMIN)  # first use migrates
    assert await schema_mismatches(worker.env.DEPLOY_DB, TABLES, not_records=("bundle_chunks",)) == []


async def test_bundles_are_kept_once_by_their_hash(worker, cloudflare):
    cloudflare.put(script_url("orders")).mock(return_value=cf_success("orders"))
    data = make_bundle()
    for _ in range(2):
        await post_deploy(worker, DEPLOYER, target(), data)
    rows = await worker.env.DEPLOY_DB.prepare("SELECT sha256, count(*) AS n FROM bundle_chunks GROUP BY sha256").all()
    assert [dict(r)["n"] for r in rows["results"]] == [1]
