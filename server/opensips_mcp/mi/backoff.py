"""Exponential backoff with full jitter."""

from __future__ import annotations

from typing import Protocol

__all__ = ["UniformSource", "backoff_delay"]


class UniformSource(Protocol):
    """Anything with ``uniform(a, b)``, such as `random.Random` (injectable for tests)."""

    def uniform(self, a: float, b: float) -> float: ...


def backoff_delay(retry: int, *, base: float, cap: float, rng: UniformSource) -> float:
    """Seconds to sleep before retry number ``retry`` (0 for the first retry).

    Full jitter: uniform in ``[0, min(cap, base * 2**retry)]``, so concurrent callers
    that failed together do not retry together.
    """
    if retry < 0:
        raise ValueError(f"retry must be >= 0, got {retry}")
    # Cap the exponent: 2**retry for a large retry would be a huge int before min() applies.
    ceiling = min(cap, base * 2 ** min(retry, 64))
    return rng.uniform(0.0, ceiling)
