"""Fleets: one server over the nodes of a simulated cluster (``opensips-sim --nodes 3``).

Every tool takes ``instance``; the gate caps the caller's role by the instance's
``max_role``; audit records name the instance; the fleet tools ask every instance
concurrently, each under its own timeout."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.gate import Role
from opensips_mcp.instances import InstanceConfig
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings, SettingsError, load_settings
from opensips_sim.clock import Clock
from opensips_sim.cluster import SimulatedCluster
from opensips_sim.simulator import Settings as SimSettings

from .conftest import CAPTURE_EPOCH
from .helpers import FAST_MI, content, error_code

FLEET_TIMEOUT = 1.0


@pytest.fixture
async def cluster() -> AsyncIterator[SimulatedCluster]:
    nodes = SimulatedCluster(
        3,
        "quiet",
        seed=1,
        clock=Clock(CAPTURE_EPOCH, frozen=True),
        settings=SimSettings(idle_timeout=5),
    )
    await nodes.start("127.0.0.1", 0)
    try:
        yield nodes
    finally:
        await nodes.close()


def fleet_server(
    cluster: SimulatedCluster, tmp_path: Path, role: Role = Role.ADMIN, **caps: Role
) -> OpenSIPSMCP:
    instances = tuple(
        InstanceConfig(
            name=f"node{node}",
            mi_url=cluster.url(node),
            max_role=caps.get(f"node{node}"),
            labels={"site": "sim", "kind": "edge" if node == 1 else "core"},
            cluster_node_id=node,
        )
        for node in cluster.node_ids
    )
    settings = Settings(
        role=role,
        instances=instances,
        default_instance="node1",
        audit_log=tmp_path / "audit.jsonl",
        fleet_timeout=FLEET_TIMEOUT,
        **FAST_MI,
    )
    return build_server(settings)


def audit_records(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "call"]


def bin_or_mi(cluster: SimulatedCluster, node: int, method: str) -> int:
    return sum(
        1
        for e in cluster.sims[node].journal.entries()
        if e["method"] == method and e["http_method"] == "POST"
    )


async def test_every_tool_takes_an_instance_and_it_reaches_that_node(
    cluster: SimulatedCluster, tmp_path: Path
) -> None:
    server = fleet_server(cluster, tmp_path)
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for name, tool in tools.items():
            if not name.startswith("fleet_"):
                assert "instance" in tool.input_schema["properties"], name
        content(await client.call_tool("opensips_status", {"instance": "node3"}))
    assert bin_or_mi(cluster, 3, "uptime") == 1
    assert bin_or_mi(cluster, 1, "uptime") == bin_or_mi(cluster, 2, "uptime") == 0
    (record,) = audit_records(tmp_path)
    assert record["instance"] == "node3"


async def test_opensips_health_names_the_url_of_the_instance_it_checked(
    cluster: SimulatedCluster, tmp_path: Path
) -> None:
    server = fleet_server(cluster, tmp_path)
    async with Client(server) as client:
        third = content(await client.call_tool("opensips_health", {"instance": "node3"}))
        default = content(await client.call_tool("opensips_health", {}))
    assert (third["reachable"], third["mi_url"]) == (True, cluster.url(3))
    assert default["mi_url"] == cluster.url(1)  # default_instance, not the --mi-url default


async def test_an_unknown_instance_is_refused_and_nothing_is_sent(
    cluster: SimulatedCluster, tmp_path: Path
) -> None:
    server = fleet_server(cluster, tmp_path)
    async with Client(server) as client:
        answer = await client.call_tool("opensips_status", {"instance": "node9"})
    assert error_code(answer) == "unknown_instance"
    assert all(len(sim.journal.entries()) == 0 for sim in cluster.sims.values())


async def test_an_instance_cap_limits_every_caller_and_sends_nothing_when_refused(
    cluster: SimulatedCluster, tmp_path: Path
) -> None:
    server = fleet_server(cluster, tmp_path, Role.ADMIN, node2=Role.VIEWER)
    change = {"cluster_id": 1, "enabled": False}
    async with Client(server) as client:
        refused = await client.call_tool("cluster_set_node_status", {**change, "instance": "node2"})
        allowed = await client.call_tool("cluster_set_node_status", {**change, "instance": "node3"})
    assert error_code(refused) == "permission_denied"
    assert not any(e["level"] == "write" for e in cluster.sims[2].journal.entries())
    assert error_code(allowed) is None
    records = audit_records(tmp_path)
    assert [(r["instance"], r["role"], r["outcome"]) for r in records] == [
        ("node2", "viewer", "denied"),
        ("node3", "admin", "ok"),
    ]


async def test_fleet_status_reports_every_instance_and_a_dead_one_costs_its_timeout(
    cluster: SimulatedCluster, tmp_path: Path
) -> None:
    server = fleet_server(cluster, tmp_path, Role.VIEWER)
    await cluster.apply({"node_id": 2, "fault": "slow", "seconds": 5})
    started = time.monotonic()
    async with Client(server) as client:
        status = content(await client.call_tool("fleet_status", {}))
    elapsed = time.monotonic() - started
    rows = {row["instance"]: row for row in status["instances"]}
    assert rows["node1"]["reachable"] and rows["node3"]["reachable"]
    assert rows["node2"]["error"]["code"] == "timeout"
    assert (status["reachable"], status["unreachable"]) == (2, 1)
    assert rows["node1"]["version"].startswith("OpenSIPS (3.6")
    assert rows["node1"]["cluster_links_up"] == 2
    assert rows["node1"]["cluster_links_not_up"] == []
    assert rows["node1"]["labels"] == {"site": "sim", "kind": "edge"}
    # the slow node costs its own timeout, not one per command or per instance
    assert elapsed < FLEET_TIMEOUT * 3


async def test_fleet_find_registration_and_call_name_the_instances_holding_them(
    cluster: SimulatedCluster, tmp_path: Path
) -> None:
    await cluster.apply({"node_id": 1, "fault": "partition", "peer": 3})
    cluster.clock.advance(60)
    for sim in cluster.sims.values():
        sim.world.tick()
    operator = fleet_server(cluster, tmp_path, Role.OPERATOR)
    contact = "sip:zed@127.0.0.1:5099"
    params = {
        "table_name": "location",
        "aor": "zed",
        "contact": contact,
        "expires": 600,
        "q": "1",
        "flags": 0,
        "cflags": 0,
        "methods": 4294967295,
    }
    async with Client(operator) as client:
        added = await client.call_tool(
            "mi_execute", {"command": "ul_add", "params": params, "instance": "node1"}
        )
        assert error_code(added) is None
        found = content(await client.call_tool("fleet_find_registration", {"aor": "zed"}))
        nobody = content(await client.call_tool("fleet_find_call", {"callid": "no-such-call"}))
        status = content(await client.call_tool("fleet_status", {"instances": ["node1"]}))
    (node1,) = status["instances"]
    assert node1["cluster_links_up"] == 1
    assert [
        (link["node_id"], link["instance"], link["link_state"])
        for link in node1["cluster_links_not_up"]
    ] == [(3, "node3", "Down")]
    assert found["holders"] == ["node1", "node2"]
    assert nobody["holders"] == []
    assert len(nobody["instances"]) == 3


def test_instances_come_from_the_config_file_and_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "fleet.toml"
    config.write_text(
        'default_instance = "edge-2"\n'
        "[instances.edge-1]\n"
        'mi_url = "http://127.0.0.1:9001/mi"\n'
        'max_role = "viewer"\n'
        'labels = { site = "fra", kind = "edge" }\n'
        "cluster_node_id = 1\n"
        "[instances.edge-2]\n"
        'mi_url = "http://127.0.0.1:9002/mi"\n'
    )
    settings = load_settings({"config": str(config)}, env={})
    assert [i.name for i in settings.fleet] == ["edge-1", "edge-2"]
    assert settings.default_instance_name == "edge-2"
    first = settings.fleet[0]
    assert (first.max_role, first.cluster_node_id, dict(first.labels)) == (
        Role.VIEWER,
        1,
        {"site": "fra", "kind": "edge"},
    )
    cli = load_settings(
        {"instances": ["a=http://127.0.0.1:1/mi", "b=http://127.0.0.1:2/mi"]}, env={}
    )
    assert [(i.name, i.mi_url) for i in cli.fleet] == [
        ("a", "http://127.0.0.1:1/mi"),
        ("b", "http://127.0.0.1:2/mi"),
    ]
    alone = load_settings({"mi_url": "http://127.0.0.1:3/mi"}, env={})
    assert [(i.name, i.mi_url) for i in alone.fleet] == [("default", "http://127.0.0.1:3/mi")]


@pytest.mark.parametrize(
    ("cli", "setting"),
    [
        ({"instances": ["a=ftp://x/mi"]}, "instances"),
        ({"instances": ["a=http://127.0.0.1:1/mi", "a=http://127.0.0.1:2/mi"]}, "instances"),
        ({"instances": ["bad name=http://127.0.0.1:1/mi"]}, "instances"),
        ({"instances": ["a=http://127.0.0.1:1/mi"], "default_instance": "b"}, "default_instance"),
    ],
)
def test_a_bad_fleet_configuration_names_the_setting(cli: dict[str, Any], setting: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(cli, env={})
    assert caught.value.name == setting


async def test_one_instance_keeps_the_tool_list_as_it_was(tmp_path: Path) -> None:
    server = build_server(Settings(audit_log=tmp_path / "a.jsonl", role=Role.ADMIN))
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    assert not any("instance" in t.input_schema.get("properties", {}) for t in tools)
    assert not {t.name for t in tools} & FLEET_TOOLS


#: role -> (tools listed with 3 instances, most bytes of tools/list): the single-instance
#: lists (tests/toolsets/test_listing.py) plus the 3 fleet tools and an 'instance' argument.
FLEET_BUDGET = {
    Role.VIEWER: (19, 60_000),
    Role.OPERATOR: (30, 82_500),
    Role.ADMIN: (33, 89_500),
}
FLEET_TOOLS = {"fleet_status", "fleet_find_registration", "fleet_find_call"}


@pytest.mark.parametrize("role", list(Role))
async def test_a_fleet_lists_the_fleet_tools_and_stays_within_its_pinned_bytes(
    role: Role, cluster: SimulatedCluster, tmp_path: Path
) -> None:
    async with Client(fleet_server(cluster, tmp_path, role)) as client:
        listed = await client.list_tools()
    size = len(listed.model_dump_json(by_alias=True, exclude_none=True).encode())
    count, most = FLEET_BUDGET[role]
    assert {t.name for t in listed.tools} >= FLEET_TOOLS
    assert (len(listed.tools), size <= most) == (count, True), size
