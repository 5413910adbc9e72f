"""What the tool listing says about confirmation, so a client knows before it calls."""

from __future__ import annotations

from opensips_mcp.catalog.levels import AccessLevel
from opensips_mcp.confirm.policy import ConfirmPolicy


def confirmation_note(level: AccessLevel, policy: ConfirmPolicy) -> str | None:
    """The sentence appended to a tool's description when some of its calls (up to
    ``level``, the most the caller's role lets it do) need the user's confirmation."""
    lowest = policy.lowest_level
    if lowest is None or level < lowest:
        return None
    which = "destructive and admin" if lowest is AccessLevel.DESTRUCTIVE else "admin"
    return (
        f"Needs confirmation: before a {which} action is sent, this server asks the user "
        "(MCP elicitation) with a statement of its effect; declined, nothing is sent. A "
        "client without the elicitation capability is refused (the server's operator can "
        "start it with --confirm none)."
    )
