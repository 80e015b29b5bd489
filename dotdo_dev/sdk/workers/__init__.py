"""The local stand-in for Cloudflare's `workers` module (`workers-runtime-sdk`).

The real SDK's public names with the same signatures, backed by plain Python; a test compares the
two both ways, and docs/local-runtime.md lists what is not provided and why. Under Pyodide on
Cloudflare the real SDK is imported instead; worker code does not change.

`env` is a live view of the current environment and `wait_until` extends the current request, as
the SDK's names from `cloudflare:workers` are (see `_invocation`). The `asgi` and `wsgi` bridges
are submodules (`from workers import asgi`), as in the SDK; `import asgi` works too.
"""

from ._invocation import EnvProxy, wait_until
from .blob import Blob, BlobEnding, BlobValue, File
from .entrypoints import DurableObject, WorkerEntrypoint, WorkflowEntrypoint, handler
from .fetch import fetch
from .formdata import FormData, FormDataValue
from .request import Request
from .response import FetchResponse, Response
from .rpc import python_from_rpc, python_to_rpc
from .types import Body, Context, FetchKwargs, Headers, JSBody, RequestInitCfProperties
from .utils import import_from_javascript, patch_env

env = EnvProxy()
waitUntil = wait_until

__all__ = [
    "Blob",
    "BlobEnding",
    "BlobValue",
    "Body",
    "Context",
    "DurableObject",
    "FetchKwargs",
    "FetchResponse",
    "File",
    "FormData",
    "FormDataValue",
    "Headers",
    "JSBody",
    "Request",
    "RequestInitCfProperties",
    "Response",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "env",
    "fetch",
    "handler",
    "import_from_javascript",
    "patch_env",
    "python_from_rpc",
    "python_to_rpc",
    "waitUntil",
    "wait_until",
]
