"""mcp's HTTP face: the middleware stack, `/health`, the OAuth protected-resource metadata, and `POST /mcp`.

Every path but `/health` and the metadata needs a bearer token (an API key or a JWT), checked by the auth
service through `AUTH_SERVICE`; a 401 names the metadata, which names auth (shared.oauth). The MCP server
answers both protocol generations (shared.mcp): its tools come from every service (tools.py), its
resources and prompts are this worker's (resources.py, prompts.py).
"""

from prompts import prompts
from resources import resources
from shared.mcp import McpServer, mcp_endpoint
from shared.service import Service
from tools import AggregatedTools

service = Service(
    "mcp",
    version="0.1.0",
    description="One MCP server for the platform: every service's tools, platform resources, operator prompts.",
)

INSTRUCTIONS = (
    "Tools are named <service>_<tool> (db_get, auth_create_api_key, deploy_rollback, ...) and are those your "
    "credentials allow. A tool error's structuredContent has a code (FORBIDDEN, VALIDATION_ERROR, NOT_FOUND, ...). "
    "Resources: dotdo://platform/health, dotdo://openapi/<service>, dotdo://deployments/recent."
)

server = McpServer(
    name=service.name,
    version=service.version,
    tools=AggregatedTools(),
    resources=resources,
    prompts=prompts,
    instructions=INSTRUCTIONS,
)

router = service.router()  # request ids, access log, errors, authentication, GET /health, the OAuth metadata
router.route("/mcp", ["POST", "GET", "DELETE"])(mcp_endpoint(server))
