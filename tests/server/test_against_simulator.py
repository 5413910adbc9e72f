"""The MCP server against the stateful simulator: counted and checked in its journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from opensips_sim.simulator import Simulator

from .conftest import FAST_MI
from .helpers import audit_records, error_code, error_text


def server_for(url: str, role: Role, tmp_path: Path) -> OpenSIPSMCP:
    values: dict[str, Any] = {
        "mi_url": url,
        "role": role,
        "audit_log": tmp_path / "audit.jsonl",
        "confirm": ConfirmPolicy.NONE,  # tested in test_confirm.py
        **FAST_MI,
    }
    return build_server(Settings(**values))


def journal_methods(simulator: Simulator) -> list[str]:
    return [e["method"] for e in simulator.journal.entries()]


async def test_health_of_the_simulator(sim: tuple[Simulator, str], tmp_path: Path) -> None:
    simulator, url = sim
    async with Client(server_for(url, Role.VIEWER, tmp_path)) as client:
        result = await client.call_tool("opensips_health", {})
    content = result.structured_content
    assert content is not None
    assert content["reachable"] is True
    assert content["version"] and "3.6" in content["version"]
    assert content["processes"] and content["processes"] > 0
    assert journal_methods(simulator) == ["version", "uptime", "ps"]


@pytest.mark.parametrize(
    ("command", "params"),
    [
        (
            "cluster_send_mi",
            {"cluster_id": 1, "destination": 2, "cmd_name": "dlg_end_dlg", "cmd_params": ["1"]},
        ),
        (
            "cluster_broadcast_mi",
            {
                "cluster_id": 1,
                "cmd_name": "ds_set_state",
                "cmd_params": ["i", "1", "sip:127.0.0.1:5070"],
            },
        ),
        ("dlg_end_dlg", {"dialog_id": "1"}),
        ("log_level", {"level": 4}),
    ],
)
async def test_a_viewer_changes_nothing_and_the_simulator_receives_nothing(
    sim: tuple[Simulator, str], tmp_path: Path, command: str, params: dict[str, Any]
) -> None:
    simulator, url = sim
    async with Client(server_for(url, Role.VIEWER, tmp_path)) as client:
        result = await client.call_tool("mi_execute", {"command": command, "params": params})
    assert error_code(result) == "permission_denied"
    assert simulator.journal.entries() == []


async def test_an_admin_ends_a_real_call_and_it_is_deleted(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    simulator, url = sim
    async with Client(server_for(url, Role.ADMIN, tmp_path)) as client:
        listing = await client.call_tool("mi_execute", {"command": "dlg_list"})
        assert listing.structured_content is not None
        dialogs = listing.structured_content["result"]["Dialogs"]
        assert dialogs
        target = dialogs[0]["ID"]
        ended = await client.call_tool(
            "mi_execute", {"command": "dlg_end_dlg", "params": {"dialog_id": target}}
        )
        assert not ended.is_error
        after = await client.call_tool("mi_execute", {"command": "dlg_list"})
    assert after.structured_content is not None
    # As on a real 3.6.8, the ended call stays listed in state 5 until its BYEs end.
    remaining = {d["ID"]: d["state"] for d in after.structured_content["result"].get("Dialogs", [])}
    assert remaining.get(target, 5) == 5
    end_entries = [e for e in simulator.journal.entries() if e["method"] == "dlg_end_dlg"]
    assert [(e["level"], e["applied"]) for e in end_entries] == [("destructive", True)]


async def test_a_lost_answer_to_an_applied_write_is_unknown_and_never_resent(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    simulator, url = sim
    simulator.faults.extend(
        [{"command": "dlg_end_dlg", "action": "http_500", "when": "after_apply", "count": 1}]
    )
    async with Client(server_for(url, Role.ADMIN, tmp_path)) as client:
        listing = await client.call_tool("mi_execute", {"command": "dlg_list"})
        assert listing.structured_content is not None
        target = listing.structured_content["result"]["Dialogs"][0]["ID"]
        result = await client.call_tool(
            "mi_execute", {"command": "dlg_end_dlg", "params": {"dialog_id": target}}
        )
    assert error_code(result) == "outcome_unknown"
    assert "dlg_list" in error_text(result)
    end_entries = [e for e in simulator.journal.entries() if e["method"] == "dlg_end_dlg"]
    assert len(end_entries) == 1 and end_entries[0]["applied"] is True
    record = audit_records(tmp_path / "audit.jsonl")[-1]
    assert (record["command"], record["outcome"], record["mi_attempts"]) == (
        "dlg_end_dlg",
        "unknown",
        1,
    )


async def test_list_commands_marks_modules_the_simulator_has_not_loaded(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    _, url = sim
    async with Client(server_for(url, Role.ADMIN, tmp_path)) as client:
        result = await client.call_tool("mi_list_commands", {})
    content = result.structured_content
    assert content is not None
    available = {c["name"]: c["available"] for c in content["commands"]}
    assert available["dlg_list"] is True
    assert False in available.values()  # some catalogued modules are not loaded
