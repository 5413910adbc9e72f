"""How long each MI command keeps the simulated OpenSIPS busy: a cost per command that grows
with the state it walks, as on a real server.

OpenSIPS runs MI commands one at a time (one httpd process), so a slow command delays every
request behind it. The simulator already runs one command at a time (its lock); with a
``cost_scale`` above 0 it also holds that lock for ``cost(command) * cost_scale`` seconds,
so queueing, timeouts and retry amplification can be seen without a lab. Scale 0 (the
default) keeps every command instant, as before.

Costs at scale 1 are seconds on a real 3.6.8 of the issue's lab: ``t_hash`` walks tm's
65,536 buckets (23.8 s measured; 53 s on a loaded 2-core lab), ``ul_dump`` grows with the
contacts, ``dlg_list`` with the dialogs (a page with the dialogs up to its end). Every
other command costs :data:`DEFAULT` (a constant, as measured on the lab: 0.3-5 ms; the
destination lists are lab-sized in every scenario, so they are constant here too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .state.dialog import DialogState
from .state.usrloc import UsrlocState
from .world import World

__all__ = ["DEFAULT", "TM_HASH_ENTRIES", "command_cost"]

DEFAULT = 0.001
"""Seconds of a command whose time does not grow with any state."""
TM_HASH_ENTRIES = 65_536
"""tm's hash table size (``TM_TABLE_ENTRIES``): ``t_hash`` lists every bucket."""
PER_BUCKET = 23.8 / TM_HASH_ENTRIES
PER_CONTACT = 0.00005
PER_DIALOG = 0.0001

Cost = Callable[[World, Mapping[str, Any]], float]


def _dialogs(world: World, params: Mapping[str, Any]) -> float:
    state = world.get(DialogState)
    total = sum(1 for _ in state.walk())
    if "callid" in params:
        return DEFAULT
    if "counter" in params:
        try:
            end = int(params.get("index", 0)) + int(params["counter"])
        except (TypeError, ValueError):
            return DEFAULT
        total = min(total, max(0, end))
    return DEFAULT + PER_DIALOG * total


def _contacts(world: World, params: Mapping[str, Any]) -> float:
    return DEFAULT + PER_CONTACT * world.get(UsrlocState).contact_count()


def _t_hash(world: World, params: Mapping[str, Any]) -> float:
    return PER_BUCKET * TM_HASH_ENTRIES


COSTS: dict[str, Cost] = {
    "t_hash": _t_hash,
    "ul_dump": _contacts,
    "dlg_list": _dialogs,
    "dlg_list_ctx": _dialogs,
    "profile_get_values": _dialogs,
}
"""Commands whose cost grows with state; every other command costs :data:`DEFAULT`."""


def command_cost(method: str, params: Any, world: World) -> float:
    """Seconds ``method`` with ``params`` keeps the MI busy at scale 1, for this world."""
    cost = COSTS.get(method)
    if cost is None:
        return DEFAULT
    named = params if isinstance(params, Mapping) else {}
    return cost(world, named)
