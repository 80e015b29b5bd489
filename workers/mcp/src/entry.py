"""mcp: one MCP server for the whole platform, at `/mcp` (issue #15).

Tools are every service's, listed for the caller and run by their own service over its binding (the
kit's `mcp_list_tools` / `mcp_call_tool` RPC methods); resources and prompts are this worker's. The
entrypoint is thin: `routes.py` has the HTTP face. It offers no RPC methods: nothing calls mcp but MCP
clients.
"""

from workers import WorkerEntrypoint

import routes


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await routes.router.handle(request, self.env, self.ctx)
