"""Typed access to a command's parameters, with OpenSIPS's own coercions and errors.

Real OpenSIPS accepts numbers where strings are expected and numeric strings (and floats,
truncated) where integers are expected; anything else is ``Bad type for parameter 'x'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import bad_type, invalid_params


class Params:
    """The parameters of one call, by name, after recipe matching."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def names(self) -> frozenset[str]:
        """The parameter names given."""
        return frozenset(self._values)

    def has(self, name: str) -> bool:
        """True when ``name`` was given."""
        return name in self._values

    def raw(self, name: str) -> Any:
        """The value as sent (JSON types)."""
        return self._values[name]

    def as_dict(self) -> dict[str, Any]:
        """A copy of all values as sent."""
        return dict(self._values)

    def text(self, name: str) -> str:
        """A string parameter; numbers are accepted and turned into their text."""
        value = self._values[name]
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            raise bad_type(name)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def integer(self, name: str) -> int:
        """An integer parameter; numeric strings and floats (truncated) are accepted."""
        value = self._values[name]
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            raise bad_type(name)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_type(name) from None

    def array(self, name: str) -> list[Any]:
        """An array parameter; an empty array is refused as OpenSIPS does."""
        value = self._values[name]
        if not isinstance(value, list):
            raise bad_type(name)
        if not value:
            raise invalid_params(f"Empty array in parameter '{name}'")
        return value

    def opt_text(self, name: str, default: str | None = None) -> str | None:
        """``text(name)`` when given, else ``default``."""
        return self.text(name) if name in self._values else default

    def opt_integer(self, name: str, default: int | None = None) -> int | None:
        """``integer(name)`` when given, else ``default``."""
        return self.integer(name) if name in self._values else default
