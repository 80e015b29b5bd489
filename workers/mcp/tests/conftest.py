"""The mcp worker in this process, with stand-ins for the services it offers.

AUTH_SERVICE answers `validate_token` for the tokens of PRINCIPALS (dotdo_dev.pytest_plugin's `auth`) and
is also the `auth` service's tools; db, deploy and auth are small services built with the real kit
(`shared.service`), so their `mcp_list_tools` / `mcp_call_tool` RPC methods, `/health` and `/openapi.json`
are the ones every service has. The other upstreams are left as wrangler.jsonc binds them: workers that
are not running here (unreachable), unless a test binds something else.
"""

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from workers import Request, WorkerEntrypoint

from dotdo_dev.testing import StandInAuth, WorkerHarness, bearer, worker_root
from shared.errors import NotFound
from shared.service import Call, NoInput, Service, offset_page

ROOT = worker_root(__file__)  # puts workers/mcp/src on sys.path, as Cloudflare's module root

PRINCIPALS = {
    "admin-token": {"id": "usr_admin", "type": "user", "role": "admin", "permissions": ["*"]},
    "reader-token": {"id": "usr_reader", "type": "user", "role": "viewer", "permissions": ["db:read"]},
    "writer-token": {"id": "usr_writer", "type": "user", "role": "user", "permissions": ["db:read", "db:write"]},
    "deployer-token": {"id": "usr_deployer", "type": "user", "role": "user", "permissions": ["deploy", "db:read"]},
}
ADMIN, READER, WRITER, DEPLOYER = (bearer(t) for t in ("admin-token", "reader-token", "writer-token", "deployer-token"))
DEPLOYMENTS = [{"id": f"dep_{i}", "service": "db", "environment": "staging", "status": "success"} for i in range(3)]


class Key(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=20)


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=20)
    title: str


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100)


def db_service() -> Service:
    service = Service("db", version="9.9.9")

    @service.operation(http="GET /things/{id}", permission="db:read", tool="db_get")
    async def get_thing(call: Call, args: Key) -> dict:
        """Get a thing by id."""
        if args.id not in call.env.things:
            raise NotFound(f"No thing {args.id}")
        return call.env.things[args.id]

    @service.operation(http="POST /things", permission="db:write", tool="db_upsert")
    async def upsert_thing(call: Call, args: Thing) -> dict:
        """Create or replace a thing."""
        call.env.things[args.id] = args.model_dump() | {"by": call.actor}
        return call.env.things[args.id]

    @service.operation(permission="db:read", tool="db_boom")
    async def boom(call: Call, args: NoInput) -> dict:
        """Always fails."""
        raise RuntimeError("secret internals of db")

    return service


def auth_service() -> Service:
    service = Service("auth", version="1.0.0")

    @service.operation(http="GET /me", tool="whoami")  # named without its prefix: the kit adds it
    async def whoami(call: Call, args: NoInput) -> dict:
        """Who the caller is."""
        return {"id": call.actor}

    return service


def deploy_service() -> Service:
    service = Service("deploy", version="2.0.0")

    @service.operation(http="GET /deployments", permission="deploy", tool="deploy_list_deployments")
    async def list_deployments(call: Call, args: Page) -> dict:
        """Deployments, newest first."""
        items = DEPLOYMENTS[: args.limit]
        return offset_page(items, total=len(DEPLOYMENTS), limit=args.limit, offset=0)

    return service


class Env:
    def __init__(self) -> None:
        self.things: dict[str, dict] = {}


def kit_worker(service: Service, env: Any = None, **methods: Any) -> Any:
    """The service as another worker reaches it over its binding: its kit RPC methods and `fetch`."""
    router = service.router()
    service.serve(router)

    @service.entrypoint
    class Default(WorkerEntrypoint):
        async def fetch(self, request, **options):
            if not isinstance(request, Request):
                request = Request(request, **options)
            return await router.handle(request, self.env, None)

    worker = Default(None, env or Env())
    for name, method in methods.items():
        setattr(worker, name, method)
    return worker


class AuthWithTools(StandInAuth):
    """Auth as mcp sees it: `validate_token` for the tokens, and the auth service's kit methods."""

    def __init__(self, principals: dict) -> None:
        super().__init__(principals)
        self.kit = kit_worker(auth_service())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.kit, name)


@pytest.fixture
def principals():
    return PRINCIPALS


@pytest.fixture
def auth(principals):
    return AuthWithTools(principals)


@pytest.fixture
def db():
    return kit_worker(db_service())


@pytest.fixture
def deploy():
    return kit_worker(deploy_service())


@pytest.fixture
def bindings(auth, db, deploy):
    return {"AUTH_SERVICE": auth, "DB_SERVICE": db, "DEPLOY_SERVICE": deploy}


@pytest.fixture
def worker(tmp_path, bindings):
    return WorkerHarness(ROOT, state_dir=tmp_path, bindings=bindings)


MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}


async def rpc(worker, method, params=None, *, headers, modern=False, version=None, id=1):
    """One JSON-RPC request to the worker's /mcp: (HTTP status, reply). `modern`: the 2026-07-28 envelope;
    `version`: a handshake revision's `MCP-Protocol-Version` (none: 2025-03-26, as a client before 2025-06-18)."""
    params = dict(params or {})
    extra = {"mcp-protocol-version": version} if version else {}
    if modern:
        params["_meta"] = META
        extra = {"mcp-protocol-version": MODERN, "mcp-method": method}
        named = {"tools/call": "name", "resources/read": "uri", "prompts/get": "name"}.get(method)
        if named:
            extra["mcp-name"] = params[named]
    message = {"jsonrpc": "2.0", "id": id, "method": method, "params": params}
    reply = await worker.fetch("/mcp", method="POST", json=message, headers=headers | extra)
    text = await reply.text()
    return reply.status, (json.loads(text) if text else None)
