"""tracer MI command ``trace_stop``.

The simulated server has no dynamic trace instances (``trace_start`` is not simulated, and
static ones cannot be stopped), so every ``trace_stop`` answers as the real server does for
an unknown id: ``400 Bad parameter value``."""

from __future__ import annotations

from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command


@command("trace_stop", level="write")
def trace_stop(ctx: CallContext, params: Params) -> Any:
    """Stop a dynamic trace instance: there is none to stop."""
    params.text("id")
    raise MIError(400, "Bad parameter value")
