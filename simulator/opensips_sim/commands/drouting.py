"""drouting MI commands: ``dr_gw_status``, ``dr_carrier_status``, ``dr_reload``,
``dr_reload_status``, ``dr_number_routing`` (``modules/drouting/drouting.c``).

Without ``use_partitions`` a ``partition_name`` is refused; with it, the commands that
read or change one gateway/carrier/number require it (400, with the module's reason in
``data``). The recipes with ``status`` change state; the others only read.
"""

from __future__ import annotations

from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, Level, command
from ..state.drouting import DroutingState, DrPartition
from ..timefmt import ctime


def _partition_not_allowed() -> MIError:
    return MIError(
        400,
        "Invalid parameter: 'partition_name'",
        "'partition_name' supported only when 'use_partitions' is set",
    )


def _partition_required() -> MIError:
    return MIError(
        400,
        "Missing parameter: 'partition_name'",
        "'partition_name' is required when 'use_partitions' is set",
    )


def _partition(ctx: CallContext, params: Params) -> DrPartition:
    """The partition a call addresses, with the module's errors (``mi_dr_get_partition``)."""
    dr = ctx.world.get(DroutingState)
    if not params.has("partition_name"):
        if dr.use_partitions:
            raise _partition_required()
        return dr.default()
    if not dr.use_partitions:
        raise _partition_not_allowed()
    part = dr.partitions.get(params.text("partition_name"))
    if part is None:
        raise MIError(404, "Partition not found")
    return part


def _status_level(params: Params) -> Level:
    return "write" if params.has("status") else "read"


@command("dr_gw_status", level=_status_level, named_only=True)
def dr_gw_status(ctx: CallContext, params: Params) -> Any:
    """List gateways, show one, or enable (non-zero) / disable (0) one."""
    part = _partition(ctx, params)
    if not params.has("gw_id"):
        gws = []
        for gw in part.gateways.values():
            item = {"ID": gw.id, "IP": gw.address}
            if gw.attrs:
                item["ATTRS"] = gw.attrs
            item["State"] = gw.state_text
            gws.append(item)
        return {"Gateways": gws}
    gw_id = params.text("gw_id")
    status = params.opt_integer("status")
    found = part.gateways.get(gw_id)
    if found is None:
        raise MIError(404, "GW ID not found")
    if status is None:
        out = {"ATTRS": found.attrs} if found.attrs else {}
        out["State"] = found.state_text
        return out
    found.disabled = found.no_reenable = not status
    return "OK"


def _enabled_text(enabled: bool) -> str:
    # the module prints "no " (with a trailing space) for a disabled carrier
    return "yes" if enabled else "no "


@command("dr_carrier_status", level=_status_level, named_only=True)
def dr_carrier_status(ctx: CallContext, params: Params) -> Any:
    """List carriers, show one, or enable (non-zero) / disable (0) one."""
    part = _partition(ctx, params)
    if not params.has("carrier_id"):
        crs = []
        for cr in part.carriers.values():
            item = {"ID": cr.id}
            if cr.attrs:
                item["ATTRS"] = cr.attrs
            item["Enabled"] = _enabled_text(cr.enabled)
            crs.append(item)
        return {"Carriers": crs}
    cr_id = params.text("carrier_id")
    status = params.opt_integer("status")
    found = part.carriers.get(cr_id)
    if found is None:
        raise MIError(404, "Carrier ID not found")
    if status is None:
        out = {"ATTRS": found.attrs} if found.attrs else {}
        out["Enabled"] = _enabled_text(found.enabled)
        return out
    found.enabled = bool(status)
    return "OK"


def _inherit(params: Params) -> bool:
    """``inherit_state``: 0/n/N means no; anything else keeps the default (yes)."""
    if not params.has("inherit_state"):
        return True
    return params.text("inherit_state")[:1] not in ("0", "n", "N")


@command("dr_reload", level="write")
def dr_reload(ctx: CallContext, params: Params) -> Any:
    """Reload gateways, carriers and rules from the database (one partition or all)."""
    dr = ctx.world.get(DroutingState)
    inherit = _inherit(params)
    one = params.has("partition_name")
    for name in [_partition(ctx, params).name] if one else list(dr.partitions):
        dr.reload(name, inherit_state=inherit)
    return "OK"


@command("dr_reload_status", level="read")
def dr_reload_status(ctx: CallContext, params: Params) -> Any:
    """When each partition was last loaded from the database."""
    dr = ctx.world.get(DroutingState)
    if params.has("partition_name"):
        part = _partition(ctx, params)
        return {"name": part.name, "Date": ctime(part.loaded_at)}
    if dr.use_partitions:
        return {
            "Partitions": [
                {"name": p.name, "Date": ctime(p.loaded_at)} for p in dr.partitions.values()
            ]
        }
    return {"Date": ctime(dr.default().loaded_at)}


@command("dr_number_routing", level="read", named_only=True)
def dr_number_routing(ctx: CallContext, params: Params) -> Any:
    """The rule a number matches in a group, and its gateways/carriers.

    Without ``group_id`` the module searches group -1, which no rule belongs to, so the
    answer is ``No match``, as real OpenSIPS 3.6 answers.
    """
    part = _partition(ctx, params)
    group = params.integer("group_id") if params.has("group_id") else -1
    number = params.text("number")
    found = part.match(number, group)
    if found is None:
        return "No match"
    rule, matched = found
    gw_list = [
        {"CARRIER": dst[1:]} if dst.startswith("#") else {"GATEWAY": dst} for dst in rule.gateways
    ]
    out: dict[str, Any] = {"Matched Prefix": number[:matched], "GW List": gw_list}
    if rule.attrs:
        out["ATTRS"] = rule.attrs
    return out
