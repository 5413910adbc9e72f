"""Fit an arbitrary MI answer into a tool result's size budget.

Typed tools page their output. ``mi_execute`` runs any command, and some answer megabytes
(``t_hash`` about 2.5 MB, ``ul_dump`` and ``dlg_list`` grow with traffic): such an answer is
cut down to a prefix of the same shape (the first keys and list items that fit), and every
cut is marked in place with a ``"…"`` string saying how much was left out.
"""

from __future__ import annotations

import json
from typing import Any

CUT_MARK = "…"
_MIN_STRING = 64


def json_bytes(value: Any) -> int:
    """Bytes of ``value`` as compact JSON."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def fit(value: Any, budget: int) -> tuple[Any, bool]:
    """``value`` if it fits ``budget`` bytes of JSON, else a same-shaped prefix that does.

    Returns the value and whether anything was cut.
    """
    if json_bytes(value) <= budget:
        return value, False
    return _shrink(value, budget), True


def _shrink(value: Any, budget: int) -> Any:
    if isinstance(value, dict):
        return _shrink_dict(value, budget)
    if isinstance(value, list):
        return _shrink_list(value, budget)
    if isinstance(value, str):
        keep = max(_MIN_STRING, budget - 16)
        return value[:keep] + f"{CUT_MARK}[{len(value) - keep} more characters]"
    return value


def _shrink_dict(value: dict[str, Any], budget: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    left = budget - 2
    for index, (key, item) in enumerate(value.items()):
        room = left - json_bytes(key) - 2
        if room <= 32:
            out[CUT_MARK] = f"{len(value) - index} more keys"
            break
        part = item if json_bytes(item) <= room else _shrink(item, room)
        out[key] = part
        left -= json_bytes(key) + json_bytes(part) + 2
    return out


def _shrink_list(value: list[Any], budget: int) -> list[Any]:
    out: list[Any] = []
    left = budget - 2 - 48  # room for the closing mark
    for index, item in enumerate(value):
        size = json_bytes(item) + 1
        if size > left:
            if not out and left > 64:
                out.append(_shrink(item, left))
                index += 1
            if index < len(value):
                out.append(f"{CUT_MARK} {len(value) - index} more items (of {len(value)})")
            return out
        out.append(item)
        left -= size
    return out
