"""Connects the official MCP Python SDK to a gateway over stdio and calls one backend tool.

usage: python invoke_through_gateway.py SERVER TOOL ARGS_JSON -- GATEWAY_COMMAND [ARGS...]
Prints one JSON object: {"tools": [...meta-tool names], "isError": bool, "text": "..."}.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main() -> None:
    server, tool, args_json = sys.argv[1], sys.argv[2], sys.argv[3]
    sep = sys.argv.index("--")
    command, args = sys.argv[sep + 1], sys.argv[sep + 2 :]
    params = StdioServerParameters(command=command, args=args)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            listed = await session.list_tools()
            result = await session.call_tool(
                "gateway_invoke",
                {"server": server, "tool": tool, "arguments": json.loads(args_json)},
            )
            text = "".join(getattr(c, "text", "") for c in result.content)
            # The result as it came over the wire: `isError` is read from there, so a renamed
            # attribute cannot turn every result into a success.
            wire = result.model_dump(mode="json", by_alias=True)
            if "isError" not in wire:
                sys.exit(f"this SDK's CallToolResult has no isError field: {wire}")
            is_error = wire["isError"] is True  # absent (None) means success, per the spec
            print(json.dumps({"tools": [t.name for t in listed.tools], "isError": is_error, "text": text}))


asyncio.run(main())
