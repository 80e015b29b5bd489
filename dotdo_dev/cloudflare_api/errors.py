"""Cloudflare's v4 envelope and the errors the stand-in answers with.

Every answer is `{"success", "errors": [{"code", "message"}], "messages", "result"}`. Codes seen in
Cloudflare's answers (docs, SDKs, user reports; /tmp/notes/topology.md) are used as they are; codes
marked *assumed* were not found for that exact check and are the stand-in's choice, kept here so a
client has one place to read them.
"""

from __future__ import annotations

from typing import Any

AUTHENTICATION = 10000  # "Authentication error" (Cloudflare)
SCRIPT_NOT_FOUND = 10007  # account-level script not found (workers-sdk#2968)
SCRIPT_NOT_FOUND_IN_NAMESPACE = 10092  # GET/DELETE of a namespace script that does not exist (wrangler)
SERVICE_BINDING_NOT_FOUND = 10143  # "Could not resolve service binding ..." (user reports, wrangler e2e)
SCRIPT_INVALID = 10021  # Cloudflare's script-validation code (bad modules, flags); used for bindings too: assumed
METADATA_INVALID = 10014  # missing or malformed metadata part: assumed
SCRIPT_NAME_INVALID = 10016  # assumed
SCRIPT_TOO_LARGE = 10027  # "Your Worker exceeded the size limit of ..." (code assumed)
NO_ROUTE = 7003  # "Could not route to ..., perhaps your object identifier is invalid?" (Cloudflare)
METHOD_NOT_ALLOWED = 10405  # assumed


class CloudflareError(Exception):
    """A refusal: HTTP status, Cloudflare error code, message (never a secret)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def envelope(result: Any = None, *, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"success": not errors, "errors": errors or [], "messages": [], "result": result}


def error_envelope(error: CloudflareError) -> dict[str, Any]:
    return envelope(None, errors=[{"code": error.code, "message": error.message}])


def service_binding_not_found(binding: str, service: str) -> CloudflareError:
    """Cloudflare's refusal of a service binding whose target is not an account-level script."""
    return CloudflareError(
        400,
        SERVICE_BINDING_NOT_FOUND,
        f"Could not resolve service binding '{binding}'. Target script '{service}' not found. "
        "Please verify the target script and try again.",
    )
