"""The local stand-in for Cloudflare's `workers` module (`workers-runtime-sdk`).

Same public names and signatures as the real SDK for what dotdo workers use; a test compares the
two. Under Pyodide on Cloudflare the real SDK is imported instead; worker code does not change.
"""

from .entrypoints import DurableObject, WorkerEntrypoint, handler
from .fetch import fetch
from .request import Request
from .response import FetchResponse, Response
from .rpc import python_from_rpc, python_to_rpc
from .types import Body, Context, FetchKwargs, Headers, RequestInitCfProperties

__all__ = [
    "Body",
    "Context",
    "DurableObject",
    "FetchKwargs",
    "FetchResponse",
    "Headers",
    "Request",
    "RequestInitCfProperties",
    "Response",
    "WorkerEntrypoint",
    "fetch",
    "handler",
    "python_from_rpc",
    "python_to_rpc",
]
