"""The deploy HTTP API: the middleware stack, `/health`, `POST /deploy`, and the routes of `operations.py`.

Every route but `/health` and `/openapi.json` needs a bearer token (checked by the auth service through
`AUTH_SERVICE`); each operation then checks `deploy`, and production `deploy:production`.

`POST /deploy` is written here because the kit reads JSON bodies only. It takes either
`multipart/form-data` with a `metadata` part (JSON: service, environment, version, commit, branch,
author) and a `bundle` part (the build output as a tar.gz), or a JSON object with the same fields and
`bundle` in base64 (what the `deploy` operation takes over RPC). The permission is checked before the
body is read; the bundle is checked before anything is uploaded.
"""

import json
from typing import Any

from workers import Request

import bundles
import deployments
from operations import DeployInput, Target, decode_bundle, service
from shared.errors import BadRequest, Forbidden, Unauthorized
from shared.http import headers_of
from shared.permissions import allows
from shared.routing import Context
from shared.validation import validate

#: The largest request body taken: the largest bundle, in base64 or multipart, and its metadata.
MAX_REQUEST_BYTES = bundles.MAX_BUNDLE_BYTES * 4 // 3 + 1024 * 1024

router = service.router()  # request ids, access log, errors, authentication, GET /health


@router.post("/deploy")
async def deploy(request: Request, ctx: Context) -> Any:
    principal = ctx.state.get("principal")
    if principal is None:
        raise Unauthorized("Authentication required", code="UNAUTHORIZED")
    if not allows(principal.get("permissions") or (), "deploy"):
        raise Forbidden("This needs the permission 'deploy'", details={"permission": "deploy"})
    length = headers_of(request).get("content-length")
    if length and length.isdigit() and int(length) > MAX_REQUEST_BYTES:
        raise bundles.too_large(int(length))
    body = await request.bytes()
    if len(body) > MAX_REQUEST_BYTES:
        raise bundles.too_large(len(body))
    content_type = headers_of(request).get("content-type") or ""
    if content_type.lower().startswith("multipart/form-data"):
        parts = parse_multipart(body, content_type)
        if "metadata" not in parts:
            raise BadRequest("The multipart body has no metadata part (JSON: service, environment, ...)")
        if "bundle" not in parts:
            raise BadRequest("The multipart body has no bundle part (the build output as a tar.gz)")
        try:
            metadata = json.loads(parts["metadata"])
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadRequest("The metadata part is not JSON", code="INVALID_JSON") from None
        target = validate(Target, metadata)
        data = parts["bundle"]
    else:
        try:
            payload = json.loads(body) if body else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadRequest(
                "Send multipart/form-data (metadata, bundle) or a JSON object with the bundle in base64",
                code="INVALID_JSON",
            ) from None
        args = validate(DeployInput, payload)
        target, data = args, decode_bundle(args.bundle)
    record = await deployments.deploy(ctx.env, principal, target.model_dump(include=set(Target.model_fields)), data)
    return ctx.json(record, status=201)


def parse_multipart(body: bytes, content_type: str) -> dict[str, bytes]:
    """The parts of a multipart/form-data body by field name (binary-safe); 400 if it is not one."""
    boundary = None
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip().strip('"')
    if not boundary:
        raise BadRequest("multipart/form-data without a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise BadRequest("The multipart body is malformed (no closing boundary)")
    parts: dict[str, bytes] = {}
    for chunk in chunks[1:-1]:
        chunk = chunk.removeprefix(b"\r\n")
        head, separator, data = chunk.partition(b"\r\n\r\n")
        if not separator:
            raise BadRequest("The multipart body is malformed (a part without headers)")
        name = None
        for line in head.decode("latin-1").split("\r\n"):
            header, _, value = line.partition(":")
            if header.strip().lower() == "content-disposition":
                for item in value.split(";")[1:]:
                    key, _, val = item.strip().partition("=")
                    if key.lower() == "name":
                        name = val.strip().strip('"')
        if not name:
            raise BadRequest("The multipart body is malformed (a part without a name)")
        if name in parts:
            raise BadRequest(f"The multipart body has the part {name!r} twice")
        parts[name] = data.removesuffix(b"\r\n")
    return parts


service.serve(router)  # the operations' routes (/deployments, /rollback), GET /openapi.json and POST /mcp
