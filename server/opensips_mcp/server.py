"""Build the MCP server: the selected tools, the runtime, per-caller tool listing.

Every enabled tool is registered once; what a caller *sees* is decided per request
(:meth:`OpenSIPSMCP.list_tools`): over HTTP different tokens carry different roles in
one process, so the listing is filtered by the principal of the request, and each
listed tool's hints are lowered to what that role can do with it (``mi_execute`` is
read-only for a viewer). A hidden tool is still callable by name, and still gated:
every MI call it makes goes through the runtime's gate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from mcp.server import MCPServer
from mcp.server.auth.settings import AuthSettings
from mcp.types import Tool as MCPTool
from pydantic import AnyHttpUrl

from opensips_mcp import __version__
from opensips_mcp.audit import AuditLog
from opensips_mcp.catalog import load_catalog
from opensips_mcp.gate import Role
from opensips_mcp.runtime import Runtime
from opensips_mcp.settings import Settings
from opensips_mcp.tokens import StoreTokenVerifier, TokenStore
from opensips_mcp.tools import ToolSpec, discover_toolsets, select_tools

INSTRUCTIONS = """\
Operate an OpenSIPS SIP server through its Management Interface (MI).
Start with opensips_health, then mi_list_commands / mi_describe_command to find the
command and parameter set (recipe) you need; run it with mi_execute. Each recipe has an
access level (read, write, destructive, admin) and your role allows some of them.
Read the state before changing it; after an 'outcome_unknown' error, run the read
command the error names before retrying anything."""


class OpenSIPSMCP(MCPServer[None]):
    """An ``MCPServer`` whose tool listing depends on the caller's role."""

    def __init__(
        self,
        runtime: Runtime,
        specs: Sequence[ToolSpec],
        **kwargs: Any,
    ) -> None:
        @asynccontextmanager
        async def lifespan(_: MCPServer[None]) -> AsyncIterator[None]:
            await runtime.start()
            try:
                yield None
            finally:
                await runtime.stop()

        super().__init__(
            "opensips-mcp",
            version=__version__,
            instructions=INSTRUCTIONS,
            lifespan=lifespan,
            **kwargs,
        )
        self.runtime = runtime
        self.specs = {spec.name: spec for spec in specs}
        for spec in specs:
            self.add_tool(
                spec.fn,
                name=spec.name,
                title=spec.title,
                description=spec.description,
                annotations=spec.annotations(),
            )

    def visible_specs(self, role: Role) -> list[ToolSpec]:
        """The tools ``role`` can use, i.e. the ones it is shown."""
        return [spec for spec in self.specs.values() if spec.visible_to(role)]

    async def list_tools(self) -> list[MCPTool]:
        """The tools the calling principal can use, hinted for its role."""
        role = self.runtime.principal().role
        listed = []
        for tool in await super().list_tools():
            spec = self.specs.get(tool.name)
            if spec is None or not spec.visible_to(role):
                continue
            listed.append(tool.model_copy(update={"annotations": spec.annotations(role)}))
        return listed


def build_server(
    settings: Settings,
    *,
    tokens: TokenStore | None = None,
    audit: AuditLog | None = None,
) -> OpenSIPSMCP:
    """The server for ``settings``: tools selected by ``--toolsets``/``--tools``.

    ``tokens`` (HTTP only) turns on bearer authentication: every request must carry a
    known token, whose role applies. Without it the configured role applies (stdio, in
    memory, or HTTP on loopback without tokens). Raises ``ToolSelectionError`` for an
    unknown toolset or tool name.
    """
    specs = select_tools(discover_toolsets(), settings.toolsets, settings.tools)
    runtime = Runtime(settings, load_catalog(), audit or AuditLog(settings.audit_log))
    auth_kwargs: dict[str, Any] = {}
    if tokens is not None:
        # The SDK requires an issuer URL, but it only serves OAuth routes with an
        # authorization-server provider, which this server has none of: tokens are local.
        auth_kwargs = {
            "auth": AuthSettings(
                issuer_url=AnyHttpUrl("http://localhost"), resource_server_url=None
            ),
            "token_verifier": StoreTokenVerifier(tokens),
        }
    return OpenSIPSMCP(runtime, specs, log_level=settings.log_level, **auth_kwargs)
