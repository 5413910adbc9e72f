"""mi_execute through the gate, per role, over the in-memory MCP client.

Evidence is counted at the MI endpoint: a denied call must send nothing at all.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from opensips_mcp.catalog import AccessLevel, load_catalog
from opensips_mcp.gate import Role

from .conftest import ServerFactory
from .helpers import FakeMI, audit_records, call, error_code

ROLES = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]

# Get-or-set commands: (command, params that only read, params that change, level of the change).
# Levels pinned here on purpose: a catalog regression must fail these tests.
GET_OR_SET: list[tuple[str, dict[str, Any], dict[str, Any], AccessLevel]] = [
    ("dr_gw_status", {"gw_id": "gw1"}, {"gw_id": "gw1", "status": 0}, AccessLevel.WRITE),
    ("dr_gw_status", {}, {"partition_name": "p", "gw_id": "gw1", "status": 1}, AccessLevel.WRITE),
    (
        "dr_carrier_status",
        {"carrier_id": "c1"},
        {"carrier_id": "c1", "status": 0},
        AccessLevel.WRITE,
    ),
    ("lb_status", {"destination_id": 1}, {"destination_id": 1, "new_status": 0}, AccessLevel.WRITE),
    ("log_level", {}, {"level": 4}, AccessLevel.ADMIN),
    ("log_level", {}, {"level": 4, "pid": 1941}, AccessLevel.ADMIN),
    ("xlog_level", {}, {"level": 2}, AccessLevel.ADMIN),
    ("trace", {}, {"mode": "on"}, AccessLevel.WRITE),
    ("trace", {"id": "t1"}, {"id": "t1", "mode": "off"}, AccessLevel.WRITE),
    ("nh_enable_ping", {}, {"status": 1}, AccessLevel.WRITE),
    ("tcp_trace", {}, {"trace_mode": "on"}, AccessLevel.WRITE),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("command", "read_params", "write_params", "write_level"), GET_OR_SET)
async def test_get_or_set_command_reads_for_every_role_and_sets_only_when_the_role_allows(
    make_server: ServerFactory,
    fake_mi: FakeMI,
    role: Role,
    command: str,
    read_params: dict[str, Any],
    write_params: dict[str, Any],
    write_level: AccessLevel,
) -> None:
    server = make_server(role)
    async with Client(server) as client:
        read = await client.call_tool("mi_execute", {"command": command, "params": read_params})
        assert not read.is_error
        assert read.structured_content is not None
        assert read.structured_content["level"] == "read"
        assert fake_mi.count(command) == 1

        write = await client.call_tool("mi_execute", {"command": command, "params": write_params})
    if role.allows(write_level):
        assert not write.is_error
        assert write.structured_content is not None
        assert write.structured_content["level"] == write_level.value
        assert fake_mi.count(command) == 2
    else:
        assert error_code(write) == "permission_denied"
        assert fake_mi.count(command) == 1


def _mixed_level_commands() -> list[str]:
    catalog = load_catalog().for_version("3.6.8")  # what FakeMI offers
    return [e.name for e in catalog.entries() if len({r.level for r in e.recipes}) > 1]


@pytest.mark.parametrize("command", _mixed_level_commands())
async def test_every_catalogued_get_or_set_command_is_gated_per_recipe_for_a_viewer(
    make_server: ServerFactory, fake_mi: FakeMI, command: str
) -> None:
    entry = load_catalog().for_version("3.6.8").get(command)
    assert entry is not None
    server = make_server(Role.VIEWER)
    async with Client(server) as client:
        for recipe in entry.recipes:
            params = {name: "1" for name in recipe.params}
            before = fake_mi.count(command)
            result = await client.call_tool("mi_execute", {"command": command, "params": params})
            if recipe.level is AccessLevel.READ:
                assert not result.is_error, recipe
                assert fake_mi.count(command) == before + 1
            else:
                assert error_code(result) == "permission_denied", recipe
                assert fake_mi.count(command) == before


CARRIED_WRITES = [
    (
        "cluster_send_mi",
        {
            "cluster_id": 1,
            "destination": 2,
            "cmd_name": "ds_set_state",
            "cmd_params": ["i", "1", "sip:10.0.0.1"],
        },
    ),
    (
        "cluster_send_mi",
        {"cluster_id": 1, "destination": 2, "cmd_name": "dlg_end_dlg", "cmd_params": ["123"]},
    ),
    (
        "cluster_send_mi",
        {"cluster_id": 1, "destination": 2, "cmd_name": "log_level", "cmd_params": ["4"]},
    ),
    (
        "cluster_broadcast_mi",
        {"cluster_id": 1, "cmd_name": "ds_set_state", "cmd_params": ["i", "1", "sip:10.0.0.1"]},
    ),
    ("cluster_broadcast_mi", {"cluster_id": 1, "cmd_name": "uptime"}),
]


@pytest.mark.parametrize(("command", "params"), CARRIED_WRITES)
async def test_viewer_carrying_a_write_through_the_cluster_sends_nothing(
    make_server: ServerFactory,
    fake_mi: FakeMI,
    audit_path: Any,
    command: str,
    params: dict[str, Any],
) -> None:
    result = await call(
        make_server(Role.VIEWER), "mi_execute", {"command": command, "params": params}
    )
    assert error_code(result) == "permission_denied"
    assert fake_mi.count() == 0
    (record,) = audit_records(audit_path)
    assert (record["decision"], record["outcome"]) == ("deny", "denied")


async def test_operator_may_carry_a_write_to_one_node_but_not_a_destructive_one(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    server = make_server(Role.OPERATOR)
    async with Client(server) as client:
        ok = await client.call_tool(
            "mi_execute", {"command": "cluster_send_mi", "params": CARRIED_WRITES[0][1]}
        )
        refused = await client.call_tool(
            "mi_execute", {"command": "cluster_send_mi", "params": CARRIED_WRITES[1][1]}
        )
    assert not ok.is_error
    assert ok.structured_content is not None
    assert ok.structured_content["level"] == "write"
    assert error_code(refused) == "permission_denied"
    assert fake_mi.methods() == ["cluster_send_mi"]


async def test_viewer_may_carry_a_read_to_one_node(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    params = {"cluster_id": 1, "destination": 2, "cmd_name": "dlg_list"}
    result = await call(
        make_server(Role.VIEWER), "mi_execute", {"command": "cluster_send_mi", "params": params}
    )
    assert not result.is_error
    assert fake_mi.methods() == ["cluster_send_mi"]


async def test_unknown_carried_command_is_refused_before_anything_is_sent(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    params = {"cluster_id": 1, "destination": 2, "cmd_name": "lcr_reload"}
    result = await call(
        make_server(Role.ADMIN), "mi_execute", {"command": "cluster_send_mi", "params": params}
    )
    assert error_code(result) == "carried_command"
    assert fake_mi.count() == 0


@pytest.mark.parametrize(
    ("command", "params", "lowest_role"),
    [
        ("uptime", None, Role.VIEWER),
        ("ds_set_state", {"state": "i", "group": 1, "address": "sip:a"}, Role.OPERATOR),
        ("dlg_end_dlg", {"dialog_id": "1"}, Role.ADMIN),
        ("ul_rm", {"table_name": "location", "aor": "alice"}, Role.ADMIN),
        ("kill", None, Role.ADMIN),
        ("t_uac_dlg", {"method": "OPTIONS", "ruri": "sip:a", "headers": "X: y\r\n"}, Role.ADMIN),
    ],
)
@pytest.mark.parametrize("role", ROLES)
async def test_a_command_runs_exactly_for_the_roles_that_allow_its_level(
    make_server: ServerFactory,
    fake_mi: FakeMI,
    role: Role,
    command: str,
    params: dict[str, Any] | None,
    lowest_role: Role,
) -> None:
    args: dict[str, Any] = {"command": command}
    if params is not None:
        args["params"] = params
    result = await call(make_server(role), "mi_execute", args)
    allowed = ROLES.index(role) >= ROLES.index(lowest_role)
    if allowed:
        assert not result.is_error
        assert fake_mi.methods() == [command]
    else:
        assert error_code(result) == "permission_denied"
        assert fake_mi.count() == 0


async def test_read_only_forces_viewer_whatever_role_is_set(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    result = await call(
        make_server(Role.ADMIN, read_only=True),
        "mi_execute",
        {"command": "ds_set_state", "params": {"state": "i", "group": 1, "address": "sip:a"}},
    )
    assert error_code(result) == "permission_denied"
    assert fake_mi.count() == 0


async def test_positional_params_are_gated_at_the_highest_level_of_that_arity(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    # dr_gw_status with 2 positional values could be {gw_id, status} (write) or
    # {partition_name, gw_id} (read): the gate must assume the write.
    result = await call(
        make_server(Role.VIEWER), "mi_execute", {"command": "dr_gw_status", "params": ["gw1", "0"]}
    )
    assert error_code(result) == "permission_denied"
    assert fake_mi.count() == 0
