"""The simulated cluster against two real OpenSIPS 3.6.8 nodes
(``captures/opensips-3.6.8/cluster/``): the same answer shapes, and link states that change
no later than the real nodes' did."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from opensips_sim.clock import Clock
from opensips_sim.cluster import SimulatedCluster
from tests.captures import version_dir

from .rawhttp import call

CLUSTER = version_dir("3.6.8") / "cluster"
ANSWERS: dict[str, Any] = json.loads((CLUSTER / "answers.json").read_text())
TIMINGS: dict[str, Any] = json.loads((CLUSTER / "timings.json").read_text())
START = 1_795_000_000.0


def shape(value: Any) -> Any:
    """Keys, nesting and JSON types of ``value`` (lists by their first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture
async def pair() -> AsyncIterator[SimulatedCluster]:
    nodes = SimulatedCluster(2, "quiet", seed=1, clock=Clock(START, frozen=True))
    await nodes.start("127.0.0.1", 0)
    try:
        yield nodes
    finally:
        await nodes.close()


async def link_of(cluster: SimulatedCluster, node: int) -> str:
    answer = await call(cluster.ports[node], "clusterer_list")
    (peer,) = answer["result"]["Clusters"][0]["Nodes"]
    return str(peer["link_state"])


@pytest.mark.parametrize("name", sorted(ANSWERS))
async def test_each_node_answers_in_the_shape_of_a_real_node(
    pair: SimulatedCluster, name: str
) -> None:
    node, method = name.split("/")
    answer = await call(pair.ports[int(node.removeprefix("node"))], method)
    assert shape(answer["result"]) == shape(ANSWERS[name]["response"]["result"])


async def test_capability_items_carry_name_state_and_enabled_as_real_ones(
    pair: SimulatedCluster,
) -> None:
    real = ANSWERS["node1/clusterer_list_cap"]["response"]["result"]["Clusters"][0]
    answer = await call(pair.ports[1], "clusterer_list_cap")
    caps = answer["result"]["Clusters"][0]["Capabilities"]
    assert {c["name"] for c in caps} == {c["name"] for c in real["Capabilities"]}
    assert all(set(c) == {"name", "state", "enabled"} for c in caps)


@pytest.mark.parametrize("fault", ["peer_killed", "peer_disabled_itself"])
async def test_a_lost_peer_is_probe_then_down_no_later_than_on_real_nodes(
    pair: SimulatedCluster, fault: str
) -> None:
    seen = TIMINGS[fault]
    if fault == "peer_killed":
        await pair.apply({"node_id": 2, "fault": "down"})
    else:
        await call(pair.ports[2], "clusterer_set_status", {"cluster_id": 1, "status": 0})
        assert await link_of(pair, 2) == "Down", "its own view is Down at once"
    # real nodes notice at their next ping: at most one ping interval plus the timeout
    latest_probe = TIMINGS["ping_interval_s"] + TIMINGS["ping_timeout_s"]
    assert seen["probe_after_s"] <= latest_probe + 0.5
    pair.clock.advance(latest_probe)
    assert await link_of(pair, 1) == "Probe"
    retries = TIMINGS["no_ping_retries"] * TIMINGS["ping_timeout_s"]
    assert seen["down_after_s"] - seen["probe_after_s"] <= retries + 0.5
    pair.clock.advance(retries)
    assert await link_of(pair, 1) == "Down"


async def test_a_restarted_peer_is_up_again_within_one_ping_interval(
    pair: SimulatedCluster,
) -> None:
    await pair.apply({"node_id": 2, "fault": "down"})
    pair.clock.advance(60)
    assert await link_of(pair, 1) == "Down"
    await pair.apply({"node_id": 2, "fault": "up"})
    assert TIMINGS["peer_restarted"]["up_after_s"] <= TIMINGS["ping_interval_s"]
    pair.clock.advance(TIMINGS["ping_interval_s"])
    assert await link_of(pair, 1) == "Up"
