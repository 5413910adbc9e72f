"""Fixtures for the simulator tests: a running simulator on port 0 with the ``quiet``
scenario and the clock frozen at the moment of the real capture, and a factory for
simulators with other options. Each fixture stops what it started."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from opensips_sim.runner import RunningSimulator, running_simulator

#: Thu Nov 26 10:42:44 2026 UTC: when the captured server had been up 227 s.
CAPTURE_EPOCH = 1_795_689_764.0

StartSimulator = Callable[..., Awaitable[RunningSimulator]]


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    """``await start_simulator(scenario=..., seed=..., ...)``: started now, stopped at the end
    of the test. Defaults: quiet, seed 1, clock frozen at the capture, idle timeout 2 s."""
    async with AsyncExitStack() as stack:

        async def start(**options: Any) -> RunningSimulator:
            options.setdefault("scenario", "quiet")
            options.setdefault("seed", 1)
            options.setdefault("frozen_at", CAPTURE_EPOCH)
            options.setdefault("idle_timeout", 2.0)
            return await stack.enter_async_context(running_simulator(**options))

        yield start


@pytest.fixture
async def sim(start_simulator: StartSimulator) -> RunningSimulator:
    """The quiet simulator with the default options of ``start_simulator``."""
    return await start_simulator()
