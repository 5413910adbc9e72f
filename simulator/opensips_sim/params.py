"""Typed access to a command's parameters, with OpenSIPS's own coercions and errors.

OpenSIPS keeps JSON numbers as C doubles and reads them through ``valueint`` (truncated
toward zero, saturated to the 32-bit range). So:

* a string parameter accepts a number and gets its ``valueint`` as text (``1.9`` -> ``"1"``);
* an integer parameter accepts a number (``valueint``) or a string of an optional sign and
  digits only (``str2sint``: no spaces, no decimal point; overflow wraps like C ``int``);
* anything else (bool, null, array, object) is ``Bad type for parameter 'x'``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .errors import bad_array_item, bad_type, invalid_params

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)


def c_valueint(number: float) -> int:
    """cJSON's ``valueint`` of a number: truncated, saturated to the C ``int`` range."""
    if isinstance(number, float):
        if math.isnan(number):
            return 0
        if number >= INT_MAX:
            return INT_MAX
        if number <= INT_MIN:
            return INT_MIN
        return int(number)
    return max(INT_MIN, min(INT_MAX, number))


def str2sint(text: str) -> int | None:
    """OpenSIPS ``str2sint``: optional sign then digits; ``None`` when it refuses."""
    if not text:
        return None
    sign = 1
    digits = text
    if text[0] == "-":
        sign, digits = -1, text[1:]
    elif text[0] == "+":
        digits = text[1:]
    value = 0
    for ch in digits:
        if not "0" <= ch <= "9":
            return None
        value = (value * 10 + ord(ch) - 48) & 0xFFFFFFFF
    value = (value * sign) & 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if _is_number(value):
        return str(c_valueint(value))
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, str):
        return str2sint(value)
    if _is_number(value):
        return c_valueint(value)
    return None


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
        """A string parameter; numbers are accepted and turned into their integer text."""
        text = _as_text(self._values[name])
        if text is None:
            raise bad_type(name)
        return text

    def integer(self, name: str) -> int:
        """An integer parameter; numeric strings and numbers (truncated) are accepted."""
        number = _as_int(self._values[name])
        if number is None:
            raise bad_type(name)
        return number

    def array(self, name: str) -> list[Any]:
        """An array parameter; an empty array is refused as OpenSIPS does."""
        value = self._values[name]
        if not isinstance(value, list):
            raise bad_type(name)
        if not value:
            raise invalid_params(f"Empty array in parameter '{name}'")
        return value

    def texts(self, name: str) -> list[str]:
        """An array of strings (numbers accepted), item by item as OpenSIPS reads them."""
        items: list[str] = []
        for item in self.array(name):
            text = _as_text(item)
            if text is None:
                raise bad_array_item(name)
            items.append(text)
        return items

    def opt_text(self, name: str, default: str | None = None) -> str | None:
        """``text(name)`` when given, else ``default``."""
        return self.text(name) if name in self._values else default

    def try_text(self, name: str) -> str | None:
        """``try_get_mi_string_param``: the text, or None when missing *or of a bad type*
        (the handler then goes on as if it were not given, no error)."""
        return _as_text(self._values[name]) if name in self._values else None

    def opt_integer(self, name: str, default: int | None = None) -> int | None:
        """``integer(name)`` when given, else ``default``."""
        return self.integer(name) if name in self._values else default
