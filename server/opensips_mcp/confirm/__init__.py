"""Confirmation before destructive changes: the policy, the effect statement, the question.

:mod:`.policy` says which access levels need the user's yes (``--confirm``);
:mod:`.effects` states what a call will do, from cheap reads of the live state;
:mod:`.ask` puts the question to the user through the MCP client (elicitation) and
returns the answer. The runtime (:meth:`opensips_mcp.runtime.ToolCall.mi`) ties them
together right before a confirmed command is sent.
"""

from opensips_mcp.confirm.policy import ConfirmPolicy

__all__ = ["ConfirmPolicy"]
