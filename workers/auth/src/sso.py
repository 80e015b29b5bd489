"""Sign-in through WorkOS User Management (AuthKit).

    url = authorization_url(config, redirect_uri=callback, state=state)   # send the browser there
    auth = await authenticate_with_code(config, code)                    # on the callback
    auth.user["id"], auth.claims["sid"]                                  # verified

WorkOS API, per its reference (workos.com/docs/reference/authkit):

- Authorization URL: `GET {api}/user_management/authorize?client_id&redirect_uri&response_type=code
  &provider=authkit&state` ("authkit" sends the user to the AuthKit hosted sign-in).
- Code exchange: `POST {api}/user_management/authenticate` with `client_id`, `client_secret` (the API
  key), `grant_type=authorization_code` and `code`; it answers `{user, organization_id?,
  access_token, refresh_token, authentication_method?, impersonator?, ...}`.
- The access token is a JWT signed with the keys at `GET {api}/sso/jwks/{client_id}`; its claims are
  `iss, sub (the user id), sid, jti, org_id?, role?, roles?, permissions?, entitlements?, act?, exp,
  iat`. The docs name no `aud`, so none is checked.

Issuer: the reference's example token has `iss: "https://api.workos.com"`, while WorkOS's own Node
SDK documents `https://api.workos.com/user_management/<client_id>` as the issuer to enforce (and a
custom auth domain changes it again). As the docs do not pin one value, `iss` is NOT checked here;
the signature (keys served for this client id only), `exp` and `sub` are.

The access token from the code exchange is always verified against the JWKS (never just decoded),
and its `sub` must be the user WorkOS returned. WorkOS is called with the runtime's own `fetch`
(`workers.fetch`: JavaScript's fetch on Cloudflare), so auth bundles no HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from workers import fetch

from shared.errors import AppError, BadRequest, UpstreamError
from shared.settings import setting
from tokens import check_times, invalid_token, signed_header, verified_claims

DEFAULT_API_BASE = "https://api.workos.com"
ALGORITHM = "RS256"
HTTP_TIMEOUT = 10.0
#: How long a fetched JWKS is trusted before it is fetched again (seconds).
JWKS_TTL = 600.0
#: Clock skew allowed when checking `exp` / `nbf` / `iat` (seconds).
LEEWAY = 30
MAX_TOKEN_LENGTH = 16384

#: client_id -> (fetched at, {kid: jwk}); cleared by `clear_jwks_cache()`.
_JWKS_CACHE: dict[str, tuple[float, dict[str, dict]]] = {}


def clear_jwks_cache() -> None:
    _JWKS_CACHE.clear()


def _upstream() -> UpstreamError:
    return UpstreamError("WorkOS is unavailable", code="SSO_UPSTREAM_ERROR")


@dataclass(frozen=True)
class WorkOSConfig:
    client_id: str
    api_key: str = field(repr=False)  # a secret: never in a repr or a log line
    api_base: str = DEFAULT_API_BASE

    @classmethod
    def from_env(cls, env: Any) -> WorkOSConfig:
        """`WORKOS_CLIENT_ID` (var) and `WORKOS_API_KEY` (secret); either missing: 503 `SSO_NOT_CONFIGURED`.
        `WORKOS_API_URL` (var, optional) replaces WorkOS's API base (a stand-in in tests)."""
        client_id = setting(env, "WORKOS_CLIENT_ID")
        api_key = setting(env, "WORKOS_API_KEY")
        if client_id is None or api_key is None:
            raise AppError("Single sign-on is not configured", code="SSO_NOT_CONFIGURED", status=503)
        return cls(client_id=client_id, api_key=api_key, api_base=setting(env, "WORKOS_API_URL") or DEFAULT_API_BASE)

    def url(self, path: str) -> str:
        return self.api_base.rstrip("/") + path


def authorization_url(config: WorkOSConfig, *, redirect_uri: str, state: str, provider: str = "authkit") -> str:
    """Where to send the browser to sign in; WorkOS sends it back to `redirect_uri?code=...&state=...`."""
    query = urlencode(
        {
            "client_id": config.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "provider": provider,
            "state": state,
        },
        quote_via=quote,
    )
    return f"{config.url('/user_management/authorize')}?{query}"


@dataclass(frozen=True)
class WorkOSAuthentication:
    user: dict  # WorkOS's user object as sent: id, email, first_name, last_name, email_verified, ...
    organization_id: str | None
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    claims: dict = field(default_factory=dict)  # the verified access-token claims


async def authenticate(env: Any, code: str) -> WorkOSAuthentication:
    """`authenticate_with_code` with the WorkOS configuration of `env` (`WorkOSConfig.from_env`)."""
    return await authenticate_with_code(WorkOSConfig.from_env(env), code)


