"""The deployment topology on the local platform, as on Cloudflare (docs/architecture.md, issue #12).

A dispatch namespace's `get(name)` does not find an account-level worker (a manifest saying
`placement = "account"`: dispatcher, gateway, auth, db, deploy), and a service binding does not reach
a namespace service (`placement = "namespace"`, what create-service makes). Which is which comes from
the manifest beside the config each `<name>.registered` marker names. Workers without a manifest
(test fixtures) are restricted neither way.

The refusals come before any connection, so no worker process runs here: the markers are written
as the platform writes them.
"""

from pathlib import Path

import pytest
from workers import Request

from dotdo_dev.runtime.bindings.dispatch_namespaces import DispatchNamespace
from dotdo_dev.runtime.bindings.services import Fetcher
from dotdo_dev.runtime.peers import Peers

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "workers"


@pytest.fixture
def peers(tmp_path):
    """A platform's sockets folder where db, gateway, dispatcher, a namespace service `orders` and the
    fixture `callee` (no manifest) are registered, none of them listening."""
    orders = tmp_path / "workers" / "orders"
    orders.mkdir(parents=True)
    (orders / "service.toml").write_text('name = "orders"\nplacement = "namespace"\n')
    sockets = tmp_path / "sockets"
    sockets.mkdir()
    configs = {
        "db": ROOT / "workers" / "db" / "wrangler.jsonc",
        "gateway": ROOT / "workers" / "gateway" / "wrangler.jsonc",
        "dispatcher": ROOT / "dispatcher" / "wrangler.jsonc",
        "orders": orders / "wrangler.jsonc",
        "callee": FIXTURES / "callee" / "wrangler.jsonc",
    }
    for name, config in configs.items():
        (sockets / f"{name}.registered").write_text(str(config))
    return Peers(sockets, "token", start_timeout=0.2)


def test_the_placement_comes_from_the_manifest_beside_the_registered_config(peers, tmp_path, monkeypatch):
    import time

    from dotdo_dev.runtime import peers as peers_module

    assert [peers.placement(n) for n in ("db", "gateway", "dispatcher")] == ["account"] * 3
    assert peers.placement("orders") == "namespace"
    assert peers.placement("callee") is None  # no manifest
    assert peers.placement("missing") is None  # not registered
    manifest = tmp_path / "workers" / "orders" / "service.toml"
    manifest.write_text('name = "orders"\nplacement = "account"\n')
    assert peers.placement("orders") == "namespace"  # read at most once a PLACEMENT_TTL: not on every call
    later = time.monotonic() + peers_module.PLACEMENT_TTL + 0.01
    monkeypatch.setattr(peers_module.time, "monotonic", lambda: later)
    assert peers.placement("orders") == "account"  # an edited manifest counts within PLACEMENT_TTL


@pytest.mark.parametrize("name", ["db", "gateway", "dispatcher"])
async def test_a_namespace_does_not_find_an_account_level_worker(peers, name):
    worker = DispatchNamespace(peers, "dotdo-development").get(name)
    with pytest.raises(Exception, match=f"Worker not found: '{name}' in dispatch namespace 'dotdo-development'"):
        await worker.fetch(Request("http://x.do/health"))
    with pytest.raises(Exception, match="Worker not found"):
        await worker.some_method()  # nor over RPC


async def test_a_namespace_finds_namespace_services_and_workers_without_a_manifest(peers):
    namespace = DispatchNamespace(peers, "dotdo-development")
    for name in ("orders", "callee"):
        with pytest.raises(Exception, match=f"Worker not found: '{name}'") as info:
            await namespace.get(name).fetch(Request("http://x.do/health"))
        assert "account-level" not in str(info.value)  # past the topology check: only not listening here
    with pytest.raises(Exception, match="Worker not found: 'missing'"):
        await namespace.get("missing").fetch(Request("http://x.do/health"))


async def test_a_service_binding_to_a_namespace_service_is_refused(peers):
    binding = Fetcher(peers, "orders")
    refused = "Service binding to 'orders': 'orders' is a service of the dispatch namespace"
    with pytest.raises(RuntimeError, match=refused) as info:
        await binding.fetch("http://orders.do/health")
    assert "code 10143" in str(info.value)
    assert "env.NAMESPACE.get('orders')" in str(info.value)
    with pytest.raises(RuntimeError, match=refused):
        await binding.list_items({"id": "usr_1"}, {})


async def test_a_service_binding_reaches_account_level_workers_and_workers_without_a_manifest(peers):
    for name in ("db", "callee"):
        # past the topology check: it is only not listening here
        with pytest.raises(RuntimeError, match=f"Service binding to '{name}': that worker is not running"):
            await Fetcher(peers, name).fetch("http://x.do/health")
