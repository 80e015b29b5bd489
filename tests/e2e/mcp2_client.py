"""Drive the official MCP Python SDK, 2.x line (`mcp.Client`), against one MCP endpoint; print what it saw.

Run in a process of its own with the 2.x SDK first on `PYTHONPATH` (`.cache/mcp2`, installed by
`make mcp2`): it cannot share a venv with the 1.x line the other tests import. A JSON scenario comes
on stdin, one JSON report goes to stdout:

    {"url": ..., "headers": {...}, "calls": [{"name", "arguments"}], "reads": [uri, ...],
     "prompts": [{"name", "arguments"}]}
    -> {"sdk", "protocol_version", "server_info", "tools": [{"name", "input_schema"}], "calls": [...],
        "reads": [...], "resources": [uri, ...], "prompts": [...], "prompt_results": [...]}

Lists are read to the end (every `nextCursor` followed). A JSON-RPC error of a call is reported as
`{"error": {"code", "message"}}` instead of ending the run.
"""

import asyncio
import json
import sys
from importlib.metadata import version

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError


async def every_page(fetch, key):
    items, cursor = [], None
    for _ in range(50):
        page = await fetch(cursor=cursor)
        items += getattr(page, key)
        cursor = page.next_cursor
        if not cursor:
            return items
    raise RuntimeError(f"{key}: more than 50 pages")


async def attempt(coroutine, shape):
    try:
        return shape(await coroutine)
    except MCPError as err:
        return {"error": {"code": err.error.code, "message": err.error.message}}


def call_shape(result):
    return {
        "is_error": result.is_error,
        "structured": result.structured_content,
        "text": result.content[0].text if result.content else None,
    }


async def run(scenario):
    async with (
        create_mcp_http_client(headers=scenario.get("headers") or {}) as http,
        Client(streamable_http_client(scenario["url"], http_client=http)) as client,
    ):
        report = {
            "sdk": version("mcp"),
            "protocol_version": client.protocol_version,
            "server_info": client.server_info.model_dump() if client.server_info else None,
        }
        tools = await every_page(client.list_tools, "tools")
        report["tools"] = [{"name": t.name, "input_schema": t.input_schema} for t in tools]
        report["calls"] = [
            await attempt(client.call_tool(c["name"], c.get("arguments") or {}), call_shape)
            for c in scenario.get("calls", [])
        ]
        if client.server_capabilities.resources is not None:
            resources = await every_page(client.list_resources, "resources")
            report["resources"] = [str(r.uri) for r in resources]
            report["reads"] = [
                await attempt(client.read_resource(uri), lambda r: [c.model_dump(by_alias=True) for c in r.contents])
                for uri in scenario.get("reads", [])
            ]
        if client.server_capabilities.prompts is not None:
            prompts = await every_page(client.list_prompts, "prompts")
            report["prompts"] = [p.name for p in prompts]
            report["prompt_results"] = [
                await attempt(
                    client.get_prompt(p["name"], p.get("arguments") or {}),
                    lambda r: [m.content.text for m in r.messages],
                )
                for p in scenario.get("prompts", [])
            ]
        return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.load(sys.stdin))), default=str))
