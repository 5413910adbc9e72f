"""completion/complete against the simulator: catalog names by role, live state for prompt
arguments, at most one MI call per request, cached."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference

from opensips_mcp.completions import MAX_VALUES, rank
from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from opensips_sim.simulator import Simulator

from .conftest import FAST_MI

COMMAND = ResourceTemplateReference(type="ref/resource", uri="opensips://command/{name}")


def server_for(url: str, tmp_path: Path, role: Role = Role.VIEWER) -> OpenSIPSMCP:
    values: dict[str, Any] = {
        "mi_url": url,
        "role": role,
        "audit_log": tmp_path / "audit.jsonl",
        **FAST_MI,
    }
    return build_server(Settings(**values))


def methods(simulator: Simulator) -> list[str]:
    return [e["method"] for e in simulator.journal.entries()]


def prompt(name: str) -> PromptReference:
    return PromptReference(type="ref/prompt", name=name)


async def test_command_names_are_those_the_role_may_run(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    simulator, url = sim
    async with Client(server_for(url, tmp_path, Role.VIEWER)) as c:
        viewer = (await c.complete(COMMAND, {"name": "name", "value": "dlg_"})).completion
        viewer_kill = (await c.complete(COMMAND, {"name": "name", "value": "kil"})).completion
    async with Client(server_for(url, tmp_path, Role.ADMIN)) as c:
        admin_kill = (await c.complete(COMMAND, {"name": "name", "value": "kil"})).completion
    assert "dlg_list" in viewer.values
    assert all(v.startswith("dlg_") for v in viewer.values)
    assert "dlg_end_dlg" not in viewer.values  # destructive only
    assert "kill" not in viewer_kill.values and "kill" in admin_kill.values
    assert methods(simulator) == []  # the catalog answers, not OpenSIPS


@pytest.mark.parametrize(
    ("name", "argument", "typed", "context", "expected", "command"),
    [
        ("triage_failed_registrations", "aor", "a", None, ["alice"], "ul_dump"),
        ("triage_call_problems", "callid", "1-", None, ["1-1979@127.0.0.1"], "dlg_list"),
        ("gateway_rotation", "gateway_id", "g", None, ["gw1"], "dr_gw_status"),
        (
            "drain_safely",
            "target_id",
            "sip:",
            {"target": "dispatcher_destination"},
            ["sip:127.0.0.1:5081", "sip:127.0.0.1:5082"],
            "ds_list",
        ),
        (
            "drain_safely",
            "target_id",
            "",
            {"target": "load_balancer_destination"},
            ["1", "2"],
            "lb_list",
        ),
    ],
)
async def test_prompt_arguments_complete_from_live_state_with_one_cached_call(
    sim: tuple[Simulator, str],
    tmp_path: Path,
    name: str,
    argument: str,
    typed: str,
    context: dict[str, str] | None,
    expected: list[str],
    command: str,
) -> None:
    simulator, url = sim
    async with Client(server_for(url, tmp_path)) as c:
        first = await c.complete(prompt(name), {"name": argument, "value": typed}, context)
        again = await c.complete(prompt(name), {"name": argument, "value": typed}, context)
    for value in expected:
        assert value in first.completion.values
    assert all(typed.casefold() in v.casefold() for v in first.completion.values)
    assert again.completion.values == first.completion.values
    assert methods(simulator) == [command]  # one MI call, then the cache


async def test_literal_choices_and_unknown_references_complete_without_mi(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    simulator, url = sim
    async with Client(server_for(url, tmp_path)) as c:
        problem = await c.complete(prompt("triage_call_problems"), {"name": "problem", "value": ""})
        unknown = await c.complete(prompt("no_such_prompt"), {"name": "x", "value": "a"})
    assert problem.completion.values == ["failed", "one_way_audio"]
    assert unknown.completion.values == []
    assert methods(simulator) == []


async def test_a_failed_read_completes_nothing(tmp_path: Path) -> None:
    async with Client(server_for("http://127.0.0.1:9/mi", tmp_path)) as c:
        result = await c.complete(
            prompt("triage_failed_registrations"), {"name": "aor", "value": ""}
        )
    assert result.completion.values == []


def test_rank_bounds_and_orders() -> None:
    many = [f"x{i:04d}" for i in range(300)] + ["ax1"]
    done = rank(many, "x")
    assert len(done.values) == MAX_VALUES and done.has_more and done.total == 301
    assert done.values[0] == "x0000"
    assert rank(["bob", "alice", "carol"], "").values == ["alice", "bob", "carol"]
    assert rank(["xa", "ax"], "a").values == ["ax", "xa"]


@pytest.mark.parametrize(
    ("argument", "expected", "command"),
    [
        ("profile", {"inbound", "caller"}, "list_all_profiles"),
        ("carrier_id", {"carrier1"}, "dr_carrier_status"),
        ("dialog_id", None, "dlg_list"),
    ],
)
async def test_any_prompt_argument_completes_by_its_name(
    sim: tuple[Simulator, str],
    tmp_path: Path,
    argument: str,
    expected: set[str] | None,
    command: str,
) -> None:
    simulator, url = sim
    server = server_for(url, tmp_path)

    def custom(profile: str = "", carrier_id: str = "", dialog_id: str = "") -> str:
        return "a prompt added after the built-in ones"

    server.prompt(name="custom")(custom)
    async with Client(server) as c:
        result = await c.complete(prompt("custom"), {"name": argument, "value": ""})
        listed = await c.call_tool("dialogs_list", {}) if expected is None else None
    values = set(result.completion.values)
    if listed is not None:
        assert listed.structured_content is not None
        expected = {d["id"] for d in listed.structured_content["dialogs"]}
    assert expected is not None and expected <= values and values
    assert methods(simulator)[0] == command
