"""The services mcp offers: every account-level service of the registry but the gateway (no tools of its own)
and mcp itself, each reached over its service binding (`DB_SERVICE`, ...; bound in wrangler.jsonc).

A service's binding may be absent (a deployment without it, or `make dev` running only some workers):
what needs that service is then left out of lists and refused where named, never a crash.
"""

from __future__ import annotations

from typing import Any

from shared.registry import SERVICES

#: Services reached by binding that have no tools: the gateway routes, mcp is this worker.
NOT_OFFERED = frozenset({"gateway", "mcp"})

#: name -> binding, in name order (the order of tools, resources and health in every answer).
UPSTREAMS: dict[str, str] = {
    name: SERVICES[name]["binding"]
    for name in sorted(SERVICES)
    if "binding" in SERVICES[name] and name not in NOT_OFFERED
}


def binding_of(env: Any, service: str) -> Any | None:
    """The service binding that reaches `service` in `env`, or None when it is not bound here."""
    name = UPSTREAMS.get(service)
    return getattr(env, name, None) if name else None


def owner_of(tool: str) -> str | None:
    """The service a tool's name (`<service>_<tool>`) belongs to: the longest service name that prefixes it."""
    owners = [name for name in UPSTREAMS if tool.startswith(f"{name}_")]
    return max(owners, key=len) if owners else None


def plain(value: Any) -> Any:
    """A value that crossed an RPC boundary as Python data (a JS object under Pyodide has `to_py`)."""
    return value.to_py() if hasattr(value, "to_py") else value
