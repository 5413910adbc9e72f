"""cfgutils state: the shared variables (``$shv``).

Scenario section ``"cfgutils"`` (absent section = no shared variables)::

    {"shared_vars": [{"name": "gw_mode", "type": "string", "value": "primary"},
                     {"name": "max_calls", "type": "integer", "value": 100}]}

Values keep their type: ``integer`` values are 32-bit signed, as in OpenSIPS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..world import StatePart


def int32(value: int) -> int:
    """Wrap to a C ``int``, as the module stores integer values."""
    return (value + 2**31) % 2**32 - 2**31


@dataclass
class SharedVar:
    """A shared variable: integer or string."""

    name: str
    value: int | str

    @property
    def type(self) -> str:
        """``integer`` or ``string``, as ``shv_get`` prints it."""
        return "string" if isinstance(self.value, str) else "integer"


class CfgutilsState(StatePart):
    """Shared variables by name, in creation order."""

    key = "cfgutils"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.vars: dict[str, SharedVar] = {}

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace the shared variables."""
        self.vars = {}
        for raw in section.get("shared_vars", []):
            name = str(raw["name"])
            kind = str(raw.get("type", "string")).lower()
            value: int | str = str(raw["value"]) if kind == "string" else int32(int(raw["value"]))
            self.vars[name] = SharedVar(name, value)

    def set(self, name: str, value: int | str) -> None:
        """Create or overwrite a shared variable."""
        self.vars[name] = SharedVar(name, value if isinstance(value, str) else int32(value))

    def snapshot(self) -> Any:
        """Shared variables in the scenario schema."""
        return {
            "shared_vars": [
                {"name": v.name, "type": v.type, "value": v.value} for v in self.vars.values()
            ]
        }
