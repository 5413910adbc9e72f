"""statistics: every statistic the captured server lists, with values that move with state.

A value comes from, in this order:

1. a gauge derived from a state part (``StatePart.statistics()``, e.g. ``dialog:active_dialogs``
   from the dialog table, ``usrloc:location-contacts`` from usrloc);
2. a counter of ``world.counters`` for incremental statistics (``core:rcv_requests``,
   ``dialog:processed_dialogs`` ...), moved by the parts as calls and registrations happen;
3. a constant: the scenario's value, else the value captured on the real server.

Scenario section ``statistics``: ``{"values": {"core:rcv_requests": 9, ...}}`` sets counters and
constants (it loads after every other section, so counters end exactly at these values);
``"catalog": [["core:rcv_requests", "incremental"], ...]`` replaces the captured list of
statistics (names, order and types, as ``list_statistics`` shows them: a snapshot of a live
server brings its own, e.g. per-process ``load:``/``pkmem:`` statistics for its processes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from ..world import PARTS, StatePart
from .core import CoreState

INCREMENTAL = "incremental"
NON_INCREMENTAL = "non-incremental"


@cache
def captured_catalog() -> tuple[tuple[str, str, int], ...]:
    """(full name, type, captured value) in the order the real server lists them."""
    raw = json.loads(
        resources.files("opensips_sim").joinpath("data/statistics-3.6.json").read_text("utf-8")
    )
    return tuple((str(n), str(k), int(v)) for n, k, v in raw["statistics"])


def split(full: str) -> tuple[str, str]:
    """``"dialog:active_dialogs"`` -> ``("dialog", "active_dialogs")``."""
    group, _, name = full.partition(":")
    return group, name


class StatisticsState(StatePart):
    """The statistics collector: groups, types, and current values."""

    key = "statistics"
    load_order = 100

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self._kinds: dict[str, str] = {}
        self._constants: dict[str, int] = {}
        self._fixed_names = False
        for full, kind, value in captured_catalog():
            self._kinds[full] = kind
            if kind == INCREMENTAL:
                world.counters.declare(full)
            else:
                self._constants[full] = value

    def load(self, section: Mapping[str, Any]) -> None:
        """Set the catalog, counters and constants of the section."""
        counters = self.world.counters
        if "catalog" in section:
            self._kinds = {str(n): str(k) for n, k in section["catalog"]}
            self._fixed_names = True
            for full, kind in self._kinds.items():
                if kind == INCREMENTAL:
                    counters.declare(full)
        for full, value in section.get("values", {}).items():
            if self.kind(full) == INCREMENTAL:
                counters.reset(full)
                counters.incr(full, int(value))
            else:
                self._constants[full] = int(value)

    def kind(self, full: str) -> str:
        """``incremental`` (resettable counter) or ``non-incremental``."""
        known = self._kinds.get(full)
        if known is not None:
            return known
        return INCREMENTAL if full in self.world.counters.items() else NON_INCREMENTAL

    def _derived(self) -> dict[str, int | str]:
        derived: dict[str, int | str] = {}
        for cls in PARTS.values():
            if cls is not StatisticsState:
                derived.update(self.world.get(cls).statistics())
        started_at = self.world.get(CoreState).started_at
        derived["core:timestamp"] = int(self.world.clock.now() - started_at)
        return derived

    def values(self) -> dict[str, int | str]:
        """Every statistic, grouped as the real server lists them."""
        derived = self._derived()
        counters = self.world.counters.items()
        names = list(self._kinds)
        known = set(names)
        extra = [] if self._fixed_names else [n for n in [*derived, *counters] if n not in known]
        for full in extra:
            if full in known:
                continue
            known.add(full)
            group = split(full)[0]
            last = max((i for i, n in enumerate(names) if split(n)[0] == group), default=-1)
            names.insert(last + 1 if last >= 0 else len(names), full)
        result: dict[str, int | str] = {}
        for full in names:
            if full in derived:
                result[full] = derived[full]
            elif full in counters:
                result[full] = counters[full]
            else:
                result[full] = self._constants.get(full, 0)
        return result

    def reset(self, full: str) -> None:
        """Reset one statistic (only incremental ones change, as in OpenSIPS)."""
        if self.kind(full) == INCREMENTAL:
            self.world.counters.reset(full)

    def reset_all(self) -> None:
        """``reset_all_statistics``: every incremental statistic back to 0."""
        for full in list(self.world.counters.items()):
            if self.kind(full) == INCREMENTAL:
                self.world.counters.reset(full)

    def snapshot(self) -> Any:
        """All values, by full name."""
        return self.values()
