"""OAuth protected-resource metadata (RFC 9728): how an OAuth client learns where to sign in.

Every service is a protected resource. Its 401s carry (RFC 6750, RFC 9728 section 5.1)

    WWW-Authenticate: Bearer realm="dotdo", resource_metadata="<origin>/.well-known/oauth-protected-resource"

and `GET <origin>/.well-known/oauth-protected-resource` (public; `metadata_endpoint`) answers

    {"resource": "<origin>", "authorization_servers": ["<auth>"], "bearer_methods_supported": ["header"], ...}

so that an MCP client meeting a 401 at `/mcp` finds the auth service. `<origin>` is the scheme and host
the request came to (the dispatcher and the gateway keep them). The authorization server is the auth
service of the same deployment, found by the dispatcher's host rules: `<svc>.do` -> `https://auth.do`,
`<svc>.staging.do` -> `auth.staging.do`, `<svc>.dev.do` -> `auth.dev.do`, `<svc>.localhost:8787` ->
`auth.localhost:8787`; the bare hosts (`localhost`, `api.do`, an IP address, ...) reach auth by path,
`<origin>/api/auth`; any other host (a custom domain) `https://auth.do`. The var `AUTH_ORIGIN`, when a
Worker sets it, replaces all of that.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from workers import Request, Response

from shared.settings import setting

METADATA_PATH = "/.well-known/oauth-protected-resource"
#: Host suffixes under which `<svc>.<suffix>` names a service (as the dispatcher routes them), longest first.
SERVICE_SUFFIXES = (".staging.do", ".dev.do", ".do", ".localhost")
#: Hosts that name no service: the dispatcher routes them by path (`/api/<svc>/...`).
BARE_HOSTS = frozenset({"do", "api.do", "staging.do", "dev.do", "localhost", "127.0.0.1", "[::1]"})
DEFAULT_AUTHORIZATION_SERVER = "https://auth.do"


def origin_of(request: Request) -> str:
    """`scheme://host[:port]` of the URL the request was sent to."""
    url = urlsplit(request.url)
    return f"{url.scheme}://{url.netloc}"


def metadata_url(request: Request) -> str:
    """Where this origin's protected-resource metadata is."""
    return origin_of(request) + METADATA_PATH


def authorization_server(request: Request, env: Any = None) -> str:
    """The auth service's origin as seen from the host of `request` (module docstring)."""
    configured = setting(env, "AUTH_ORIGIN") if env is not None else None
    if configured:
        return configured.rstrip("/")
    url = urlsplit(request.url)
    host = (url.hostname or "").lower()
    port = f":{url.port}" if url.port else ""
    if host in BARE_HOSTS or _is_address(host):
        return origin_of(request) + "/api/auth"
    for suffix in SERVICE_SUFFIXES:
        if host.endswith(suffix) and len(host) > len(suffix):
            return f"{url.scheme}://auth{suffix}{port}"
    return DEFAULT_AUTHORIZATION_SERVER


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def protected_resource_metadata(request: Request, env: Any = None, *, name: str | None = None) -> dict[str, Any]:
    """The RFC 9728 document for the origin of `request`."""
    document: dict[str, Any] = {
        "resource": origin_of(request),
        "authorization_servers": [authorization_server(request, env)],
        "bearer_methods_supported": ["header"],
    }
    if name:
        document["resource_name"] = name
    return document


def with_resource_metadata(challenge: str, request: Request) -> str:
    """A `WWW-Authenticate: Bearer ...` value with this origin's `resource_metadata` parameter added."""
    return f'{challenge}, resource_metadata="{metadata_url(request)}"'


def metadata_endpoint(name: str | None = None) -> Any:
    """A route handler answering `GET /.well-known/oauth-protected-resource` (plain JSON, not an envelope:
    what OAuth clients read; cacheable for an hour)."""

    async def endpoint(request: Request, ctx: Any) -> Response:
        document = protected_resource_metadata(request, getattr(ctx, "env", None), name=name)
        return Response.json(document, headers={"cache-control": "public, max-age=3600"})

    return endpoint
