"""The auth HTTP API: the middleware stack, `/health`, sign-in, and the routes of `operations.py`.

Public: `/health`, `/openapi.json`, `/login`, `/callback`, `/refresh` and `/logout` (their
credential is the SSO state or the refresh token: redirects and cookies, so written here, not as
operations). Everything else takes `Authorization: Bearer <API key | JWT>`, checked in-process by
`principals.validate_token`, and each operation then checks its own permission.
"""

from http.cookies import SimpleCookie
from typing import Any

from workers import Request, Response

import login
import principals
import sessions
from operations import service
from shared.errors import BadRequest
from shared.http import query_of, with_headers
from shared.middleware.authentication import bearer_token
from shared.routing import Context
from shared.validation import read_json_object

SERVICE = service.name
VERSION = service.version
REFRESH_COOKIE = "dotdo_refresh"
#: Sign-in needs no token (besides /health, the public operations' paths and /openapi.json).
SIGN_IN = ("/login", "/callback", "/refresh", "/logout")

# auth checks bearer tokens itself (the others ask it over AUTH_SERVICE)
router = service.router(public=SIGN_IN, validate=principals.validate_token)


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


service.serve(router)  # the operations' routes (/me, /apikeys, /users, ...), GET /openapi.json and POST /mcp
