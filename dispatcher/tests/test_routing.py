"""The dispatcher's routing rules, in order: versioned host, aliases, subdomain, /api/<svc> path, default."""

import pytest

from routing import Route, normalize_host, resolve, service_from_host


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("db.do", "db"),
        ("auth.staging.do", "auth"),
        ("queue.dev.do", "queue"),
        ("orders.localhost", "orders"),
        ("orders.localhost:8787", "orders"),
        ("Order-History.DO", "order-history"),
        ("db.do.", "db"),
        ("v1.gateway.do", "gateway-v1"),
        ("v2-beta.db.staging.do", "db-v2-beta"),
        ("database.do", "db"),
        ("apis.do", "gateway"),
        ("db.mw", "db"),
        ("xn--a-a.io", None),
    ],
)
def test_service_from_host(host, service):
    assert service_from_host(host) == service


def test_punycode_alias_is_decoded():
    assert normalize_host("彡.io".encode("idna").decode("ascii")) == "彡.io"
    assert service_from_host("彡.io".encode("idna").decode("ascii")) == "db"


@pytest.mark.parametrize(
    "host", ["do", "api.do", "localhost", "localhost:8787", "127.0.0.1:8787", "staging.do", "[::1]:8787"]
)
def test_bare_hosts_name_no_service(host):
    assert service_from_host(host) is None


@pytest.mark.parametrize("host", ["dispatcher.do", "api.localhost", "www.do", "-x.do", "a_b.do", "x" * 64 + ".do"])
def test_reserved_and_invalid_labels_never_route(host):
    assert service_from_host(host) is None


def test_subdomain_wins_and_keeps_the_path():
    assert resolve("db.do", "/things/x") == Route("db", "/things/x", "host")


def test_api_path_strips_the_prefix():
    assert resolve("api.do", "/api/db/things/a") == Route("db", "/things/a", "path")
    assert resolve("localhost:8787", "/api/db") == Route("db", "/", "path")
    assert resolve("localhost:8787", "/api/db/") == Route("db", "/", "path")


def test_api_path_with_an_invalid_service_matches_nothing():
    assert resolve("do", "/api/Bad_Name/x") is None
    assert resolve("do", "/api/dispatcher/x") is None


def test_bare_host_defaults_to_the_gateway():
    assert resolve("do", "/health") == Route("gateway", "/health", "default")
    assert resolve("api.do", "/") == Route("gateway", "/", "default")


def test_unknown_host_without_api_path_matches_nothing():
    assert resolve("example.com", "/health") is None
    assert resolve("example.com", "/api/db/x") == Route("db", "/x", "path")
