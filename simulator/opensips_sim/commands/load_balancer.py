"""load_balancer MI commands: ``lb_list``, ``lb_status``, ``lb_resize``, ``lb_reload``
(``modules/load_balancer/load_balancer.c``: ``mi_lb_*``)."""

from __future__ import annotations

from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, Level, command
from ..state.load_balancer import LoadBalancerState

NOT_FOUND = "Destination ID not found"


@command("lb_list", level="read")
def lb_list(ctx: CallContext, params: Params) -> Any:
    """Every destination with its status and resources (capacity and current load)."""
    lb = ctx.world.get(LoadBalancerState)
    dests = []
    for d in lb.destinations:
        item: dict[str, Any] = {
            "uri": d.uri,
            "id": d.id,
            "group": d.group,
            "enabled": "yes" if d.enabled else "no",
            "auto-reenable": "on" if d.auto_reenable else "off",
            "Resources": [{"name": r.name, "max": r.max, "load": r.load} for r in d.resources],
        }
        if d.attrs:
            item["attrs"] = d.attrs
        dests.append(item)
    return {"Destinations": dests}


def _status_level(params: Params) -> Level:
    return "write" if params.has("new_status") else "read"


@command("lb_status", level=_status_level)
def lb_status(ctx: CallContext, params: Params) -> Any:
    """Get a destination's status, or enable (non-zero) / disable (0) it."""
    lb = ctx.world.get(LoadBalancerState)
    dst_id = params.integer("destination_id")
    new_status = params.opt_integer("new_status")
    dst = lb.find(dst_id)
    if dst is None:
        raise MIError(404, NOT_FOUND)
    if new_status is None:
        out: dict[str, Any] = {"enable": "yes" if dst.enabled else "no"}
        if dst.attrs:
            out["attrs"] = dst.attrs
        return out
    # a manual change also decides auto re-enabling: disabled by hand stays disabled
    dst.enabled = dst.auto_reenable = bool(new_status)
    return "OK"


@command("lb_resize", level="write")
def lb_resize(ctx: CallContext, params: Params) -> Any:
    """Change the capacity of one resource of a destination (until the next reload)."""
    lb = ctx.world.get(LoadBalancerState)
    dst_id = params.integer("destination_id")
    name = params.text("res_name")
    size = params.integer("new_capacity")
    dst = lb.find(dst_id)
    if dst is None:
        raise MIError(404, NOT_FOUND)
    res = dst.resource(name)
    if res is None:
        raise MIError(404, "Destination has no such resource")
    res.max = size
    return "OK"


@command("lb_reload", level="write")
def lb_reload(ctx: CallContext, params: Params) -> Any:
    """Reload destinations from the database, keeping their enabled/disabled status."""
    ctx.world.get(LoadBalancerState).reload()
    return "OK"
