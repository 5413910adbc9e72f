"""Helpers for state tests: a world seeded from a built-in scenario with a frozen clock, and
calls made as the wire makes them (resolve the recipe, then execute)."""

from __future__ import annotations

from typing import Any

import pytest

from opensips_sim import dispatch, scenarios
from opensips_sim.clock import Clock
from opensips_sim.errors import MIError
from opensips_sim.simulator import load_all_parts
from opensips_sim.world import World

from .conftest import CAPTURE_EPOCH


def world_of(name: str = "quiet", seed: int = 1, at: float = CAPTURE_EPOCH) -> World:
    """A world seeded from scenario ``name`` (or a scenario object) at a frozen time."""
    load_all_parts()
    world = World(seed=seed, clock=Clock(at, frozen=True))
    world.load({k: v for k, v in scenarios.load(name).items() if k != "seed"})
    return world


def mi(world: World, method: str, params: Any = None) -> Any:
    """The result of one MI call (raises MIError as the server would answer it)."""
    return dispatch.run(world, method, params)


def mi_error(world: World, method: str, params: Any = None) -> tuple[int, str, str | None]:
    """The (code, message, data) of a call that must fail."""
    with pytest.raises(MIError) as caught:
        dispatch.run(world, method, params)
    return caught.value.code, caught.value.message, caught.value.data


def advance(world: World, seconds: float) -> None:
    """Let ``seconds`` pass in ``world``."""
    world.clock.advance(seconds)
    world.tick()
