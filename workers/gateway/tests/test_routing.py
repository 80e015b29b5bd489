"""The routing table: prefixes, stripped paths, permissions per method, public routes, generated services."""

import dataclasses

import pytest

import routing
from shared.registry import SERVICES


def manifest(name, placement="account", **gateway):
    """A registry entry as `make registry` writes it, for a service that is not in this repository."""
    table = {"read": f"{name}:read", "write": f"{name}:write", "rate_class": "default", "public": []} | gateway
    entry = {"name": name, "placement": placement, "gateway": table}
    if placement == "account":
        entry["binding"] = name.replace("-", "_").upper() + "_SERVICE"
    return entry


@pytest.fixture(autouse=True)
def more_services(monkeypatch):
    """Two services whose manifests say more than the defaults: their own permissions, public paths."""
    monkeypatch.setitem(routing.ROUTES, "deploy", routing.route_of(manifest("deploy", read="deploy", write="deploy")))
    monkeypatch.setitem(routing.ROUTES, "email", routing.route_of(manifest("email", write="email:send")))
    hooks = manifest("hooks", placement="namespace", public=["POST /github", "POST /stripe"])
    monkeypatch.setitem(routing.ROUTES, "hooks", routing.route_of(hooks))


def test_the_table_is_every_manifest_with_a_gateway_table_and_nothing_else():
    from_manifests = {name: routing.route_of(s) for name, s in SERVICES.items() if "gateway" in s}
    assert {"db", "auth"} <= set(from_manifests)
    assert "gateway" not in from_manifests
    assert "dispatcher" not in from_manifests
    assert routing.route_of(SERVICES["auth"]).rate_class == "auth"
    assert routing.route_of(SERVICES["auth"]).read is None  # "" in the manifest: auth checks each operation


@pytest.mark.parametrize(
    ("path", "service", "service_path"),
    [
        ("/db/things", "db", "/things"),
        ("/db", "db", "/"),
        ("/db/", "db", "/"),
        ("/auth/apikeys/key_1", "auth", "/apikeys/key_1"),
        ("/deploy/deployments", "deploy", "/deployments"),
        ("/order-history/items", "order-history", "/items"),  # a generated service, by convention
    ],
)
def test_prefix_is_routed_and_stripped(path, service, service_path):
    route, rest = routing.match(path)
    assert (route.name, rest) == (service, service_path)


@pytest.mark.parametrize("path", ["/", "", "/Bad_Name/x", "/x" * 1 + "-" * 3, "/" + "a" * 41 + "/x", "/../db"])
def test_unroutable_paths(path):
    assert routing.match(path) is None


def test_account_level_services_go_by_their_binding_and_the_rest_through_the_namespace():
    assert {r.binding for r in routing.ROUTES.values()} >= {"DB_SERVICE", "AUTH_SERVICE", "DEPLOY_SERVICE"}
    assert routing.ROUTES["db"].binding == SERVICES["db"]["binding"] == "DB_SERVICE"
    assert not routing.ROUTES["db"].in_namespace
    for name, route in routing.ROUTES.items():
        if name in SERVICES:  # the fixture's stand-ins aside: the registry says which is which
            assert route.in_namespace is (SERVICES[name]["placement"] == "namespace"), name
    # a generated service (placement "namespace") and a name no manifest here knows: no binding
    assert routing.route_of(manifest("orders", placement="namespace")).binding is None
    assert routing.match("/hooks/x")[0].in_namespace
    generated, _ = routing.match("/order-history/x")
    assert (generated.binding, generated.in_namespace) == (None, True)


def test_services_without_a_gateway_table_are_not_routed():
    # the gateway is not behind itself, and the dispatcher routes, it is not routed to
    assert routing.match("/gateway/health") is None
    assert routing.match("/dispatcher/x") is None


@pytest.mark.parametrize(
    ("service", "method", "permission"),
    [
        ("db", "GET", "db:read"),
        ("db", "HEAD", "db:read"),
        ("db", "POST", "db:write"),
        ("db", "DELETE", "db:write"),
        ("deploy", "GET", "deploy"),
        ("deploy", "POST", "deploy"),
        ("email", "POST", "email:send"),
        ("auth", "POST", None),  # auth authorizes its own routes
        ("order-history", "PUT", "order-history:write"),
    ],
)
def test_permissions_per_method(service, method, permission):
    route, _ = routing.match(f"/{service}/x")
    assert route.permission(method) == permission


def test_a_services_mcp_endpoint_needs_only_the_read_permission():
    db, _ = routing.match("/db/mcp")
    assert db.permission("POST", "/mcp") == "db:read"  # the tools check db:write themselves
    assert db.permission("POST", "/things") == "db:write"


def test_only_the_short_public_list_is_public():
    auth, _ = routing.match("/auth/x")
    assert auth.is_public("GET", "/login")
    assert auth.is_public("GET", "/callback")
    assert not auth.is_public("GET", "/me")
    assert not auth.is_public("POST", "/apikeys")
    assert not auth.is_public("POST", "/login")
    hooks, _ = routing.match("/hooks/x")
    assert hooks.is_public("POST", "/stripe")
    assert not hooks.is_public("GET", "/events")
    webhooks, _ = routing.match("/webhooks/x")  # the real one (workers/webhooks/service.toml): its receivers
    assert (webhooks.binding, webhooks.in_namespace) == ("WEBHOOKS_SERVICE", False)
    assert all(webhooks.is_public("POST", f"/{p}") for p in ("stripe", "workos", "github", "resend"))
    assert not webhooks.is_public("GET", "/events")
    assert not webhooks.is_public("POST", "/events/whe_1/replay")
    db, _ = routing.match("/db/x")
    assert not any(db.is_public(m, "/health") for m in ("GET", "POST"))


def test_head_borrows_a_public_get_and_no_other_method_does():
    auth, _ = routing.match("/auth/x")
    assert auth.is_public("HEAD", "/login")
    assert not auth.is_public("HEAD", "/me")
    # DELETE, CONNECT and OPTIONS sort before HEAD: only HEAD itself may borrow GET's entry
    for method in ("DELETE", "CONNECT", "OPTIONS", "PUT", "PATCH", "POST"):
        assert not auth.is_public(method, "/login"), method


def test_a_generated_service_name_may_be_40_characters_and_no_more():
    route, rest = routing.match("/" + "a" * 40 + "/x")
    assert (route.name, rest) == ("a" * 40, "/x")
    assert routing.match("/" + "a" * 41 + "/x") is None


def test_the_routing_table_cannot_be_changed_at_run_time():
    db, _ = routing.match("/db/x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        db.write = None
    assert db.permission("POST") == "db:write"
