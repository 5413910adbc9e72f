"""Backoff delays: exponential ceiling, full jitter, capped."""

from __future__ import annotations

import random

import pytest

from opensips_mcp.mi.backoff import backoff_delay


class RecordingRandom:
    """Returns ``fraction`` of the way from a to b, and records every (a, b) asked for."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction
        self.calls: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls.append((a, b))
        return a + (b - a) * self.fraction


def test_delay_is_drawn_uniformly_from_zero_to_an_exponential_ceiling() -> None:
    rng = RecordingRandom(fraction=1.0)

    delays = [backoff_delay(n, base=0.05, cap=100.0, rng=rng) for n in range(5)]

    assert rng.calls == [(0.0, 0.05 * 2**n) for n in range(5)]
    assert delays == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8])


def test_ceiling_stops_growing_at_the_cap() -> None:
    rng = RecordingRandom(fraction=1.0)

    delays = [backoff_delay(n, base=0.05, cap=1.0, rng=rng) for n in (4, 5, 6, 50, 10_000)]

    assert delays == pytest.approx([0.8, 1.0, 1.0, 1.0, 1.0])


def test_jitter_reaches_down_to_zero() -> None:
    assert backoff_delay(3, base=0.05, cap=1.0, rng=RecordingRandom(fraction=0.0)) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_real_random_delays_stay_within_bounds_and_vary(seed: int) -> None:
    rng = random.Random(seed)

    delays = [backoff_delay(6, base=0.05, cap=1.0, rng=rng) for _ in range(200)]

    assert all(0.0 <= d <= 1.0 for d in delays)
    assert min(delays) < 0.2 and max(delays) > 0.8  # spread over the whole range


def test_negative_retry_number_is_refused() -> None:
    with pytest.raises(ValueError):
        backoff_delay(-1, base=0.05, cap=1.0, rng=random.Random(0))
