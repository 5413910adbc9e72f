"""cfgutils MI commands: ``shv_get``, ``shv_set`` (``modules/cfgutils/shvar.c``)."""

from __future__ import annotations

from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command
from ..state.cfgutils import CfgutilsState, SharedVar


def _var(var: SharedVar) -> dict[str, Any]:
    return {"type": var.type, "value": var.value}


@command("shv_get", level="read")
def shv_get(ctx: CallContext, params: Params) -> Any:
    """One shared variable (``VAR``), or all of them.

    Without a name the module builds a result *array* and adds the ``VARs`` array into it,
    so the answer is an array holding one array of variables.
    """
    shv = ctx.world.get(CfgutilsState)
    if not params.has("name"):
        return [[{"name": v.name, **_var(v)} for v in shv.vars.values()]]
    var = shv.vars.get(params.text("name"))
    if var is None:
        raise MIError(404, "Not found")
    return {"VAR": _var(var)}


@command("shv_set", level="write")
def shv_set(ctx: CallContext, params: Params) -> Any:
    """Create or overwrite a shared variable; ``type`` s/S is a string, else an integer."""
    shv = ctx.world.get(CfgutilsState)
    name = params.text("name")
    kind = params.text("type")
    if not kind:
        raise MIError(500, "type not found")
    value: int | str
    if kind[0] in ("s", "S"):
        value = params.text("value")
        if not value:
            raise MIError(500, "value not found")
    else:
        value = params.integer("value")
    shv.set(name, value)
    return "OK"
