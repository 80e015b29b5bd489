"""Deploying, recording and rolling back: what every face of deploy shares.

    record = await deployments.deploy(env, principal, target, data)     # target: service, environment, version...
    record = await deployments.rollback(env, principal, "orders", "staging")

Every attempt is recorded in `deployments` once it has been checked (a bundle refused as malformed is
answered 400 and is no deployment): `uploaded` when Cloudflare took it, `failed` with Cloudflare's
error code and message when it did not (a refused upload changes nothing live: Cloudflare keeps the
script it had). A rollback re-uploads the bundle of the newest successful deployment before the live
one that differs from it, is recorded as a deployment of its own (`action` "rollback", `rollback_of`
the deployment it restored), and marks the deployment it replaced `rolled_back`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import bundles
import cloudflare
import store
from shared.errors import AppError, Conflict, Forbidden, ServiceUnavailable, UpstreamError
from shared.permissions import allows

PRODUCTION = "production"


def check_environment(principal: dict[str, Any], environment: str) -> None:
    """Production needs `deploy:production` besides `deploy` (403 naming it)."""
    if environment == PRODUCTION and not allows(principal.get("permissions") or (), "deploy:production"):
        raise Forbidden(
            "Deploying to production needs the permission 'deploy:production'",
            details={"permission": "deploy:production"},
        )


async def deploy(env: Any, principal: dict[str, Any], target: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Check the bundle in `data`, upload it for `target` (service, environment, version, commit, branch,
    author) and record the outcome; the deployment, or the error saying why it failed."""
    check_environment(principal, target["environment"])
    bundle = bundles.parse(data)  # 400 before anything is uploaded or recorded
    sha256 = hashlib.sha256(data).hexdigest()
    record = await _upload_and_record(env, principal, target, bundle, sha256, action="deploy")
    await store.put_bundle(env, sha256, data)
    return record


async def rollback(env: Any, principal: dict[str, Any], service: str, environment: str) -> dict[str, Any]:
    """Make the previous successful version live again by re-uploading its stored bundle; 409 if there is none."""
    check_environment(principal, environment)
    live = await store.newest(env, {"service": service, "environment": environment, "status": "uploaded"}, limit=1)
    if not live:
        raise Conflict(
            f"{service} has no successful deployment in {environment}: nothing to roll back",
            code="NOTHING_TO_ROLL_BACK",
        )
    current = live[0]
    previous = await _previous(env, service, environment, current)
    if previous is None:
        raise Conflict(
            f"{service} has no successful deployment in {environment} before {current['id']}: nothing to roll back to",
            code="NOTHING_TO_ROLL_BACK",
            details={"live": current["id"]},
        )
    data = await store.get_bundle(env, previous["bundle_sha256"])
    if data is None:
        raise Conflict(f"The bundle of {previous['id']} is no longer kept", code="BUNDLE_MISSING")
    bundle = bundles.parse(data)
    target = {k: previous[k] for k in ("service", "environment", "version", "commit", "branch", "author")}
    target["rollback_of"] = previous["id"]
    record = await _upload_and_record(env, principal, target, bundle, previous["bundle_sha256"], action="rollback")
    await store.set_status(env, current["id"], "rolled_back")
    return record | {"replaced": current["id"]}


async def _previous(env: Any, service: str, environment: str, current: dict[str, Any]) -> dict[str, Any] | None:
    """The newest successful deployment before `current` with another bundle."""
    offset = 0
    where = {"service": service, "environment": environment, "status": "uploaded"}
    while True:
        page = await store.newest(env, where, limit=100, offset=offset)
        for row in page:
            if row["id"] != current["id"] and row["bundle_sha256"] != current["bundle_sha256"]:
                return row
        if len(page) < 100:
            return None
        offset += 100


async def _upload_and_record(
    env: Any, principal: dict[str, Any], target: dict[str, Any], bundle: bundles.Bundle, sha256: str, *, action: str
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "actor": principal.get("id"),
        "key_id": principal.get("key_id"),
        "service": target["service"],
        "environment": target["environment"],
        "version": target.get("version"),
        "commit": target.get("commit"),
        "branch": target.get("branch"),
        "author": target.get("author"),
        "rollback_of": target.get("rollback_of"),
        "bundle_sha256": sha256,
        "action": action,
    }
    try:
        result = await cloudflare.upload(env, target["environment"], target["service"], bundle)
    except cloudflare.CloudflareError as failure:
        record = await store.insert(
            env, values | {"status": "failed", "error_code": failure.code, "error_message": failure.message}
        )
        raise _answer(failure, record["id"]) from None
    cloudflare_id = result.get("etag") or result.get("tag") or result.get("id")
    return await store.insert(
        env, values | {"status": "uploaded", "cloudflare_id": str(cloudflare_id) if cloudflare_id else None}
    )


def _answer(failure: cloudflare.CloudflareError, deployment_id: str) -> AppError:
    """What the caller is told: Cloudflare's code and message (never the token), and the deployment's id."""
    details = {
        "deployment_id": deployment_id,
        "cloudflare": {"code": failure.code, "message": failure.message, "status": failure.status},
    }
    if failure.status is None and failure.message.startswith("deploy is not configured"):
        return ServiceUnavailable(failure.message, code="NOT_CONFIGURED", details=details)
    message = f"Cloudflare refused the upload: {failure}" if failure.status else failure.message
    status = failure.status or 502
    if 400 <= status < 500 and status not in (401, 403, 429):
        return AppError(message, code="CLOUDFLARE_REJECTED", status=400, details=details)
    return UpstreamError(message, code="CLOUDFLARE_ERROR", details=details)
