"""Statistic names as an agent writes them, and as OpenSIPS's ``get_statistics`` takes them.

OpenSIPS (``statistics.c``, ``mi_get_stats``; same in 3.4, 3.6 and 4.0) takes ``all``, a
group ending in ``:`` (``dialog:``) or one statistic by its *bare* name
(``active_dialogs``), and answers with full ``group:name`` keys. A ``group:name`` item
matches nothing there (the answer is ``{}``), yet it is the name the answers use and the one
an agent naturally writes. The typed tools therefore accept all four forms and ask OpenSIPS
for what it understands: ``group:name`` is asked as its group (``group:``, so that a bare
name shared by two groups cannot pick the wrong one) and the answer is cut back to the
statistics that were asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

V = TypeVar("V")


def _is_all(item: str) -> bool:
    return item.lower() == "all"


def query_items(requested: Iterable[str]) -> list[str]:
    """The ``statistics`` parameter to send for the agent's ``requested`` items (no
    duplicates, first-asked order)."""
    out: list[str] = []
    for item in requested:
        if _is_all(item):
            sent = "all"
        elif item.endswith(":"):
            sent = item
        elif ":" in item:
            sent = item.rpartition(":")[0] + ":"
        else:
            sent = item
        if sent.lower() not in (s.lower() for s in out):
            out.append(sent)
    return out


def selects(item: str, full_name: str) -> bool:
    """True when the agent's ``item`` asks for the statistic ``full_name`` (``group:name``);
    case-insensitive, as OpenSIPS compares names."""
    low, full = item.lower(), full_name.lower()
    if _is_all(item):
        return True
    group, _, name = full.partition(":")
    if low.endswith(":"):
        return group == low[:-1]
    if ":" in low:
        return full == low
    return name == low


def select(values: Mapping[str, V], requested: Sequence[str]) -> dict[str, V]:
    """The statistics of an answer that one of the ``requested`` items asked for."""
    return {k: v for k, v in values.items() if any(selects(item, k) for item in requested)}


def missing(requested: Sequence[str], names: Iterable[str]) -> list[str]:
    """The ``requested`` items that match none of ``names`` (real misses)."""
    listed = list(names)
    return [item for item in requested if not any(selects(item, n) for n in listed)]
