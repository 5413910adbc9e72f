"""The simulated OpenSIPS: a clock, a seeded random source, counters and the state parts.

A *state part* is a plain class (no aiohttp) holding one module's state, e.g. dialogs or the
dispatcher. Parts register themselves by subclassing :class:`StatePart` with a ``key``; the
world creates each part on first use, so modules stay independent of each other::

    class DispatcherState(StatePart):
        key = "dispatcher"

    ds = world.get(DispatcherState)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from .clock import Clock

P = TypeVar("P", bound="StatePart")

PARTS: dict[str, type[StatePart]] = {}


class StatePart:
    """Base of every module's state. Subclasses set ``key`` (the scenario section name)."""

    key: ClassVar[str] = ""
    #: Sections load in ascending ``load_order`` (then scenario order); a part whose load
    #: must see the others loaded (statistics) sets a higher value.
    load_order: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.key:
            PARTS[cls.key] = cls

    def __init__(self, world: World) -> None:
        self.world = world

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace this part's state with a scenario section (the part's documented schema)."""

    def snapshot(self) -> Any:
        """A JSON-serialisable view of the whole state of this part (for ``GET /sim/state``)."""
        return {}

    def tick(self, now: float) -> None:
        """Let time pass: expire registrations, time out dialogs, move load."""

    def statistics(self) -> dict[str, int | str]:
        """Gauges derived from the state, by full name (``"dialog:active_dialogs"``)."""
        return {}


class Counters:
    """Monotonic statistics counters (``core:rcv_requests``, ...), resettable by name."""

    def __init__(self) -> None:
        self._values: dict[str, int] = {}

    def incr(self, name: str, by: int = 1) -> None:
        """Add ``by`` to counter ``name`` (created at 0)."""
        self._values[name] = self._values.get(name, 0) + by

    def get(self, name: str) -> int:
        """The value of ``name`` (0 when never counted)."""
        return self._values.get(name, 0)

    def declare(self, *names: str) -> None:
        """Make counters exist (at 0) so that they are listed before first use."""
        for name in names:
            self._values.setdefault(name, 0)

    def reset(self, name: str) -> bool:
        """Set ``name`` back to 0; False when there is no such counter."""
        if name not in self._values:
            return False
        self._values[name] = 0
        return True

    def items(self) -> dict[str, int]:
        """All counters."""
        return dict(self._values)


class World:
    """One simulated OpenSIPS instance. Peers of a cluster are separate worlds."""

    def __init__(self, *, seed: int = 0, clock: Clock | None = None, node_id: int = 1) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = clock or Clock()
        self.node_id = node_id
        self.started_at = self.clock.now()
        self.counters = Counters()
        self._parts: dict[str, StatePart] = {}
        #: Called after every :meth:`tick` (a simulated cluster replicates and pings here).
        self.after_tick: list[Callable[[], None]] = []

    def get(self, cls: type[P]) -> P:
        """The instance of state part ``cls`` in this world (created on first use)."""
        part = self._parts.get(cls.key)
        if part is None:
            part = cls(self)
            self._parts[cls.key] = part
        assert isinstance(part, cls)
        return part

    def parts(self) -> list[StatePart]:
        """Every registered part (all are created, so snapshots are complete)."""
        return [self.get(cls) for cls in PARTS.values()]

    def load(self, scenario: Mapping[str, Any]) -> None:
        """Seed the world from a scenario: one section per part key; unknown keys refused."""
        unknown = set(scenario) - set(PARTS) - {"name", "description", "seed", "motion"}
        if unknown:
            raise ValueError(f"unknown scenario sections: {sorted(unknown)}")
        sections = [key for key in scenario if key in PARTS]
        for key in sorted(sections, key=lambda k: PARTS[k].load_order):
            self.get(PARTS[key]).load(scenario[key])

    def tick(self) -> None:
        """Advance every part to the clock's current time."""
        now = self.clock.now()
        for part in self.parts():
            part.tick(now)
        for hook in self.after_tick:
            hook()

    def snapshot(self) -> dict[str, Any]:
        """The whole state, JSON-serialisable, keyed by part."""
        return {part.key: part.snapshot() for part in self.parts()}
