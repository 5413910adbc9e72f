"""An injectable clock: real time by default, or a manual clock advanced by the control API."""

from __future__ import annotations

import time


class Clock:
    """Wall-clock seconds since the epoch, plus an offset the control API can advance."""

    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._frozen = frozen
        self._base = time.time() if start is None else start
        self._mono0 = time.monotonic()
        self._offset = 0.0

    @property
    def frozen(self) -> bool:
        """True when time only moves through :meth:`advance`."""
        return self._frozen

    def now(self) -> float:
        """Current simulated time (epoch seconds)."""
        moved = 0.0 if self._frozen else time.monotonic() - self._mono0
        return self._base + moved + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (never backwards); returns the new time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self.now()
