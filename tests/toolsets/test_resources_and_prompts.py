"""Resources (status, catalog, one command) and prompts (playbooks naming real tools)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from opensips_mcp.catalog import AccessLevel, load_catalog
from opensips_mcp.gate import Role
from opensips_mcp.prompts import PROMPTS
from opensips_sim.runner import RunningSimulator

from .conftest import ServerFor


async def _read(server: Any, uri: str) -> Any:
    async with Client(server) as client:
        result = await client.read_resource(uri)
    (item,) = result.contents
    return json.loads(item.text)  # type: ignore[union-attr]


async def test_the_server_offers_status_catalog_and_a_command_template(
    make_server: ServerFor,
) -> None:
    async with Client(make_server(Role.VIEWER)) as client:
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        }
    assert resources == {"opensips://status", "opensips://catalog"}
    assert templates == {"opensips://command/{name}"}


async def test_the_status_resource_reads_the_live_server_and_is_audited(
    sim: RunningSimulator, make_server: ServerFor, tmp_path: Path
) -> None:
    status = await _read(make_server(Role.VIEWER), "opensips://status")
    assert (status["active_dialogs"], status["registered_contacts"]) == (3, 3)
    assert {"version", "uptime", "ps", "get_statistics"} <= {e["method"] for e in sim.journal()}
    lines = (tmp_path / "audit-viewer.jsonl").read_text().splitlines()
    records = [r for r in map(json.loads, lines) if r["kind"] == "call"]
    assert [r["tool"] for r in records] == ["resource:opensips://status"]
    assert records[0]["outcome"] == "ok"


@pytest.mark.parametrize("role", list(Role))
async def test_the_catalog_resource_lists_every_command_with_levels_for_the_role(
    role: Role, make_server: ServerFor
) -> None:
    catalog = await _read(make_server(role), "opensips://catalog")
    commands = {c["name"]: c for c in catalog["commands"]}
    assert catalog["role"] == role.value and catalog["live"]["checked"] is True
    assert len(commands) == catalog["count"] == len(load_catalog())
    for command in commands.values():
        for recipe in command["recipes"]:
            assert recipe["allowed"] is role.allows(AccessLevel(recipe["level"]))
    assert commands["dlg_list"]["available"] is True
    assert commands["GET_CPL"]["available"] is False


async def test_one_command_resource_shows_its_recipes_levels_and_availability(
    make_server: ServerFor,
) -> None:
    command = await _read(make_server(Role.OPERATOR), "opensips://command/dr_gw_status")
    levels = {tuple(r["params"]): (r["level"], r["allowed"]) for r in command["recipes"]}
    assert levels[("gw_id",)] == ("read", True)
    assert levels[("gw_id", "status")] == ("write", True)
    assert command["available"] is True and command["check_after"] == "dr_gw_status"


async def test_an_unknown_command_resource_fails_with_the_unknown_command_code(
    make_server: ServerFor,
) -> None:
    async with Client(make_server(Role.VIEWER)) as client:
        with pytest.raises(MCPError, match=r"^unknown_command: "):
            await client.read_resource("opensips://command/lcr_reload")


async def test_every_prompt_is_listed_with_its_arguments(make_server: ServerFor) -> None:
    async with Client(make_server(Role.VIEWER)) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert (
        set(prompts)
        == {name for name, _, _ in PROMPTS}
        == {
            "triage_failed_registrations",
            "triage_call_problems",
            "drain_safely",
            "gateway_rotation",
        }
    )
    for prompt in prompts.values():
        assert prompt.description
        assert all(a.description and not a.required for a in prompt.arguments or [])


PROMPT_ARGS = [
    ("triage_failed_registrations", {"aor": "alice"}),
    ("triage_call_problems", {"problem": "failed"}),
    ("triage_call_problems", {"problem": "one_way_audio", "callid": "1-1979@127.0.0.1"}),
    ("drain_safely", {"target": "node"}),
    ("drain_safely", {"target": "dispatcher_destination", "target_id": "sip:10.0.0.5"}),
    ("drain_safely", {"target": "load_balancer_destination"}),
    ("gateway_rotation", {"gateway_id": "gw1", "group_id": "1", "test_number": "+4412345"}),
]


@pytest.mark.parametrize(("name", "args"), PROMPT_ARGS)
async def test_a_prompt_names_only_tools_this_server_has(
    name: str, args: dict[str, str], make_server: ServerFor
) -> None:
    server = make_server(Role.ADMIN)
    async with Client(server) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        prompt = await client.get_prompt(name, args)
    text = " ".join(m.content.text for m in prompt.messages)  # type: ignore[union-attr]
    named = set(re.findall(r"`([a-z_]+)`", text))
    assert len(named) >= 3
    assert named <= tools, named - tools
    assert "x-untrusted" in text
    for key, value in args.items():
        if key not in ("problem", "target"):
            assert value in text
