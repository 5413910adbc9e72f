"""Fixtures for the toolset tests: the quiet simulator (clock frozen at the capture) and
servers per role pointed at it. Each fixture stops what it started."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP
from opensips_sim.runner import RunningSimulator, running_simulator

from .helpers import server_for

#: Thu Nov 26 10:42:44 2026 UTC: when the captured server had been up 227 s.
CAPTURE_EPOCH = 1_795_689_764.0

ServerFor = Callable[..., OpenSIPSMCP]


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    """The quiet scenario on 127.0.0.1 port 0, clock frozen at the capture."""
    async with running_simulator("quiet", seed=1, frozen_at=CAPTURE_EPOCH) as running:
        yield running


@pytest.fixture
def make_server(sim: RunningSimulator, tmp_path: Path) -> ServerFor:
    """``make_server(role, **settings)``: a server for ``role`` against the quiet sim."""

    def make(role: Role | str = Role.ADMIN, **changes: Any) -> OpenSIPSMCP:
        return server_for(sim, Role(role), tmp_path, **changes)

    return make
