"""deploy's operations, each declared once: RPC, HTTP, MCP and OpenAPI follow.

Every operation needs `deploy`; production needs `deploy:production` as well (checked by
`deployments.check_environment`, 403 naming it). `POST /deploy` takes the bundle as multipart
(`metadata` JSON + `bundle` tar.gz) or as JSON with the bundle in base64: its route is written in
`routes.py` (the kit reads JSON bodies only) and runs this same operation's checks.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

import deployments
import store
from shared.errors import BadRequest, NotFound
from shared.service import OFFSET_PAGE, Call, Service, offset_page
from tables import STATUSES

service = Service(
    "deploy",
    version="0.1.0",
    description="Deploys services' bundles to Cloudflare (dispatch namespace dotdo-<env>), records them, rolls back.",
)

#: A service name as create-service makes them (script name, host label).
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
#: Account-level platform workers (docs/architecture.md, topology) and create-service's reserved names:
#: none of them is ever a script in a dispatch namespace.
NOT_DEPLOYABLE = frozenset(
    {"dispatcher", "gateway", "auth", "db", "deploy", "api", "www", "shared", "templates", "tests", "test"}
    | {"wrangler", "workers", "platform"}
)
Environment = Literal["staging", "production", "development"]
_TEXT = r"^[^\x00-\x1f\x7f]*$"  # no control characters


def check_service_name(value: str) -> str:
    if not SERVICE_NAME.fullmatch(value):
        raise ValueError("lower-case letters, digits and single hyphens, starting with a letter (e.g. orders)")
    if value in NOT_DEPLOYABLE:
        raise ValueError(f"{value!r} is a platform worker or a reserved name, not a service the deploy API uploads")
    return value


class Target(BaseModel):
    """Which service goes where: the `metadata` part of POST /deploy."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=40, description="The service (its script name in dotdo-<env>)")
    environment: Environment = Field(description="staging, production or development")
    version: str | None = Field(default=None, max_length=100, pattern=_TEXT)
    commit: str | None = Field(default=None, max_length=100, pattern=r"^[0-9A-Za-z._/-]*$")
    branch: str | None = Field(default=None, max_length=200, pattern=_TEXT)
    author: str | None = Field(default=None, max_length=200, pattern=_TEXT)

    @field_validator("service")
    @classmethod
    def _valid_service(cls, value: str) -> str:
        return check_service_name(value)


class DeployInput(Target):
    bundle: str = Field(min_length=1, description="The build output as a tar.gz, in base64")


class RollbackInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=40)
    environment: Environment

    @field_validator("service")
    @classmethod
    def _valid_service(cls, value: str) -> str:
        return check_service_name(value)


class ListInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(default=None, max_length=40)
    environment: Environment | None = None
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=100_000)


class DeploymentId(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^dep_[a-z0-9]+$")


class PruneInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: int = Field(default=10, ge=2, le=1000, description="How many newest deployments per service and environment")


def _principal(call: Call) -> dict[str, Any]:
    assert call.principal is not None  # the kit lets no operation here run without one
    return call.principal


def decode_bundle(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("bundle must be the tar.gz in base64", code="BAD_BUNDLE") from None


@service.operation(permission="deploy", status=201)
async def deploy(call: Call, args: DeployInput) -> dict:
    """Upload a service's bundle into dotdo-<environment> and record it (production needs deploy:production)."""
    target = args.model_dump(exclude={"bundle"})
    return await deployments.deploy(call.env, _principal(call), target, decode_bundle(args.bundle))


@service.operation(http="POST /rollback", permission="deploy", tool="deploy_rollback", status=201)
async def rollback(call: Call, args: RollbackInput) -> dict:
    """Make the previous successful version of a service live again (re-uploads its bundle; recorded)."""
    return await deployments.rollback(call.env, _principal(call), args.service, args.environment)


@service.operation(
    http="GET /deployments",
    permission="deploy",
    tool="deploy_list_deployments",
    page=OFFSET_PAGE,
)
async def list_deployments(call: Call, args: ListInput) -> dict:
    """Deployments, newest first, filtered by service, environment and status: `{"items": [...], "total", ...}`."""
    filters = {"service": args.service, "environment": args.environment, "status": args.status}
    where = {column: value for column, value in filters.items() if value}
    items = await store.newest(call.env, where, limit=args.limit, offset=args.offset)
    total = await store.count(call.env, where)
    return offset_page(items, total=total, limit=args.limit, offset=args.offset)


@service.operation(http="GET /deployments/{id}", permission="deploy", tool="deploy_get_deployment")
async def get_deployment(call: Call, args: DeploymentId) -> dict:
    """One deployment by id."""
    record = await store.get(call.env, args.id)
    if record is None:
        raise NotFound(f"No deployment {args.id}", code="NOT_FOUND")
    return record


@service.operation(http="POST /maintenance/prune-bundles", permission="deploy:maintain")
async def prune_bundles(call: Call, args: PruneInput) -> dict:
    """Delete stored bundles outside each service's newest deployments per environment (the schedule service runs it).

    Kept: the bundles of the `keep` newest deployments of each service in each environment, and of its two
    newest successful ones there (the live one, and the one a rollback would re-upload).
    """
    return await store.prune_bundles(call.env, args.keep)
