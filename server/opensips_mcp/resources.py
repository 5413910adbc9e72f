"""MCP resources: read-only views an agent (or its user) can attach as context.

=============================  ================================================================
``opensips://status``          :class:`opensips_mcp.tools.status.Status` as JSON (version,
                               uptime, processes, calls, registrations, transactions, memory)
``opensips://catalog``         every MI command the catalog knows: module, summary, recipes
                               with their access level and whether the caller's role may run
                               each, and whether the live server offers the command
``opensips://command/{name}``  one command of the catalog, as above
=============================  ================================================================

Reads go through the runtime like tool calls (gated, audited as tool
``resource:<uri>``). A failure becomes a ``ResourceError`` whose text is the same
stable ``code: message`` a tool error carries.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from opensips_mcp.catalog import CatalogEntry, UnknownCommand
from opensips_mcp.errors import MCPToolError, from_catalog_error
from opensips_mcp.gate import Role
from opensips_mcp.runtime import LiveCommands, Runtime
from opensips_mcp.tools.status import read_status

STATUS_URI = "opensips://status"
CATALOG_URI = "opensips://catalog"
COMMAND_TEMPLATE = "opensips://command/{name}"

LEVELS = {
    "read": "changes nothing",
    "write": "changes runtime state, recoverable",
    "destructive": "drops calls, registrations or counters",
    "admin": "process-wide or arbitrary effect",
}


def _available(entry: CatalogEntry, live: LiveCommands) -> bool | None:
    if live.names is None:
        return None
    return any(name in live.names for name in (entry.name, *entry.aliases))


def command_json(entry: CatalogEntry, role: Role, live: LiveCommands) -> dict[str, Any]:
    """One catalog entry as the resources show it, for ``role``."""
    return {
        "name": entry.name,
        "module": entry.module,
        "summary": entry.summary,
        "aliases": list(entry.aliases),
        "recipes": [
            {"params": list(r.params), "level": r.level.value, "allowed": role.allows(r.level)}
            for r in entry.recipes
        ],
        "check_after": entry.check_after,
        "available": _available(entry, live),
    }


def _live_json(live: LiveCommands) -> dict[str, Any]:
    return {
        "checked": live.names is not None,
        "offered": len(live.names) if live.names is not None else None,
        "error": live.error,
    }


async def _guarded(what: Callable[[], Awaitable[str]]) -> str:
    try:
        return await what()
    except MCPToolError as exc:
        raise ResourceError(str(exc)) from None


def register_resources(server: MCPServer[Any], runtime: Runtime) -> None:
    """Add the resources of the module docstring to ``server``."""

    @server.resource(
        STATUS_URI,
        name="status",
        title="OpenSIPS status",
        description="Version, uptime, processes, calls in progress, registrations, "
        "transactions and shared memory of the OpenSIPS this server manages (read live).",
        mime_type="application/json",
    )
    async def status() -> str:
        async def read() -> str:
            async with runtime.tool_call(None, f"resource:{STATUS_URI}") as call:
                return (await read_status(call)).model_dump_json()

        return await _guarded(read)

    @server.resource(
        CATALOG_URI,
        name="catalog",
        title="MI command catalog",
        description="Every OpenSIPS MI command this server knows: module, summary, "
        "parameter sets (recipes) with their access level (read, write, destructive, "
        "admin), whether your role may run each, and whether the live server offers it.",
        mime_type="application/json",
    )
    async def catalog() -> str:
        async def read() -> str:
            async with runtime.tool_call(None, f"resource:{CATALOG_URI}") as call:
                role = call.principal.role
                live = await call.live_commands()
                commands = [command_json(e, role, live) for e in runtime.catalog.entries()]
            return json.dumps(
                {
                    "role": role.value,
                    "levels": LEVELS,
                    "role_levels": [lv.value for lv in role.levels],
                    "live": _live_json(live),
                    "count": len(commands),
                    "commands": commands,
                },
                separators=(",", ":"),
            )

        return await _guarded(read)

    @server.resource(
        COMMAND_TEMPLATE,
        name="command",
        title="One MI command",
        description="One OpenSIPS MI command of the catalog: its recipes, the access level "
        "of each, whether your role may run it, and whether the live server offers it.",
        mime_type="application/json",
    )
    async def command(name: str) -> str:
        async def read() -> str:
            async with runtime.tool_call(None, f"resource:{COMMAND_TEMPLATE}") as call:
                entry = runtime.catalog.get(name)
                if entry is None:
                    raise from_catalog_error(UnknownCommand(name, runtime.catalog.suggest(name)))
                live = await call.live_commands()
                data = command_json(entry, call.principal.role, live)
            return json.dumps(data, separators=(",", ":"))

        return await _guarded(read)
