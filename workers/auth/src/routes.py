"""The auth HTTP API. Every route calls a domain function; all but sign-in and /health need a token.

Public: `/health`, `/login`, `/callback`, `/refresh` and `/logout` (their credential is the SSO
state or the refresh token). Everything else takes `Authorization: Bearer <API key | JWT>`,
checked in-process by `principals.validate_token`.
"""

from http.cookies import SimpleCookie
from typing import Any

from workers import Request, Response

import api_keys
import login
import principals
import sessions
import users
from shared.errors import BadRequest, Forbidden
from shared.http import query_of, with_headers
from shared.mcp import mcp_endpoint
from shared.middleware import AccessLogMiddleware, AuthenticationMiddleware, ErrorMiddleware, RequestIdMiddleware
from shared.middleware.authentication import bearer_token, principal_of
from shared.permissions import allows
from shared.routing import Context, Router
from shared.validation import read_json, read_json_object
from tools import registry

SERVICE = "auth"
VERSION = "0.1.0"
REFRESH_COOKIE = "dotdo_refresh"
PUBLIC = ("/health", "/login", "/callback", "/refresh", "/logout")

router = Router()
router.use(RequestIdMiddleware())
router.use(AccessLogMiddleware(SERVICE))
router.use(ErrorMiddleware(SERVICE))
router.use(AuthenticationMiddleware(public=PUBLIC, validate=principals.validate_token))


@router.get("/health")
async def health(request: Request, ctx: Context) -> Any:
    return {"service": SERVICE, "status": "ok", "version": VERSION}


# -- sign-in ------------------------------------------------------------------------------------------


def _cookie(request: Request, name: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(request.headers.get("cookie") or "")
    except Exception:  # a malformed Cookie header is no cookie
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def _refresh_cookie(value: str, max_age: int) -> str:
    return f"{REFRESH_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"


@router.get("/login")
async def start_login(request: Request, ctx: Context) -> Any:
    url = await login.start_login(ctx.env, query_of(request).get("redirect_uri"))
    return Response(None, status=302, headers={"location": url, "cache-control": "no-store"})


@router.get("/callback")
async def callback(request: Request, ctx: Context) -> Any:
    query = query_of(request)
    if "error" in query:
        raise BadRequest("Sign-in was not completed at the identity provider", code="SSO_DENIED")
    redirect_uri, issued = await login.finish_login(
        ctx.env,
        query.get("code"),
        query.get("state"),
        ip=request.headers.get("cf-connecting-ip"),
        user_agent=request.headers.get("user-agent"),
    )
    headers = {
        "location": redirect_uri,
        "cache-control": "no-store",
        "set-cookie": _refresh_cookie(issued["refresh_token"], issued["refresh_expires_in"]),
    }
    return Response(None, status=302, headers=headers)


@router.post("/refresh")
async def refresh(request: Request, ctx: Context) -> Any:
    # strict JSON: a browser cannot send application/json cross-site without a CORS preflight
    body = await read_json_object(request, strict=True)
    from_cookie = body.get("refresh_token") is None
    token = _cookie(request, REFRESH_COOKIE) if from_cookie else body.get("refresh_token")
    issued = await sessions.refresh(ctx.env, token)
    if not from_cookie:
        return issued
    response = ctx.json({k: v for k, v in issued.items() if k != "refresh_token"})
    cookie = _refresh_cookie(issued["refresh_token"], issued["refresh_expires_in"])
    return await with_headers(response, {"set-cookie": cookie})


@router.post("/logout")
async def logout(request: Request, ctx: Context) -> Any:
    session_id = None
    token = bearer_token(request)
    if token is not None and not token.startswith("sk_"):
        session_id = (await sessions.validate_access_token(ctx.env, token))["session_id"]
    ended = await sessions.logout(ctx.env, session_id=session_id, refresh_token=_cookie(request, REFRESH_COOKIE))
    return await with_headers(ctx.json({"logged_out": ended}), {"set-cookie": _refresh_cookie("", 0)})


# -- who am I, API keys, users --------------------------------------------------------------------------


@router.get("/me")
async def me(request: Request, ctx: Context) -> Any:
    principal = principal_of(ctx)
    user = await users.get_user(ctx.env, principal["id"])
    return {"principal": dict(principal), "user": users.public_user(user)}


@router.get("/sessions")
async def list_sessions(request: Request, ctx: Context) -> Any:
    return await sessions.list_sessions(ctx.env, principal_of(ctx)["id"])


@router.delete("/sessions/{id}")
async def end_session(request: Request, ctx: Context) -> Any:
    return await sessions.end_session(ctx.env, principal_of(ctx)["id"], ctx.params["id"])


@router.post("/permissions/check")
async def check_permission(request: Request, ctx: Context) -> Any:
    body = await read_json_object(request)
    permission = body.get("permission")
    allowed = await principals.check_permission(ctx.env, principal_of(ctx), permission, body.get("org_id"))
    return {"permission": permission, "allowed": allowed}


@router.post("/apikeys")
async def create_api_key(request: Request, ctx: Context) -> Any:
    created = await api_keys.create_api_key(ctx.env, principal_of(ctx), await read_json(request))
    return ctx.json(created, status=201)


@router.get("/apikeys")
async def list_api_keys(request: Request, ctx: Context) -> Any:
    query = query_of(request)
    include_revoked = query.get("include_revoked") in ("1", "true")
    return await api_keys.list_api_keys(ctx.env, principal_of(ctx), query.get("owner_id"), include_revoked)


@router.delete("/apikeys/{id}")
async def revoke_api_key(request: Request, ctx: Context) -> Any:
    return await api_keys.revoke_api_key(ctx.env, principal_of(ctx), ctx.params["id"])


@router.post("/users")
async def create_user(request: Request, ctx: Context) -> Any:
    return ctx.json(await users.create_user(ctx.env, principal_of(ctx), await read_json(request)), status=201)


@router.post("/users/{id}/apikeys")
async def create_api_key_for_user(request: Request, ctx: Context) -> Any:
    body = await read_json(request)
    created = await api_keys.create_api_key_for_user(ctx.env, principal_of(ctx), ctx.params["id"], body)
    return ctx.json(created, status=201)


@router.get("/users/{id}")
async def get_user(request: Request, ctx: Context) -> Any:
    principal = principal_of(ctx)
    if ctx.params["id"] != principal["id"] and not allows(principal["permissions"], "users:read"):
        raise Forbidden("This needs the permission 'users:read'", details={"permission": "users:read"})
    return users.public_user(await users.get_user(ctx.env, ctx.params["id"]))


@router.put("/users/{id}/role")
async def set_role(request: Request, ctx: Context) -> Any:
    body = await read_json(request)
    role = body.get("role") if isinstance(body, dict) else None
    return await users.set_role(ctx.env, principal_of(ctx), ctx.params["id"], role)


@router.put("/users/{id}/disabled")
async def set_disabled(request: Request, ctx: Context) -> Any:
    body = await read_json(request)
    disabled = body.get("disabled") if isinstance(body, dict) else None
    return await users.set_disabled(ctx.env, principal_of(ctx), ctx.params["id"], disabled)


@router.post("/users/{id}/grants")
async def grant(request: Request, ctx: Context) -> Any:
    body = await read_json_object(request)
    granted = await users.grant(
        ctx.env, principal_of(ctx), ctx.params["id"], body.get("permission"), body.get("org_id")
    )
    return ctx.json(granted, status=201)


router.route("/mcp", ["POST", "GET", "DELETE"])(mcp_endpoint(registry, name=SERVICE, version=VERSION))
