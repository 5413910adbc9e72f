"""Statistics MI commands (``statistics.c``): get_statistics, list_statistics,
reset_statistics, reset_all_statistics.

Each item of ``statistics`` is ``all`` (exactly), a group (``dialog:``, case-insensitive) or
one statistic by its bare name, case-insensitive (``active_dialogs``): ``get_stat`` looks a
name up without its group, so a ``group:name`` item (``dialog:active_dialogs``) matches
nothing, as on a real 3.6.8 (``statistics.c``, ``mi_get_stats``). Unknown items are skipped.
As on the captured 3.6.8 server, ``get_statistics``/``list_statistics`` answer ``{}`` when
nothing matched; ``reset_statistics`` answers ``404 Statistics Not Found`` (also for a
``group:name`` item).
"""

from __future__ import annotations

from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command
from ..state.statistics import StatisticsState, split

NOT_FOUND = "Statistics Not Found"


def _find_one(names: list[str], wanted: str) -> str | None:
    """The full name of the statistic whose bare name is ``wanted`` (case-insensitive), as
    ``get_stat`` finds it; ``group:name`` finds nothing."""
    low = wanted.lower()
    for full in names:
        if split(full)[1].lower() == low:
            return full
    return None


def _select(values: dict[str, Any], item: str) -> list[str] | None:
    names = list(values)
    if item == "all":
        return names
    if len(item) > 1 and item.endswith(":"):
        group = item[:-1].lower()
        selected = [n for n in names if split(n)[0].lower() == group]
        return selected or None
    full = _find_one(names, item)
    return [full] if full else None


@command("get_statistics", level="read")
def get_statistics(ctx: CallContext, params: Params) -> Any:
    """Values of ``all``, groups (``core:``) or single statistics, as ``group:name`` keys."""
    items = params.texts("statistics")
    values = ctx.world.get(StatisticsState).values()
    result: dict[str, Any] = {}
    for item in items:
        for full in _select(values, item) or ():
            result[full] = values[full]
    return result


@command("list_statistics", level="read")
def list_statistics(ctx: CallContext, params: Params) -> Any:
    """Types (``incremental``/``non-incremental``); single statistics by bare name."""
    stats = ctx.world.get(StatisticsState)
    values = stats.values()
    if not params.has("statistics"):
        return {full: stats.kind(full) for full in values}
    result: dict[str, Any] = {}
    for item in params.texts("statistics"):
        if len(item) > 1 and item.endswith(":"):
            for full in _select(values, item) or ():
                result[full] = stats.kind(full)
            continue
        single = _find_one(list(values), item)
        if single is not None:
            result[split(single)[1]] = stats.kind(single)
    return result


@command("reset_statistics", level="destructive")
def reset_statistics(ctx: CallContext, params: Params) -> Any:
    """Reset single statistics (non-incremental ones are found but keep their value)."""
    stats = ctx.world.get(StatisticsState)
    names = list(stats.values())
    found = False
    for item in params.texts("statistics"):
        full = _find_one(names, item)
        if full is None:
            continue
        stats.reset(full)
        found = True
    if not found:
        raise MIError(404, NOT_FOUND)
    return "OK"


@command("reset_all_statistics", level="destructive")
def reset_all_statistics(ctx: CallContext, params: Params) -> Any:
    """Reset every incremental statistic."""
    ctx.world.get(StatisticsState).reset_all()
    return "OK"
