"""Code every worker bundles: the envelope, errors, ids, validation, routing, MCP tools and queue messages."""

from shared.envelope import error_response, success_response
from shared.errors import AppError
from shared.routing import Context, Router

__all__ = ["AppError", "Context", "Router", "error_response", "success_response"]
