"""The optional ``instance`` argument every tool takes when the server manages several
OpenSIPS instances.

The tool functions stay as they are: :func:`with_instance_argument` wraps one so that its
input schema gains ``instance`` (one of the configured names; omitted: the default) and
the call runs with :data:`opensips_mcp.runtime.CURRENT_INSTANCE` set, which every MI call
of the tool call (gate, client, audit record) then uses. With one instance the tools are
registered unwrapped, so their schemas do not grow.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from opensips_mcp.runtime import CURRENT_INSTANCE
from opensips_mcp.tools import ToolFn

PARAMETER = "instance"


def with_instance_argument(fn: ToolFn, names: Sequence[str], default: str) -> ToolFn:
    """``fn`` with a keyword-only ``instance: str | None = None`` argument."""
    annotation = Annotated[
        str | None,
        Field(
            description=f"The OpenSIPS instance: one of {', '.join(names)} "
            f"(default {default}). fleet_status lists them.",
        ),
    ]
    signature = inspect.signature(fn, eval_str=True)
    if PARAMETER in signature.parameters or "instances" in signature.parameters:
        return fn  # the tool chooses instances itself (the fleet tools)

    @functools.wraps(fn)
    async def wrapper(*args: Any, instance: str | None = None, **kwargs: Any) -> Any:
        token = CURRENT_INSTANCE.set(instance)
        try:
            return await fn(*args, **kwargs)
        finally:
            CURRENT_INSTANCE.reset(token)

    extra = inspect.Parameter(
        PARAMETER, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
    )
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), extra]
    )
    wrapper.__annotations__ = {**inspect.get_annotations(fn, eval_str=True), PARAMETER: annotation}
    return wrapper
