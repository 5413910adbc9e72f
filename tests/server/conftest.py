"""Fixtures for the MCP server tests: a recording MI endpoint and server factories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from opensips_mcp.audit import AuditLog
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from opensips_sim.simulator import Simulator
from opensips_sim.wire import WireServer

from .helpers import FakeMI


@pytest.fixture
async def fake_mi() -> AsyncIterator[FakeMI]:
    """A running FakeMI on 127.0.0.1, port 0."""
    fake = FakeMI()
    app = web.Application()
    app.router.add_post("/mi", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}/mi"
    try:
        yield fake
    finally:
        for event in fake.hold.values():
            event.set()
        await runner.cleanup()


FAST_MI = {
    # FakeMI and the simulator answer like 3.6.8: pinned, so a test sees only its own
    # requests (tests/server/test_versions.py covers learning the version).
    "opensips_version": "3.6.8",
    "mi_connect_timeout": 0.5,
    "mi_read_timeout": 2.0,
    "mi_total_timeout": 5.0,
}


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    """Where this test's audit trail goes."""
    return tmp_path / "state" / "audit.jsonl"


ServerFactory = Callable[..., OpenSIPSMCP]


@pytest.fixture
def make_server(fake_mi: FakeMI, audit_path: Path) -> ServerFactory:
    """Build a server for a role, pointed at the fake MI endpoint, auditing to tmp."""

    def make(role: Role | str = Role.VIEWER, **changes: Any) -> OpenSIPSMCP:
        audit = changes.pop("audit", None)
        assert audit is None or isinstance(audit, AuditLog)
        values: dict[str, Any] = {
            "mi_url": fake_mi.url,
            "role": Role(role),
            "audit_log": audit_path,
            "confirm": ConfirmPolicy.NONE,  # tested in test_confirm.py
            **FAST_MI,
            **changes,
        }
        settings = Settings(**values)
        return build_server(settings, audit=audit)

    return make


@pytest.fixture
async def sim() -> AsyncIterator[tuple[Simulator, str]]:
    """The simulator with the quiet scenario (3 calls alice -> bob; alice, bob, carol
    registered) on 127.0.0.1 port 0; yields (simulator, MI url)."""
    simulator = Simulator("quiet", seed=7)
    async with served(simulator) as url:
        yield simulator, url


@asynccontextmanager
async def served(simulator: Simulator) -> AsyncIterator[str]:
    """``simulator`` served over mi_http on 127.0.0.1 port 0; yields its MI URL."""
    wire = WireServer(simulator)
    port = await wire.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}/mi"
    finally:
        await wire.close()
