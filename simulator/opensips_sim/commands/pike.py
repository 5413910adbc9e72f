"""pike MI commands: ``pike_list``, ``pike_rm`` (``modules/pike/pike_mi.c``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command
from ..state.pike import PikeState


def _print_ip(packed: bytes) -> str:
    """The module's own format: dotted IPv4; IPv6 as ``%x%x`` byte pairs (no padding)."""
    if len(packed) == 4:
        return ".".join(str(b) for b in packed)
    return ":".join(f"{packed[i]:x}{packed[i + 1]:x}" for i in range(0, 16, 2))


@command("pike_list", level="read")
def pike_list(ctx: CallContext, params: Params) -> Any:
    """The blocked ("red") addresses."""
    return {"IPs": [_print_ip(ip) for ip in ctx.world.get(PikeState).blocked()]}


@command("pike_rm", level="write")
def pike_rm(ctx: CallContext, params: Params) -> Any:
    """Unblock an address (IPv4 only, as ``str2ip`` parses); it stays tracked."""
    pike = ctx.world.get(PikeState)
    text = params.text("ip")
    try:
        packed = ipaddress.IPv4Address(text).packed
    except ValueError:
        raise MIError(500, "Bad IP") from None
    if packed not in pike.nodes:
        raise MIError(404, "Match not found")
    if not pike.nodes[packed]:
        raise MIError(400, "IP not blocked")
    pike.nodes[packed] = False
    return "OK"
