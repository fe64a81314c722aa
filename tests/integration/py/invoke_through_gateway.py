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
            print(json.dumps({"tools": [t.name for t in listed.tools], "isError": bool(getattr(result, "is_error", None) or getattr(result, "isError", False)), "text": text}))


asyncio.run(main())
