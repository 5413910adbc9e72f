"""dialplan MI commands: ``dp_translate``, ``dp_reload`` (``modules/dialplan/dialplan.c``).

Only the ``default`` partition exists here. ``dp_translate`` reads ``dpid`` as a string
and converts it with ``str2sint``, so ``"1"`` and ``1.9`` (printed as ``1``) both work.
"""

from __future__ import annotations

from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command
from ..state.dialplan import DialplanState

DEFAULT_PARTITION = "default"


def _partition(params: Params) -> None:
    name = params.opt_text("partition", DEFAULT_PARTITION)
    if name != DEFAULT_PARTITION:
        raise MIError(400, "Partition not found")  # dialplan.c, as the lab 3.6.8 answers


def _str2sint(text: str) -> int | None:
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body.isdigit():
        return None
    return int(text)


@command("dp_translate", level="read")
def dp_translate(ctx: CallContext, params: Params) -> Any:
    """Translate ``input`` with the rules of dialplan ``dpid``."""
    _partition(params)
    dpid_text = params.text("dpid")
    if not dpid_text:
        raise MIError(404, "Empty id parameter")
    dpid = _str2sint(dpid_text)
    if dpid is None:
        raise MIError(404, "Wrong id parameter")
    text = params.text("input")
    if not text:
        raise MIError(404, "Empty input parameter")
    dialplan = ctx.world.get(DialplanState)
    if not dialplan.has_dpid(dpid):
        raise MIError(404, "No information available for dpid")
    translated = dialplan.translate(dpid, text)
    if translated is None:
        raise MIError(404, "No translation")
    output, attrs = translated
    return {"Output": output, "ATTRIBUTES": attrs}


@command("dp_reload", level="write")
def dp_reload(ctx: CallContext, params: Params) -> Any:
    """Reload the rules from the database."""
    _partition(params)
    ctx.world.get(DialplanState).reload()
    return "OK"
