"""Reading MI answers defensively: OpenSIPS prints numbers as numbers or as text, and a
module that is not loaded or a version that differs may leave a field out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def as_int(value: Any) -> int | None:
    """An integer from a number or numeric text; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return int(float(text))
            except ValueError:
                return None
    return None


def as_number(value: Any) -> int | float | None:
    """A number from a number or numeric text; ``None`` for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return float(value.strip())
            except ValueError:
                return None
    return None


def as_text(value: Any) -> str | None:
    """Text of a scalar value; ``None`` for null, lists and objects."""
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def dicts(value: Any, key: str | None = None) -> list[Mapping[str, Any]]:
    """The objects of a list (``value[key]`` when ``key`` is given); non-objects skipped."""
    if key is not None:
        value = value.get(key) if isinstance(value, Mapping) else None
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def yes(value: Any) -> bool:
    """OpenSIPS's yes/no/on/off/enabled/1 flags (``"no "`` with a trailing space too)."""
    text = str(value).strip().lower()
    return text in ("yes", "on", "enabled", "active", "1", "true")
