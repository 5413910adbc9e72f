"""The tool list: how many tools each role sees and how many bytes they cost (pinned, so
the list cannot grow silently), hints as the role can use each tool, selection with
--toolsets/--tools, and descriptions that warn about SIP-originated fields."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from opensips_mcp.gate import Role
from opensips_mcp.tools.untrusted import UNTRUSTED_NOTE

from .conftest import ServerFor

TYPED = {
    "status": {"opensips_status", "get_statistics", "statistics_delta"},
    "registrations": {"registrations_list", "registration_add", "registration_remove"},
    "dialogs": {
        "dialogs_list",
        "dialog_show",
        "dialog_end",
        "dialog_profiles",
        "profile_end_dialogs",
    },
    "dispatcher": {"dispatcher_list", "dispatcher_set_state", "dispatcher_reload"},
    "load_balancer": {"lb_destinations", "lb_set_status", "lb_resize", "lb_reload"},
    "routing": {"routing_status", "routing_set_status", "routing_reload", "routing_test_number"},
    "cluster": {
        "cluster_status",
        "cluster_set_node_status",
        "cluster_activate_sharing_tag",
        "cluster_drain_node",
    },
}
MI_TOOLS = {"mi_execute", "mi_list_commands", "mi_describe_command"}
GENERIC = {*MI_TOOLS, "opensips_health"}

#: role -> (tools listed by default, most bytes of the tools/list result). Raise these only
#: on purpose: every client downloads the whole list, and the default stays <= 30 tools.
BUDGET = {
    Role.VIEWER: (16, 49_000),
    Role.OPERATOR: (27, 70_000),
    Role.ADMIN: (30, 76_000),
}


async def _listing(server: object) -> tuple[dict[str, dict[str, object]], int]:
    async with Client(server) as client:  # type: ignore[arg-type]
        result = await client.list_tools()
    size = len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
    tools = {t.name: t.model_dump(mode="json", by_alias=True) for t in result.tools}
    return tools, size


@pytest.mark.parametrize("role", list(Role))
async def test_the_default_tool_list_stays_within_its_pinned_count_and_bytes(
    role: Role, make_server: ServerFor
) -> None:
    tools, size = await _listing(make_server(role))
    count, most_bytes = BUDGET[role]
    assert len(tools) == count <= 30
    assert size <= most_bytes, f"tools/list grew to {size} bytes"


async def test_admins_see_every_typed_and_generic_tool_by_default(make_server: ServerFor) -> None:
    tools, _ = await _listing(make_server(Role.ADMIN))
    assert set(tools) == set().union(*TYPED.values()) | GENERIC


@pytest.mark.parametrize("role", list(Role))
async def test_every_listed_tool_is_hinted_as_its_role_can_use_it(
    role: Role, make_server: ServerFor
) -> None:
    tools, _ = await _listing(make_server(role))
    for name, tool in tools.items():
        hints = tool["annotations"]
        assert isinstance(hints, dict)
        flags = [hints[k] for k in ("readOnlyHint", "destructiveHint", "idempotentHint")]
        assert all(isinstance(f, bool) for f in flags), name
        assert isinstance(hints["openWorldHint"], bool), name
        assert not (hints["readOnlyHint"] and hints["destructiveHint"]), name
        assert tool["outputSchema"] is not None, name
        if role is Role.VIEWER:
            assert hints["readOnlyHint"], name
        if role is not Role.ADMIN:
            assert not hints["destructiveHint"], name


async def test_tools_returning_sip_text_say_in_their_description_that_it_is_untrusted(
    make_server: ServerFor,
) -> None:
    tools, _ = await _listing(make_server(Role.ADMIN))
    marked = {
        name
        for name, tool in tools.items()
        if '"x-untrusted": true' in json.dumps(tool["outputSchema"])
    }
    assert {"registrations_list", "dialogs_list", "dialog_show", "dialog_profiles"} <= marked
    for name in marked:
        description = " ".join(str(tools[name]["description"]).split())
        assert UNTRUSTED_NOTE in description, name


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
async def test_naming_toolsets_without_generic_hides_mi_tools_from_non_admins(
    role: Role, make_server: ServerFor
) -> None:
    tools, _ = await _listing(make_server(role, toolsets=("status", "dialogs")))
    visible = TYPED["status"] | TYPED["dialogs"]
    assert set(tools) <= visible and not set(tools) & GENERIC


async def test_admins_keep_the_mi_tools_whatever_toolsets_are_named(
    make_server: ServerFor,
) -> None:
    tools, _ = await _listing(make_server(Role.ADMIN, toolsets=("status",)))
    assert set(tools) == TYPED["status"] | MI_TOOLS


async def test_naming_generic_lists_the_mi_tools_to_every_role(make_server: ServerFor) -> None:
    tools, _ = await _listing(make_server(Role.VIEWER, toolsets=("routing", "generic")))
    assert set(tools) == {"routing_status", "routing_test_number"} | GENERIC


async def test_naming_single_tools_lists_exactly_those(make_server: ServerFor) -> None:
    tools, _ = await _listing(make_server(Role.VIEWER, tools=("dialogs_list", "mi_execute")))
    assert set(tools) == {"dialogs_list", "mi_execute"}
