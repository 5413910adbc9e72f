"""MCP logging: ``notifications/message`` about the agent's own calls, at the level it set.

The server declares the ``logging`` capability and honours ``logging/setLevel`` (per
connection; :data:`DEFAULT_LEVEL` until the client sets one). What it reports, always
about the tool call in progress (``logger`` is ``opensips_mcp``, ``data`` an object with
``message`` and details):

==============  =====================================================================
``info``        a call was retried (its earlier tries never reached OpenSIPS) and answered
``notice``      the user declined or cancelled a confirmation: nothing was sent
``warning``     a slow MI answer (more than :data:`SLOW_SECONDS`); a client that cannot
                confirm was refused; a write whose outcome is unknown, naming the read
                that shows the state (``check_with``)
==============  =====================================================================

On 2026-07-28 clients ``logging/setLevel`` no longer exists: each request opts in with
its own ``_meta`` log level and the SDK filters; this module then sends every message.
A message that cannot be delivered is dropped (logged server-side at debug level): the
tool call never fails because of its log.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal, get_args

from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import EmptyResult, LoggingLevel, SetLevelRequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

logger = logging.getLogger("opensips_mcp.agent_log")

LEVELS: tuple[str, ...] = get_args(LoggingLevel)
"""debug < info < notice < warning < error < critical < alert < emergency."""
DEFAULT_LEVEL: LoggingLevel = "info"
"""The threshold until the client sends ``logging/setLevel``."""
SLOW_SECONDS = 2.0
"""An MI answer slower than this is reported."""
LOGGER_NAME = "opensips_mcp"
STATE_KEY = "opensips_mcp.log_level"

Level = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


def _connection_state(session: Any) -> dict[str, Any] | None:
    """The per-connection scratch state of the SDK (``Connection.state``), or None."""
    connection = getattr(session, "_connection", None)
    state = getattr(connection, "state", None)
    return state if isinstance(state, dict) else None


async def _set_level(
    ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
) -> EmptyResult:
    state = _connection_state(ctx.session)
    if state is not None:
        state[STATE_KEY] = params.level
    return EmptyResult()


def register_logging(server: MCPServer[Any]) -> None:
    """Serve ``logging/setLevel`` on ``server`` (which declares the logging capability)."""
    server._lowlevel_server.add_request_handler(
        "logging/setLevel", SetLevelRequestParams, _set_level
    )


def threshold(ctx: Context[Any, Any]) -> str:
    """The least level the client of ``ctx`` wants to hear."""
    session = ctx.session
    if getattr(session, "protocol_version", None) in MODERN_PROTOCOL_VERSIONS:
        return "debug"  # the SDK applies the request's own opt-in
    state = _connection_state(session)
    level = state.get(STATE_KEY) if state is not None else None
    return level if isinstance(level, str) and level in LEVELS else DEFAULT_LEVEL


async def notify(ctx: Context[Any, Any] | None, level: Level, message: str, **details: Any) -> None:
    """Send one ``notifications/message`` to the client of ``ctx`` if its level admits it."""
    if ctx is None:
        return
    try:
        if LEVELS.index(level) < LEVELS.index(threshold(ctx)):
            return
        session = ctx.session
        with warnings.catch_warnings():
            # Deprecated only as of 2026-07-28, where the SDK itself filters per request.
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            sending = session.send_log_message(
                level=level,
                data={"message": message, **details},
                logger=LOGGER_NAME,
                related_request_id=ctx.request_id,
            )
        await sending
    except Exception as exc:  # never fail a tool call because of its log
        logger.debug("log message not delivered: %s", exc)
