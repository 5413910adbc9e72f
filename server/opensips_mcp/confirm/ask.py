"""Ask the user, through the MCP client, to confirm one action (form elicitation).

Two protocol eras, one answer:

* handshake revisions (2025-11-25 and older, what stdio and HTTP clients speak today):
  the server sends ``elicitation/create`` mid-call and waits for the answer;
* 2026-07-28 (stateless, multi round trip): the tool call ends with an
  ``InputRequiredResult`` carrying the question (:class:`ConfirmationNeeded`); the
  client asks its user and repeats the call with the answer, and the server accepts
  that answer only for the same action (a digest of principal, command and
  parameters travels in the sealed ``request_state``).

A client that did not declare the elicitation capability cannot be asked: the answer
is ``unavailable`` and the caller refuses the action (default deny).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

Answer = Literal["accept", "decline", "cancel", "unavailable"]

INPUT_KEY = "opensips_mcp.confirm"
"""The key of the confirmation question in ``input_requests``/``input_responses``."""


class ConfirmAnswer(BaseModel):
    """The form the user fills: one yes/no."""

    confirm: bool = Field(title="Go ahead?", description="Yes: send it now. No: send nothing.")


class ConfirmationNeeded(MCPError):
    """Raised inside a tool call (2026-07-28 clients): end the call with ``result``, an
    ``InputRequiredResult`` asking the question; the client calls again with the answer.

    An ``MCPError`` so the SDK passes it through the tool unchanged; the server turns it
    into the call's result (:meth:`opensips_mcp.server.OpenSIPSMCP.call_tool`).
    """

    def __init__(self, result: InputRequiredResult) -> None:
        super().__init__(code=-32000, message="confirmation needed")
        self.result = result


def action_digest(principal: str, command: str, params: Any) -> str:
    """Identifies one action: an answer counts only for the action it was asked for."""
    text = json.dumps([principal, command, params], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def can_elicit(ctx: Context[Any, Any] | None) -> bool:
    """True when the client declared form elicitation (a bare ``elicitation: {}`` counts)."""
    if ctx is None:
        return False
    try:
        capabilities = ctx.client_capabilities
    except (AttributeError, LookupError, ValueError):
        return False
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _modern(ctx: Context[Any, Any]) -> bool:
    try:
        version = ctx.protocol_version
    except (AttributeError, LookupError, ValueError):
        return False
    return version in MODERN_PROTOCOL_VERSIONS


def _answer_of(action: str, content: Any) -> Answer:
    if action == "accept":
        yes = isinstance(content, dict) and content.get("confirm") is True
        return "accept" if yes else "decline"
    return "cancel" if action == "cancel" else "decline"


async def ask(ctx: Context[Any, Any] | None, question: str, digest: str) -> Answer:
    """Put ``question`` to the user and return the answer (see the module docstring).

    Accepting the form with ``confirm: false`` counts as declining. Raises
    :class:`ConfirmationNeeded` on the first round of a 2026-07-28 client.
    """
    if ctx is None or not can_elicit(ctx):
        return "unavailable"
    if _modern(ctx):
        return _answer_from_round(ctx, question, digest)
    try:
        can_send = ctx.session.can_send_request
    except (AttributeError, LookupError, ValueError):
        can_send = False
    if not can_send:
        return "unavailable"
    result = await ctx.elicit(question, ConfirmAnswer)
    if result.action == "accept":
        data = getattr(result, "data", None)
        return "accept" if isinstance(data, ConfirmAnswer) and data.confirm else "decline"
    return "cancel" if result.action == "cancel" else "decline"


def _answer_from_round(ctx: Context[Any, Any], question: str, digest: str) -> Answer:
    responses = ctx.input_responses or {}
    answer = responses.get(INPUT_KEY)
    asked_for = _state_digest(ctx.request_state)
    if isinstance(answer, ElicitResult) and asked_for == digest:
        return _answer_of(answer.action, answer.content)
    request = ElicitRequest(
        params=ElicitRequestFormParams(
            message=question, requested_schema=render_elicitation_schema(ConfirmAnswer)
        )
    )
    raise ConfirmationNeeded(
        InputRequiredResult(
            input_requests={INPUT_KEY: request},
            request_state=json.dumps({"confirm": digest}),
        )
    )


def _state_digest(state: str | None) -> str | None:
    if not state:
        return None
    try:
        decoded = json.loads(state)
    except ValueError:
        return None
    value = decoded.get("confirm") if isinstance(decoded, dict) else None
    return value if isinstance(value, str) else None
