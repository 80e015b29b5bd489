"""OAuth protected-resource metadata: where a 401 sends an OAuth client, and the document it finds there."""

import pytest
from workers import Request

from shared.oauth import (
    METADATA_PATH,
    authorization_server,
    metadata_endpoint,
    metadata_url,
    protected_resource_metadata,
    with_resource_metadata,
)


def at(url):
    return Request(url)


@pytest.mark.parametrize(
    ("url", "auth"),
    [
        ("https://db.do/mcp", "https://auth.do"),
        ("https://mcp.staging.do/mcp", "https://auth.staging.do"),
        ("https://queue.dev.do/jobs", "https://auth.dev.do"),
        ("http://db.localhost:8787/mcp", "http://auth.localhost:8787"),
        ("https://v2.gateway.do/x", "https://auth.do"),
        ("https://database.do/mcp", "https://auth.do"),  # a host alias under .do
        ("http://127.0.0.1:8787/mcp", "http://127.0.0.1:8787/api/auth"),  # /api/db/mcp: auth by path too
        ("http://localhost:8787/mcp", "http://localhost:8787/api/auth"),
        ("https://api.do/db/mcp", "https://api.do/api/auth"),
        ("http://[::1]:8787/mcp", "http://[::1]:8787/api/auth"),
        ("https://xn--0ck.io/mcp", "https://auth.do"),  # a custom domain
    ],
)
def test_the_authorization_server_follows_the_dispatchers_host_rules(url, auth):
    assert authorization_server(at(url)) == auth


def test_auth_origin_replaces_the_rule():
    class Env:
        AUTH_ORIGIN = "https://login.example.com/"

    assert authorization_server(at("https://db.do/mcp"), Env()) == "https://login.example.com"
    assert authorization_server(at("https://db.do/mcp"), object()) == "https://auth.do"


def test_the_document_and_the_challenge():
    request = at("https://db.staging.do/mcp")
    assert protected_resource_metadata(request, name="db") == {
        "resource": "https://db.staging.do",
        "authorization_servers": ["https://auth.staging.do"],
        "bearer_methods_supported": ["header"],
        "resource_name": "db",
    }
    assert metadata_url(request) == "https://db.staging.do/.well-known/oauth-protected-resource"
    assert with_resource_metadata('Bearer realm="dotdo"', request) == (
        'Bearer realm="dotdo", resource_metadata="https://db.staging.do/.well-known/oauth-protected-resource"'
    )


async def test_the_endpoint_answers_plain_cacheable_json():
    class Ctx:
        env = None

    response = await metadata_endpoint("mcp")(at("http://mcp.localhost:8787" + METADATA_PATH), Ctx())
    assert response.status == 200
    assert response.headers.get("cache-control") == "public, max-age=3600"
    body = await response.json()
    assert body["authorization_servers"] == ["http://auth.localhost:8787"]
    assert body["resource"] == "http://mcp.localhost:8787"
