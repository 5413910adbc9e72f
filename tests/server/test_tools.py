"""The generic tools: listing per role, annotations, discovery, health, error mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import Context

from opensips_mcp.catalog import AccessLevel, load_catalog
from opensips_mcp.gate import Role
from opensips_mcp.runtime import runtime_of
from opensips_mcp.tools import Toolset, select_tools

from .conftest import ServerFactory
from .helpers import Answer, FakeMI, audit_records, call, error_code, error_text

GENERIC = {"mi_execute", "mi_list_commands", "mi_describe_command", "opensips_health"}


@pytest.mark.parametrize("role", list(Role))
async def test_every_listed_tool_sets_all_four_hints_and_never_read_only_and_destructive(
    make_server: ServerFactory, role: Role
) -> None:
    async with Client(make_server(role)) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} >= GENERIC
    for tool in tools:
        hints = tool.annotations
        assert hints is not None
        values = (
            hints.read_only_hint,
            hints.destructive_hint,
            hints.idempotent_hint,
            hints.open_world_hint,
        )
        assert all(v is not None for v in values), tool.name
        assert not (hints.read_only_hint and hints.destructive_hint), tool.name
        assert tool.output_schema is not None, tool.name


@pytest.mark.parametrize(
    ("role", "read_only", "destructive"),
    [(Role.VIEWER, True, False), (Role.OPERATOR, False, False), (Role.ADMIN, False, True)],
)
async def test_mi_execute_is_hinted_as_the_caller_can_use_it(
    make_server: ServerFactory, role: Role, read_only: bool, destructive: bool
) -> None:
    async with Client(make_server(role)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    hints = tools["mi_execute"].annotations
    assert hints is not None
    assert (hints.read_only_hint, hints.destructive_hint) == (read_only, destructive)


async def test_a_tool_a_role_can_never_use_is_not_listed_but_still_gated_when_called(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    toolset = Toolset("test", "for this test")

    @toolset.tool(uses=[("dlg_end_dlg", ("dialog_id",))])
    async def end_call(dialog_id: str, ctx: Context) -> str:
        """End a call."""
        await runtime_of(ctx).run_mi(
            ctx, tool="end_call", command="dlg_end_dlg", params={"dialog_id": dialog_id}
        )
        return "ended"

    (spec,) = toolset.specs
    assert (spec.min_level, spec.max_level) == (AccessLevel.DESTRUCTIVE, AccessLevel.DESTRUCTIVE)
    server = make_server(Role.OPERATOR)
    server.add_tool(end_call, annotations=spec.annotations())
    server.specs[spec.name] = spec
    async with Client(server) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("end_call", {"dialog_id": "42"})
    assert "end_call" not in names
    assert error_code(result) == "permission_denied"
    assert fake_mi.count() == 0

    async with Client(make_server(Role.ADMIN)) as admin_client:
        admin_names = {t.name for t in (await admin_client.list_tools()).tools}
    assert "end_call" not in admin_names  # not registered on that server


def test_toolset_levels_are_derived_from_the_catalog_recipes_it_uses() -> None:
    toolset = Toolset("t", "t")

    @toolset.tool(uses=["dr_gw_status"], idempotent=True)
    async def gateway_status() -> None:
        """Read or set."""

    @toolset.tool(uses=[("dr_gw_status", ("gw_id",))])
    async def gateway_read() -> None:
        """Read only."""

    by_name = {s.name: s for s in toolset.specs}
    assert (by_name["gateway_status"].min_level, by_name["gateway_status"].max_level) == (
        AccessLevel.READ,
        AccessLevel.WRITE,
    )
    assert by_name["gateway_read"].annotations().read_only_hint is True
    assert by_name["gateway_status"].annotations().read_only_hint is False
    assert by_name["gateway_status"].annotations(Role.VIEWER).read_only_hint is True


def test_toolset_refuses_a_command_that_is_not_real() -> None:
    toolset = Toolset("t", "t")
    with pytest.raises(ValueError, match="lcr_reload"):

        @toolset.tool(uses=["lcr_reload"])
        async def reload() -> None:
            """Nope."""


def test_unknown_toolset_or_tool_names_are_refused_with_the_valid_ones() -> None:
    toolset = Toolset("generic", "g")

    @toolset.tool()
    async def health() -> None:
        """h"""

    sets = {"generic": toolset}
    assert [s.name for s in select_tools(sets)] == ["health"]
    assert [s.name for s in select_tools(sets, ["generic"])] == ["health"]
    assert [s.name for s in select_tools(sets, (), ["health"])] == ["health"]
    with pytest.raises(ValueError, match="generic"):
        select_tools(sets, ["dialogs"])
    with pytest.raises(ValueError, match="health"):
        select_tools(sets, (), ["helth"])


async def test_tools_setting_limits_the_registered_tools(make_server: ServerFactory) -> None:
    async with Client(make_server(Role.ADMIN, tools=("opensips_health",))) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names == {"opensips_health"}


# --- mi_list_commands / mi_describe_command ----------------------------------------------


@pytest.mark.parametrize("role", list(Role))
async def test_list_commands_shows_only_what_the_role_may_run(
    make_server: ServerFactory, role: Role
) -> None:
    result = await call(make_server(role), "mi_list_commands")
    assert not result.is_error
    content = result.structured_content
    assert content is not None
    catalog = load_catalog().for_version("3.6.8")
    listed = {c["name"]: c for c in content["commands"]}
    expected = {e.name for e in catalog.entries() if role.allows(e.min_level)}
    assert set(listed) == expected
    for item in listed.values():
        assert all(role.allows(AccessLevel(lv)) for lv in item["levels"])
    assert content["count"] == len(expected)


async def test_list_commands_marks_commands_of_modules_not_loaded_as_unavailable(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    fake_mi.without_module("dialog")
    result = await call(make_server(Role.VIEWER), "mi_list_commands", {"module": "dialog"})
    content = result.structured_content
    assert content is not None
    assert content["commands"]
    assert {c["available"] for c in content["commands"]} == {False}
    other = await call(make_server(Role.VIEWER), "mi_list_commands", {"module": "core"})
    assert other.structured_content is not None
    assert {c["available"] for c in other.structured_content["commands"]} == {True}


async def test_list_commands_filters_by_level(make_server: ServerFactory) -> None:
    result = await call(make_server(Role.ADMIN), "mi_list_commands", {"level": "destructive"})
    content = result.structured_content
    assert content is not None
    names = {c["name"] for c in content["commands"]}
    assert {"dlg_end_dlg", "ul_rm"} <= names
    assert "uptime" not in names


async def test_live_only_commands_are_listed_as_admin_to_admins_only(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    fake_mi.offered.add("custom_cmd")
    admin = await call(make_server(Role.ADMIN), "mi_list_commands")
    operator = await call(make_server(Role.OPERATOR), "mi_list_commands")
    assert admin.structured_content is not None and operator.structured_content is not None
    admin_listed = {c["name"]: c for c in admin.structured_content["commands"]}
    assert admin_listed["custom_cmd"]["live_only"] is True
    assert admin_listed["custom_cmd"]["levels"] == ["admin"]
    assert "custom_cmd" not in {c["name"] for c in operator.structured_content["commands"]}


async def test_live_only_command_runs_for_an_admin_and_is_refused_to_an_operator(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    fake_mi.offered.add("custom_cmd")
    admin = await call(make_server(Role.ADMIN), "mi_execute", {"command": "custom_cmd"})
    assert not admin.is_error
    assert fake_mi.methods() == ["which", "custom_cmd"]
    operator = await call(make_server(Role.OPERATOR), "mi_execute", {"command": "custom_cmd"})
    assert error_code(operator) == "unknown_command"
    assert fake_mi.methods() == ["which", "custom_cmd"]


async def test_list_commands_still_answers_when_the_live_check_fails(
    make_server: ServerFactory,
) -> None:
    server = make_server(Role.VIEWER, mi_url="http://127.0.0.1:9/mi", mi_max_attempts=1)
    result = await call(server, "mi_list_commands", {"module": "core"})
    content = result.structured_content
    assert content is not None
    assert content["live"]["checked"] is False
    assert content["live"]["error"]
    assert {c["available"] for c in content["commands"]} == {None}


async def test_describe_command_lists_each_recipe_with_its_level_and_the_role_verdict(
    make_server: ServerFactory,
) -> None:
    result = await call(
        make_server(Role.VIEWER), "mi_describe_command", {"command": "dr_gw_status"}
    )
    content = result.structured_content
    assert content is not None
    recipes = {tuple(r["params"]): (r["level"], r["allowed"]) for r in content["recipes"]}
    assert recipes[("gw_id",)] == ("read", True)
    assert recipes[("gw_id", "status")] == ("write", False)
    assert content["available"] is True
    assert content["check_after"] == "dr_gw_status"


async def test_describe_of_an_unknown_command_suggests_real_names(
    make_server: ServerFactory,
) -> None:
    result = await call(make_server(Role.VIEWER), "mi_describe_command", {"command": "dlg_lst"})
    assert error_code(result) == "unknown_command"
    assert "dlg_list" in error_text(result)


# --- error mapping -------------------------------------------------------------------------


async def test_unknown_command_is_refused_with_close_real_names_and_nothing_sent(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    result = await call(make_server(Role.ADMIN), "mi_execute", {"command": "lcr_reload"})
    assert error_code(result) == "unknown_command"
    assert fake_mi.methods() == ["which"]  # an admin's unknown command is checked live


async def test_params_matching_no_recipe_list_the_valid_recipes(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    result = await call(
        make_server(Role.ADMIN),
        "mi_execute",
        {"command": "dr_gw_status", "params": {"gateway": "x"}},
    )
    assert error_code(result) == "no_matching_recipe"
    assert "gw_id, status" in error_text(result)
    assert fake_mi.count() == 0


async def test_opensips_error_reaches_the_agent_with_its_code_and_message(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    fake_mi.answers["dlg_end_dlg"] = Answer(error=(404, "Requested Dialog not found"))
    result = await call(
        make_server(Role.ADMIN),
        "mi_execute",
        {"command": "dlg_end_dlg", "params": {"dialog_id": "9"}},
    )
    assert error_code(result) == "opensips_error"
    assert "404" in error_text(result)
    assert "Requested Dialog not found" in error_text(result)


async def test_command_the_server_does_not_offer_is_reported_not_available(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    fake_mi.without_module("dialog")
    result = await call(make_server(Role.VIEWER), "mi_execute", {"command": "dlg_list"})
    assert error_code(result) == "not_available"


def _dump_of(*tables: tuple[str, str]) -> dict[str, Any]:
    """A ul_dump answer with one AOR (one contact) per (table, AOR)."""
    return {
        "Domains": [
            {
                "name": table,
                "hash_size": 512,
                "AORs": [
                    {
                        "AOR": aor,
                        "Contacts": [{"Contact": f"sip:{aor}@192.0.2.1", "Expires": 60}],
                    }
                ],
            }
            for table, aor in tables
        ]
    }


async def test_registrations_list_lists_only_the_table_asked_for(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    """ul_dump holds every usrloc table (a registrar saving to 'location' and 'pbx')."""
    fake_mi.answers["ul_dump"] = Answer(_dump_of(("location", "alice"), ("pbx", "bob")))
    server = make_server(Role.VIEWER)
    default = await call(server, "registrations_list")
    pbx = await call(server, "registrations_list", {"table": "pbx"})
    assert default.structured_content is not None and pbx.structured_content is not None
    assert [c["aor"] for c in default.structured_content["contacts"]] == ["alice"]
    assert [(c["table"], c["aor"]) for c in pbx.structured_content["contacts"]] == [("pbx", "bob")]


async def test_draining_a_node_without_clusterer_says_the_module_is_missing(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    """Measured on a real 3.6.8 without clusterer: the drain used to answer
    invalid_params "not in that cluster", which sends the agent looking for a cluster."""
    fake_mi.without_module("clusterer")
    result = await call(
        make_server(Role.ADMIN), "cluster_drain_node", {"cluster_id": 1, "wait_seconds": 0}
    )
    assert error_code(result) == "not_available"
    assert "clusterer_set_status" not in fake_mi.methods()


async def test_write_without_an_answer_is_outcome_unknown_naming_the_read_that_checks(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    fake_mi.answers["dlg_end_dlg"] = Answer(http_status=500)
    result = await call(
        make_server(Role.ADMIN),
        "mi_execute",
        {"command": "dlg_end_dlg", "params": {"dialog_id": "9"}},
    )
    assert error_code(result) == "outcome_unknown"
    assert "dlg_list" in error_text(result)
    assert fake_mi.count("dlg_end_dlg") == 1


async def test_unexpected_failure_reaches_the_agent_as_a_generic_error_without_details(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(Role.VIEWER)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail /etc/passwd")

    async with Client(server) as client:
        monkeypatch.setattr(server.runtime.mi, "call", broken)
        result = await client.call_tool("mi_execute", {"command": "uptime"})
    assert error_code(result) == "internal_error"
    assert "secret internal detail" not in error_text(result)
    assert "Traceback" not in error_text(result)


async def test_mi_execute_returns_the_result_and_how_it_was_sent(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    result = await call(make_server(Role.VIEWER), "mi_execute", {"command": "uptime"})
    content = result.structured_content
    assert content is not None
    assert content["result"]["Up time"] == "227 [sec]"
    assert (content["command"], content["sent_as"], content["level"]) == (
        "uptime",
        "uptime",
        "read",
    )
    assert content["attempts"] == 1


async def test_a_4x_server_is_sent_the_module_scoped_name_it_offers(
    make_server: ServerFactory, fake_mi: FakeMI, audit_path: Path
) -> None:
    fake_mi.offered.discard("get_statistics")
    fake_mi.offered.add("statistics:get")
    fake_mi.answers["version"] = Answer({"Server": "OpenSIPS (4.0.1 (x86_64/linux))"})
    result = await call(
        make_server(Role.VIEWER, opensips_version=None),
        "mi_execute",
        {"command": "get_statistics", "params": {"statistics": ["all"]}},
    )
    assert not result.is_error
    assert fake_mi.methods() == ["version", "statistics:get"]
    (record,) = audit_records(audit_path)
    assert record["command"] == "get_statistics"
    assert [(c["command"], c["internal"]) for c in record["calls"]] == [
        ("version", True),
        ("get_statistics", False),
    ]


# --- opensips_health -------------------------------------------------------------------------


async def test_health_reports_version_uptime_processes_and_latency(
    make_server: ServerFactory,
) -> None:
    result = await call(make_server(Role.VIEWER), "opensips_health")
    content = result.structured_content
    assert content is not None
    assert content["reachable"] is True
    assert content["version"] == "OpenSIPS (3.6.8 (x86_64/linux))"
    assert content["uptime_seconds"] == 227
    assert content["processes"] == 4
    assert content["latency_ms"] >= 0
    assert content["error"] is None


async def test_health_of_an_unreachable_server_reports_it_instead_of_failing(
    make_server: ServerFactory,
) -> None:
    server = make_server(Role.VIEWER, mi_url="http://user:pw@127.0.0.1:9/mi", mi_max_attempts=1)
    result = await call(server, "opensips_health")
    assert not result.is_error
    content = result.structured_content
    assert content is not None
    assert content["reachable"] is False
    assert content["error"].startswith("unreachable")
    assert "pw" not in content["mi_url"]


async def test_health_shows_a_fifo_url_as_it_is_written(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    url = f"fifo://{tmp_path}/opensips_fifo"  # nobody there: unreachable
    server = make_server(Role.VIEWER, mi_url=f"{url}?reply_dir={tmp_path}/", mi_max_attempts=1)
    content = (await call(server, "opensips_health")).structured_content
    assert content is not None
    assert (content["reachable"], content["mi_url"]) == (False, url)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("mi_execute", {"command": "ds_list"}),
        ("mi_list_commands", {"module": "dispatcher"}),
        ("mi_describe_command", {"command": "ds_set_state"}),
        ("opensips_health", {}),
    ],
)
async def test_every_generic_tool_answers_every_role(
    make_server: ServerFactory, role: Role, tool: str, args: dict[str, Any]
) -> None:
    result = await call(make_server(role), tool, args)
    assert not result.is_error
    assert result.structured_content is not None


async def test_a_tool_running_several_commands_gates_its_write_first_and_writes_one_record(
    make_server: ServerFactory, fake_mi: FakeMI, audit_path: Path
) -> None:
    toolset = Toolset("test", "for this test")

    @toolset.tool(uses=["lb_list", ("lb_status", ("destination_id", "new_status"))])
    async def lb_drain(destination_id: int, ctx: Context) -> str:
        """Drain a load-balancer destination."""
        drain = {"destination_id": destination_id, "new_status": 0}
        async with runtime_of(ctx).tool_call(ctx, "lb_drain") as c:
            c.check("lb_status", drain)
            await c.mi("lb_list")
            await c.mi("lb_status", drain)
        return "drained"

    (spec,) = toolset.specs
    assert (spec.min_level, spec.max_level) == (AccessLevel.READ, AccessLevel.WRITE)
    results = {}
    for role in (Role.VIEWER, Role.OPERATOR):
        server = make_server(role)
        server.add_tool(lb_drain, annotations=spec.annotations())
        server.specs[spec.name] = spec
        results[role] = await call(server, "lb_drain", {"destination_id": 3})
    assert error_code(results[Role.VIEWER]) == "permission_denied"
    assert not results[Role.OPERATOR].is_error
    assert fake_mi.methods() == ["lb_list", "lb_status"]
    denied, done = audit_records(audit_path)
    assert (denied["outcome"], denied["mi_attempts"], len(denied["calls"])) == ("denied", 0, 1)
    assert (done["outcome"], done["mi_attempts"]) == ("ok", 2)
    assert [c["command"] for c in done["calls"]] == ["lb_list", "lb_status"]
    assert (done["command"], done["level"]) == ("lb_list", "write")
