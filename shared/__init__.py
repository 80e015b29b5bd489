"""Code every worker bundles: the envelope, errors, ids, validation, routing, MCP tools and queue messages.

The names below are the everyday ones; the rest lives in its module (`shared.middleware`,
`shared.validation`, `shared.mcp`, `shared.queues`, ...). Importing `shared` does not import
pydantic: the modules that need it (`schemas`, `validation`, `mcp`, `queues`) import it themselves.
"""

from shared.envelope import error_response, success_response
from shared.errors import AppError
from shared.ids import new_id
from shared.routing import Context, Router

__all__ = ["AppError", "Context", "Router", "error_response", "new_id", "success_response"]
