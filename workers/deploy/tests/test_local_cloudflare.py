"""The deploy worker against the local Cloudflare API stand-in (dotdo_dev.cloudflare_api, mounted through
respx): what the worker sends is what the stand-in, checking as Cloudflare checks, accepts; and a service
binding to a sibling inside the namespace is refused with Cloudflare's 10143, recorded as failed."""

import pytest
import respx
from conftest import ACCOUNT, API, CF_TOKEN, DEPLOYER, METADATA, ROOT, make_bundle, post_deploy, target

from dotdo_dev.cloudflare_api import CloudflareAPI, platform_scripts
from dotdo_dev.testing import envelope


@pytest.fixture
def standin(tmp_path):
    # the platform's workers under each environment's name (auth, auth-staging, auth-development, ...)
    scripts = platform_scripts(ROOT.parents[1])
    app = CloudflareAPI(tmp_path / "cloudflare", tokens={CF_TOKEN}, account_scripts=scripts, account_id=ACCOUNT)
    with respx.mock(assert_all_mocked=True) as mock:
        mock.route(url__startswith=API).mock(side_effect=respx.ASGIHandler(app))
        yield app


async def test_an_upload_the_standin_accepts(worker, standin):
    reply = await post_deploy(worker, DEPLOYER, target(), make_bundle())
    body = await envelope(reply)
    assert reply.status == 201, body
    assert body["data"]["status"] == "uploaded"
    assert body["data"]["cloudflare_id"]
    assert "orders" in standin.store.namespace_scripts("dotdo-staging")
    # its AUTH_SERVICE names staging's auth, `auth-staging` (METADATA): an account-level script there too
    assert {"auth", "auth-staging", "auth-development"} <= standin.store.seeded


async def test_a_sibling_service_binding_is_refused_with_10143(worker, standin):
    sibling = {"type": "service", "name": "INVOICES", "service": "invoices"}
    metadata = {**METADATA, "bindings": [*METADATA["bindings"], sibling]}
    reply = await post_deploy(worker, DEPLOYER, target(), make_bundle(metadata=metadata))
    body = await envelope(reply)
    assert reply.status == 400, body
    assert body["error"]["details"]["cloudflare"]["code"] == 10143
    assert "orders" not in standin.store.namespace_scripts("dotdo-staging")
    reply = await worker.fetch("/deployments", headers=DEPLOYER)
    [record] = (await envelope(reply))["data"]
    assert (record["status"], record["error_code"]) == ("failed", 10143)
