"""deploy: the deploy API. Checks a service's bundle (the build step's output), uploads it with
Cloudflare's API into the dispatch namespace dotdo-<env>, records every deployment in a D1 of its own
(`DEPLOY_DB`, with the bundles it uploaded) and rolls back by re-uploading an earlier bundle.

The entrypoint is thin: the operations (deploy, rollback, list_deployments, get_deployment) are
declared once in `operations.py`, which gives this class their RPC methods and `routes.py` their
routes and MCP tools.
"""

from workers import WorkerEntrypoint

import routes
from operations import service


@service.entrypoint  # deploy, rollback, list_deployments, get_deployment: the operations in operations.py
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)