async def authenticate_with_code(config: WorkOSConfig, code: str, *, now: float | None = None) -> WorkOSAuthentication:
    """Exchange the callback's `code` for the user and a verified WorkOS access token.

    400 `INVALID_CODE` when WorkOS refuses the code; 502 `SSO_UPSTREAM_ERROR` when WorkOS cannot be
    reached or answers nonsense; 401 `INVALID_TOKEN`/`TOKEN_EXPIRED` when its access token fails
    verification or belongs to another user.
    """
    if not isinstance(code, str) or not code.strip() or len(code) > 1024:
        raise BadRequest("The sign-in code is invalid or expired", code="INVALID_CODE")
    body = {
        "client_id": config.client_id,
        "client_secret": config.api_key,
        "grant_type": "authorization_code",
        "code": code,
    }
    status, data = await _call(config.url("/user_management/authenticate"), body)
    # 401/403: WorkOS refused our API key; 429: rate limited. Neither is the user's code at fault.
    if 400 <= status < 500 and status not in (401, 403, 429):
        raise BadRequest("The sign-in code is invalid or expired", code="INVALID_CODE")
    if status != 200 or data is _NOT_JSON:
        raise _upstream()

    if not isinstance(data, dict):
        raise _upstream()
    user, access_token = data.get("user"), data.get("access_token")
    organization_id, refresh_token = data.get("organization_id"), data.get("refresh_token")
    if (
        not isinstance(user, dict)
        or not isinstance(user.get("id"), str)
        or not user["id"]
        or not isinstance(access_token, str)
        or not access_token
        or not (organization_id is None or isinstance(organization_id, str))
        or not (refresh_token is None or isinstance(refresh_token, str))
    ):
        raise _upstream()

    claims = await verify_access_token(config, access_token, now=now)
    if claims.get("sub") != user["id"]:
        raise invalid_token()
    return WorkOSAuthentication(
        user=user,
        organization_id=organization_id or None,
        access_token=access_token,
        refresh_token=refresh_token or None,
        claims=claims,
    )


_NOT_JSON = object()


async def _call(url: str, body: dict | None = None) -> tuple[int, Any]:
    """(status, parsed JSON body or `_NOT_JSON`) of a GET, or of a POST of `body` as JSON.

    502 `SSO_UPSTREAM_ERROR` when WorkOS cannot be reached within `HTTP_TIMEOUT` seconds (a network
    error is a JavaScript error on Cloudflare and an httpx error locally: any of them is WorkOS's).
    """
    options: dict[str, Any] = {"method": "GET", "headers": {"accept": "application/json"}}
    if body is not None:
        options = {
            "method": "POST",
            "headers": {"accept": "application/json", "content-type": "application/json"},
            "body": json.dumps(body),
        }
    try:
        response = await asyncio.wait_for(fetch(url, **options), HTTP_TIMEOUT)
        text = await asyncio.wait_for(response.text(), HTTP_TIMEOUT)
    except Exception:
        raise _upstream() from None
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, _NOT_JSON


async def _fetch_jwks(config: WorkOSConfig) -> dict[str, dict]:
    """{kid: jwk} of the RSA signing keys WorkOS publishes for this client id (502 if unavailable)."""
    status, data = await _call(config.url(f"/sso/jwks/{config.client_id}"))
    if status != 200 or data is _NOT_JSON:
        raise _upstream()
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise _upstream()
    keys: dict[str, dict] = {}
    for key in data["keys"]:
        if isinstance(key, dict) and isinstance(key.get("kid"), str) and key.get("kty") == "RSA":
            keys[key["kid"]] = key
    _JWKS_CACHE[config.client_id] = (time.time(), keys)
    return keys


async def _signing_key(config: WorkOSConfig, kid: str) -> dict | None:
    """The JWK for `kid`: from the cache while fresh; an unknown kid refetches once (rotation)."""
    cached = _JWKS_CACHE.get(config.client_id)
    fetched = False
    if cached is None or not (0 <= time.time() - cached[0] < JWKS_TTL):
        keys = await _fetch_jwks(config)
        fetched = True
    else:
        keys = cached[1]
    if kid not in keys and not fetched:
        keys = await _fetch_jwks(config)
    return keys.get(kid)


async def verify_access_token(config: WorkOSConfig, token: str, *, now: float | None = None) -> dict:
    """The claims of a WorkOS access token whose RS256 signature checks out against the JWKS.

    401 `INVALID_TOKEN` (`TOKEN_EXPIRED` once `exp` has passed); 502 `SSO_UPSTREAM_ERROR` if the
    JWKS cannot be fetched.
    """
    kid = signed_header(token, ALGORITHM, max_length=MAX_TOKEN_LENGTH)["kid"]
    key_data = await _signing_key(config, kid)
    if key_data is None:
        raise invalid_token()
    if key_data.get("alg", ALGORITHM) != ALGORITHM or key_data.get("use", "sig") != "sig":
        raise invalid_token()
    claims = verified_claims(token, key_data, ALGORITHM)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise invalid_token()
    check_times(claims, now=now, leeway=LEEWAY, iat_required=False)
    return claims
