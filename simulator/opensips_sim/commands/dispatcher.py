"""dispatcher MI commands: ``ds_list``, ``ds_set_state``, ``ds_reload``
(``modules/dispatcher/dispatcher.c``: ``ds_mi_list``, ``ds_mi_set``, ``ds_mi_reload``)."""

from __future__ import annotations

from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command
from ..state.dispatcher import DEFAULT_PARTITION, DispatcherState, DsState, Partition

UNKNOWN_PARTITION = "ERROR Unknown partition"


def _state_text(state: str) -> str:
    return {"active": "Active", "inactive": "Inactive", "probing": "Probing"}[state]


def _partition_json(part: Partition, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": part.name}
    if not part.sets:
        return out
    sets = []
    for ds_set in part.sets:
        dests = []
        for d in ds_set.destinations:
            item: dict[str, Any] = {
                "URI": d.uri,
                "state": _state_text(d.state),
                "first_hit_counter": d.first_hit_counter,
            }
            if d.socket is not None:
                item["socket"] = d.socket
            if d.attrs is not None:
                item["attr"] = d.attrs
            if full:
                item["weight"] = d.weight
                item["priority"] = d.priority
                if d.description:
                    item["description"] = d.description
            item["resolved_addresses"] = list(d.resolved_addresses)
            dests.append(item)
        sets.append({"id": ds_set.id, "Destinations": dests})
    out["SETS"] = sets
    return out


@command("ds_list", level="read")
def ds_list(ctx: CallContext, params: Params) -> Any:
    """All partitions (or one), their sets and destinations; ``full`` adds weights."""
    ds = ctx.world.get(DispatcherState)
    full = bool(params.opt_integer("full", 0))
    name = params.try_text("partition")  # of a bad type: all partitions, no error (3.6.8)
    if name is not None:
        # find_partition_by_name: "" is the default partition; unknown ones are 500 (the
        # lab 3.6.8 answers 500 here, 404 in ds_set_state)
        part = ds.partition(name or DEFAULT_PARTITION)
        if part is None:
            raise MIError(500, UNKNOWN_PARTITION)
        parts = [part]
    else:
        parts = ds.partitions
    return {"PARTITIONS": [_partition_json(p, full) for p in parts]}


def _split_partition(group: str) -> tuple[str, str]:
    """``partition:group`` -> (partition, group), as ``split_partition_argument`` does."""
    pos = group.find(":")
    if pos < 0 or pos == len(group) - 1 or group[pos + 1] == "/":
        return "", group
    return group[:pos].strip(), group[pos + 1 :].lstrip(" ")


@command("ds_set_state", level="write")
def ds_set_state(ctx: CallContext, params: Params) -> Any:
    """Set a destination active (a/1), inactive (i/0) or count a failure (p/2: Probing
    once ``probing_threshold`` failures are counted; see ``DispatcherState.set_state``)."""
    ds = ctx.world.get(DispatcherState)
    state_arg = params.text("state")
    first = state_arg[:1]
    state: DsState
    if first in ("0", "I", "i"):
        state = "inactive"
    elif first in ("p", "P", "2"):
        state = "probing"
    elif first in ("a", "A", "1"):
        state = "active"
    else:
        raise MIError(500, "Bad state value")
    part_name, group_text = _split_partition(params.text("group"))
    part = ds.partition(part_name or DEFAULT_PARTITION)
    if part is None:
        raise MIError(404, UNKNOWN_PARTITION)
    if not group_text.isdigit():
        raise MIError(500, "bad group value")
    dest = ds.find(part, int(group_text), params.text("address"))
    if dest is None:
        raise MIError(404, "destination not found")
    ds.set_state(dest, state)
    return "OK"


def _inherit(params: Params) -> bool:
    """``inherit_state``: 0/n/N means no; anything else keeps the default (yes)."""
    if not params.has("inherit_state"):
        return True
    return params.text("inherit_state")[:1] not in ("0", "n", "N")


@command("ds_reload", level="write")
def ds_reload(ctx: CallContext, params: Params) -> Any:
    """Reload destinations from the database, keeping runtime states unless told not to."""
    ds = ctx.world.get(DispatcherState)
    if params.has("partition"):
        name = params.text("partition")
        if ds.partition(name or DEFAULT_PARTITION) is None:
            raise MIError(500, UNKNOWN_PARTITION)
        names = [name or DEFAULT_PARTITION]
    else:
        names = [p.name for p in ds.partitions]
    ds.reload(names, inherit_state=_inherit(params))
    return "OK"
