"""A simulated clusterer cluster (``opensips-sim --nodes N``): nodes that agree on the
cluster, notice each other's faults after the ping interval, run carried commands for real
and replicate dialogs and registrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from opensips_sim.clock import Clock
from opensips_sim.cluster import PING_INTERVAL, SimulatedCluster
from opensips_sim.simulator import Settings
from opensips_sim.state.dialog import DialogState

from .rawhttp import call

START = 1_795_000_000.0


@pytest.fixture
async def cluster() -> AsyncIterator[SimulatedCluster]:
    nodes = SimulatedCluster(
        3, "quiet", seed=1, clock=Clock(START, frozen=True), settings=Settings(idle_timeout=2)
    )
    await nodes.start("127.0.0.1", 0)
    try:
        yield nodes
    finally:
        await nodes.close()


async def mi(cluster: SimulatedCluster, node: int, method: str, params: Any = None) -> Any:
    answer = await call(cluster.ports[node], method, params)
    assert "error" not in answer, answer
    return answer["result"]


async def control(cluster: SimulatedCluster, node: int, body: Any = None) -> Any:
    """``POST /sim/cluster`` with ``body``, or ``GET`` without one, on node ``node``."""
    url = f"http://127.0.0.1:{cluster.ports[node]}/sim/cluster"
    async with httpx.AsyncClient(timeout=5.0) as client:
        answer = await (client.get(url) if body is None else client.post(url, json=body))
    assert answer.status_code == 200, answer.text
    return answer.json()


def links(listing: Any) -> dict[int, str]:
    (only,) = listing["Clusters"]
    return {node["node_id"]: node["link_state"] for node in only["Nodes"]}


def advance(cluster: SimulatedCluster, seconds: float) -> None:
    cluster.clock.advance(seconds)
    for sim in cluster.sims.values():
        sim.world.tick()


async def test_every_node_lists_the_others_and_all_agree(cluster: SimulatedCluster) -> None:
    views = {node: links(await mi(cluster, node, "clusterer_list")) for node in (1, 2, 3)}
    assert views == {1: {2: "Up", 3: "Up"}, 2: {1: "Up", 3: "Up"}, 3: {1: "Up", 2: "Up"}}


async def test_a_stopped_node_refuses_and_its_peers_see_probe_then_down(
    cluster: SimulatedCluster,
) -> None:
    await control(cluster, 1, {"node_id": 2, "fault": "down"})
    with pytest.raises(OSError):
        await call(cluster.ports[2], "uptime")
    assert links(await mi(cluster, 1, "clusterer_list"))[2] == "Up", "not noticed yet"
    advance(cluster, PING_INTERVAL)
    assert links(await mi(cluster, 1, "clusterer_list"))[2] == "Probe"
    advance(cluster, PING_INTERVAL * 3)
    assert links(await mi(cluster, 3, "clusterer_list"))[2] == "Down"
    await control(cluster, 3, {"node_id": 2, "fault": "up"})
    advance(cluster, PING_INTERVAL)
    assert links(await mi(cluster, 1, "clusterer_list"))[2] == "Up"
    assert links(await mi(cluster, 2, "clusterer_list")) == {1: "Up", 3: "Up"}


async def test_a_partition_cuts_only_the_link_between_its_two_nodes(
    cluster: SimulatedCluster,
) -> None:
    await control(cluster, 2, {"node_id": 1, "fault": "partition", "peer": 3})
    advance(cluster, PING_INTERVAL * 4)
    assert links(await mi(cluster, 1, "clusterer_list")) == {2: "Up", 3: "Down"}
    assert links(await mi(cluster, 3, "clusterer_list")) == {1: "Down", 2: "Up"}
    assert links(await mi(cluster, 2, "clusterer_list")) == {1: "Up", 3: "Up"}


async def test_a_node_that_disables_itself_is_down_at_once_here_and_later_for_peers(
    cluster: SimulatedCluster,
) -> None:
    await mi(cluster, 2, "clusterer_set_status", {"cluster_id": 1, "status": 0})
    assert links(await mi(cluster, 2, "clusterer_list")) == {1: "Down", 3: "Down"}
    assert links(await mi(cluster, 1, "clusterer_list"))[2] == "Up"
    advance(cluster, PING_INTERVAL * 4)
    assert links(await mi(cluster, 1, "clusterer_list"))[2] == "Down"


async def test_cluster_send_mi_runs_the_command_on_the_peer_and_journals_it_there(
    cluster: SimulatedCluster,
) -> None:
    answer = await mi(
        cluster,
        1,
        "cluster_send_mi",
        {
            "cluster_id": 1,
            "destination": 2,
            "cmd_name": "ul_rm",
            "cmd_params": ["location", "alice"],
        },
    )
    assert answer == "OK"
    carried = [e for e in cluster.sims[2].journal.entries() if e["http_method"] == "BIN"]
    assert [(e["method"], e["params"], e["applied"]) for e in carried] == [
        ("ul_rm", ["location", "alice"], True)
    ]
    assert not [e for e in cluster.sims[3].journal.entries() if e["http_method"] == "BIN"]


async def test_a_registration_made_on_one_node_is_visible_on_its_peers(
    cluster: SimulatedCluster,
) -> None:
    contact = "sip:erin@127.0.0.1:5090"
    await mi(cluster, 1, "ul_add", ["location", "erin", contact, 600, "1", 0, 0, 4294967295])
    for node in (2, 3):
        shown = await mi(cluster, node, "ul_show_contact", ["location", "erin"])
        assert [c["Contact"] for c in shown["Contacts"]] == [contact]
    await mi(cluster, 3, "ul_rm", ["location", "erin"])
    answer = await call(cluster.ports[1], "ul_show_contact", ["location", "erin"])
    assert answer["error"]["code"] == 404


async def test_a_partitioned_node_misses_changes_until_the_link_is_back(
    cluster: SimulatedCluster,
) -> None:
    await control(cluster, 1, {"node_id": 1, "fault": "partition", "peer": 3})
    advance(cluster, PING_INTERVAL * 4)
    await mi(
        cluster,
        1,
        "ul_add",
        ["location", "dave", "sip:dave@127.0.0.1:5091", 600, "1", 0, 0, 4294967295],
    )
    missed = await call(cluster.ports[3], "ul_show_contact", ["location", "dave"])
    assert missed["error"]["code"] == 404
    await control(cluster, 1, {"node_id": 1, "fault": "heal", "peer": 3})
    advance(cluster, PING_INTERVAL)
    await mi(cluster, 3, "ul_show_contact", ["location", "dave"])


async def test_calls_replicate_and_end_on_every_node(cluster: SimulatedCluster) -> None:
    before = {node: len((await mi(cluster, node, "dlg_list"))["Dialogs"]) for node in (1, 2, 3)}
    state = cluster.sims[1].world.get(DialogState)
    dialog = state.start_call("alice", "bob", callid="repl-1@127.0.0.1", at=START, links={})
    cluster.replicate()
    for node in (2, 3):
        listed = (await mi(cluster, node, "dlg_list"))["Dialogs"]
        assert len(listed) == before[node] + 1
        assert "repl-1@127.0.0.1" in {d["callid"] for d in listed}
    await mi(cluster, 2, "dlg_end_dlg", {"dialog_id": dialog.did})
    for node in (1, 3):
        listed = (await mi(cluster, node, "dlg_list"))["Dialogs"]
        assert "repl-1@127.0.0.1" not in {d["callid"] for d in listed}


async def test_a_sharing_tag_is_active_on_exactly_one_node_and_moves(
    cluster: SimulatedCluster,
) -> None:
    async def active() -> list[int]:
        out = []
        for node in (1, 2, 3):
            tags = await mi(cluster, node, "clusterer_list_shtags")
            if any(t["Tag"] == "vip" and t["State"] == "active" for t in tags):
                out.append(node)
        return out

    assert await active() == [1]
    await mi(cluster, 3, "clusterer_shtag_set_active", {"tag": "vip/1"})
    assert await active() == [3]


async def test_the_cluster_control_api_refuses_a_bad_node_fault_or_peer(
    cluster: SimulatedCluster,
) -> None:
    url = f"http://127.0.0.1:{cluster.ports[1]}/sim/cluster"
    async with httpx.AsyncClient(timeout=5.0) as client:
        for bad in ({"node_id": 9, "fault": "down"}, {"node_id": 1, "fault": "explode"}):
            assert (await client.post(url, json=bad)).status_code == 400
        assert (
            await client.post(url, json={"node_id": 1, "fault": "heal", "peer": 1})
        ).status_code == 400
    described = await control(cluster, 1)
    assert [n["node_id"] for n in described["nodes"]] == [1, 2, 3]
