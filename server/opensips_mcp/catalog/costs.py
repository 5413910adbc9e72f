"""What a read (command, recipe) costs OpenSIPS: the cost model, kept as data.

``costs.json`` beside ``commands.json`` is written by ``scripts/measure_costs.py`` from a
real OpenSIPS (the lab), one command at a time: per command and recipe (parameter names
joined with ``,``; ``""`` for none) a cost **class** (what the time grows with), the
measured time and answer size at the lab's size, whether the recipe is **heavy** and what
to use instead. It is a separate, additive file: the catalog of commands does not change
with it, and a (command, recipe) it does not list costs nothing known (treated as cheap).

The runtime uses it to refuse heavy recipes to callers not allowed to run them (nothing
sent; the refusal says the cost and the alternative), to run the allowed ones under their
own timeout and one at a time per instance, and to estimate a call's cost against a
viewer's MI time budget.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["Cost", "CostModel", "load_costs"]


@dataclass(frozen=True, slots=True)
class Cost:
    """The measured cost of one (command, recipe)."""

    command: str
    recipe: tuple[str, ...]
    cls: str
    """What the time grows with: constant, contacts, dialogs, destinations, hash_size,
    unbounded."""
    time_ms: float
    """Measured at the lab's size, one request alone on the MI."""
    bytes: int
    """Size of the answer (compact JSON) at the lab's size."""
    heavy: bool
    """Runs under its own timeout, one at a time, for allowed roles only."""
    instead: str | None = None
    """What to use instead (a cheaper or paged form, or a typed tool)."""

    @property
    def seconds(self) -> float:
        """The measured time in seconds (the estimate charged to a budget)."""
        return self.time_ms / 1000.0

    def describe(self) -> str:
        """One phrase: how long it took and how large the answer was, and what it grows with."""
        grows = "" if self.cls == "constant" else f", growing with {self.cls.replace('_', ' ')}"
        return (
            f"{self.time_ms / 1000:.1f} s and a {_size(self.bytes)} answer on the "
            f"measured lab{grows}"
        )


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.0f} KB"
    return f"{n} B"


class CostModel:
    """Costs by (command, recipe); see the module docstring."""

    def __init__(self, costs: Iterable[Cost], about: Mapping[str, Any] | None = None) -> None:
        self._by_key = {(c.command, frozenset(c.recipe)): c for c in costs}
        self.about: Mapping[str, Any] = dict(about or {})

    def __len__(self) -> int:
        return len(self._by_key)

    def lookup(self, command: str, recipe: Iterable[str]) -> Cost | None:
        """The cost of ``command`` called with the recipe ``recipe``, if measured."""
        return self._by_key.get((command, frozenset(recipe)))

    def heavy(self) -> list[Cost]:
        """Every heavy recipe, slowest first."""
        return sorted((c for c in self._by_key.values() if c.heavy), key=lambda c: -c.time_ms)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CostModel:
        """Build from the content of ``costs.json``."""
        costs = []
        for command, recipes in data.get("commands", {}).items():
            for key, rec in recipes.items():
                costs.append(
                    Cost(
                        command=command,
                        recipe=tuple(n for n in key.split(",") if n),
                        cls=str(rec["class"]),
                        time_ms=float(rec["time_ms"]),
                        bytes=int(rec["bytes"]),
                        heavy=bool(rec["heavy"]),
                        instead=rec.get("instead"),
                    )
                )
        return cls(costs, data.get("lab"))


@cache
def load_costs() -> CostModel:
    """The packaged cost model (``costs.json``), loaded once; empty if absent."""
    path = resources.files("opensips_mcp.catalog").joinpath("costs.json")
    if not path.is_file():
        return CostModel(())
    return CostModel.from_json(json.loads(path.read_text("utf-8")))
