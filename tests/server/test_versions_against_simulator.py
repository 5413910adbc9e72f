"""End to end: the MCP server against the simulator impersonating 3.4.18, 3.6.8 and 4.0.1 —
it learns the version, reads under 4.x names, sends the 3.x names 4.x dropped under their
4.x names, sends ambiguous bare names in full, and refuses what a version lacks unsent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings
from opensips_sim.simulator import Settings as SimSettings
from opensips_sim.simulator import Simulator

from .conftest import FAST_MI, served
from .helpers import error_code


@pytest.fixture(params=["3.4.18", "3.6.8", "4.0.1"])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Simulator, str]]:
    simulator = Simulator("lively", seed=7, settings=SimSettings(opensips_version=request.param))
    async with served(simulator) as url:
        yield simulator, url


def server_for(url: str, role: Role, tmp_path: Path) -> Any:
    values: dict[str, Any] = {
        **FAST_MI,
        "mi_url": url,
        "role": role,
        "audit_log": tmp_path / "audit.jsonl",
        "confirm": ConfirmPolicy.NONE,
        "opensips_version": None,  # learnt from the simulator
    }
    return build_server(Settings(**values))


def sent(simulator: Simulator) -> list[str]:
    return [e["method"] for e in simulator.journal.entries() if e.get("method")]


@pytest.mark.parametrize(
    "command", ["dialog:list", "dlg_list", "pike_list", "trace", "get_statistics"]
)
async def test_a_viewer_reads_under_any_name_on_every_version(
    sim: tuple[Simulator, str], tmp_path: Path, command: str
) -> None:
    simulator, url = sim
    params = {"statistics": ["core:"]} if command == "get_statistics" else None
    async with Client(server_for(url, Role.VIEWER, tmp_path)) as client:
        result = await client.call_tool("mi_execute", {"command": command, "params": params})
    version = simulator.persona.version
    asked, wire = sent(simulator)
    assert asked == "version"
    assert (":" in wire) is version.startswith("4.")
    if command != "trace":  # the simulator's tracer has no trace instance: an answer, not -32601
        assert not result.is_error, result.content
        assert result.structured_content is not None
        assert result.structured_content["sent_as"] == wire


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER])
async def test_a_command_the_version_lacks_is_refused_unsent(
    sim: tuple[Simulator, str], tmp_path: Path, role: Role
) -> None:
    """Whoever asks: a viewer below the command's level is told the version lacks it too
    (no role could run it there), and only the version look-up reaches the server."""
    simulator, url = sim
    lacking: dict[str, tuple[str, dict[str, Any]]] = {
        "3.4.18": ("dlg_set_profile", {"dlg_id": "1", "profile": "inbound"}),
        "3.6.8": ("tcp:close", {"ipport": "127.0.0.1:5060"}),
        "4.0.1": ("refreshWatchers", {"presentity_uri": "sip:a@b", "event": "presence",
                                       "refresh_type": 0}),
    }  # fmt: skip
    command, params = lacking[simulator.persona.version]
    async with Client(server_for(url, role, tmp_path)) as client:
        result = await client.call_tool("mi_execute", {"command": command, "params": params})
    assert error_code(result) == "not_in_version"
    assert sent(simulator) == ["version"]
