"""Progress notifications for tools that wait (statistics_delta, cluster_drain_node)."""

from __future__ import annotations

from mcp.server.mcpserver import Context


async def report_progress(ctx: Context, done: float, total: float, message: str) -> None:
    """Tell the client how far a waiting tool is. A no-op when the client asked for no
    progress or there is no request to report to. ``message`` is the tool's own prose:
    never put SIP-originated text in it."""
    try:
        await ctx.report_progress(done, total, message)
    except (LookupError, ValueError, RuntimeError):
        return
