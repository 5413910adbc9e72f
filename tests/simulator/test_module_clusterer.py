"""clusterer: listings, node states, sharing tags, and MI commands run on peer worlds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opensips_sim import errors
from opensips_sim.registry import PartialFailure
from opensips_sim.state.cfgutils import CfgutilsState
from opensips_sim.state.clusterer import ClustererState
from opensips_sim.world import World

from .module_helpers import call, captured_result, captured_world, fails, level, make_world


def peer_vars(value: int) -> dict[str, Any]:
    return {"cfgutils": {"shared_vars": [{"name": "mode", "type": "integer", "value": value}]}}


def cluster_world(**node2: Any) -> World:
    """Node 1 in cluster 1 with peers 2 (Up), 3 (Up) and 4 (Probe), all with ``$shv(mode)``."""
    return make_world(
        cfgutils=peer_vars(1)["cfgutils"],
        clusterer={
            "node_id": 1,
            "clusters": [
                {
                    "cluster_id": 1,
                    "nodes": [
                        {"node_id": 2, "state": peer_vars(2), "neighbours": [3], **node2},
                        {"node_id": 3, "state": peer_vars(3), "neighbours": [2]},
                        {"node_id": 4, "link_state": "Probe", "state": peer_vars(4)},
                    ],
                    "capabilities": [
                        {"name": "dialog-dlg-repl", "synced": True},
                        {"name": "usrloc-contact-repl", "synced": False},
                    ],
                    "sharing_tags": [{"tag": "vip", "state": "backup"}],
                },
                {"cluster_id": 2, "nodes": [{"node_id": 3}]},
            ],
        },
    )


def mode(world: World) -> Any:
    return world.get(CfgutilsState).vars["mode"].value


def modes(world: World) -> dict[int, Any]:
    state = world.get(ClustererState)
    return {1: mode(world), **{n: mode(p) for n, p in sorted(state.peers.items())}}


def set_mode(value: str) -> dict[str, Any]:
    return {"cmd_name": "shv_set", "cmd_params": ["mode", "int", value]}


def test_clusterer_list_answers_exactly_what_the_real_server_answered() -> None:
    assert call(captured_world(), "clusterer_list") == captured_result("clusterer_list")


def test_topology_answers_exactly_what_the_real_server_answered() -> None:
    expected = captured_result("clusterer_list_topology")
    assert call(captured_world(), "clusterer_list_topology") == expected


def test_without_a_section_there_are_no_clusters() -> None:
    world = make_world()
    assert call(world, "clusterer_list") == {"Clusters": []}
    assert call(world, "clusterer_list_shtags") == []


def test_list_shows_reachable_nodes_as_their_own_next_hop() -> None:
    nodes = call(cluster_world(), "clusterer_list")["Clusters"][0]["Nodes"]
    assert [(n["node_id"], n["link_state"], n["next_hop"]) for n in nodes] == [
        (2, "Up", "2"),
        (3, "Up", "3"),
        (4, "Probe", "none"),
    ]
    assert nodes[0]["description"] == "none"


def test_topology_lists_this_node_first_and_links_of_reachable_nodes() -> None:
    topology = call(cluster_world(), "clusterer_list_topology")["Clusters"][0]["Nodes"]
    assert topology == [
        {"node_id": 1, "Neighbours": [2, 3]},
        {"node_id": 2, "Neighbours": [3, 1]},
        {"node_id": 3, "Neighbours": [2, 1]},
        {"node_id": 4, "Neighbours": []},
    ]


def test_capabilities_show_their_sync_state() -> None:
    clusters = call(cluster_world(), "clusterer_list_cap")["Clusters"]
    assert clusters[0] == {
        "cluster_id": 1,
        "Capabilities": [
            {"name": "dialog-dlg-repl", "state": "Ok", "enabled": "yes"},
            {"name": "usrloc-contact-repl", "state": "not synced", "enabled": "yes"},
        ],
    }


def test_disabling_a_peer_shows_it_down_and_enabling_brings_it_back() -> None:
    world = cluster_world()
    args = {"cluster_id": 1, "node_id": 2, "status": 0}
    assert call(world, "clusterer_set_status", args) == "OK"
    node = call(world, "clusterer_list")["Clusters"][0]["Nodes"][0]
    assert (node["link_state"], node["state"], node["next_hop"]) == ("Down", "disabled", "none")
    call(world, "clusterer_set_status", {**args, "status": 1})
    node = call(world, "clusterer_list")["Clusters"][0]["Nodes"][0]
    assert (node["link_state"], node["state"]) == ("Up", "enabled")


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"cluster_id": 0, "status": 0}, 400, "Bad value for 'cluster_id'"),
        ({"cluster_id": 1, "status": 2}, 400, "Bad value for 'status'"),
        ({"cluster_id": 9, "status": 0}, 404, "Cluster id not found"),
        ({"cluster_id": 1, "node_id": 9, "status": 0}, 404, "Node id not found"),
    ],
)
def test_set_status_errors(params: dict[str, Any], code: int, message: str) -> None:
    err = fails(cluster_world(), "clusterer_set_status", params)
    assert (err.code, err.message) == (code, message)


def test_send_mi_runs_the_command_on_the_peer_only() -> None:
    world = cluster_world()
    args = {"cluster_id": 1, "destination": 2, **set_mode("20")}
    assert call(world, "cluster_send_mi", args) == "OK"
    assert modes(world) == {1: 1, 2: 20, 3: 3, 4: 4}


def test_send_mi_without_cmd_params_runs_the_command_without_params() -> None:
    world = cluster_world()
    call(world, "cluster_send_mi", {"cluster_id": 1, "destination": 3, **set_mode("5")})
    args = {"cluster_id": 1, "destination": 3, "cmd_name": "lb_reload"}
    assert call(world, "cluster_send_mi", args) == "OK"
    assert modes(world)[3] == 5


def test_send_mi_answers_ok_even_when_the_command_fails_on_the_peer() -> None:
    world = cluster_world()
    args = {"cluster_id": 1, "destination": 2, "cmd_name": "shv_get", "cmd_params": ["nope"]}
    assert call(world, "cluster_send_mi", args) == "OK"


def test_a_named_only_command_is_not_run_on_the_peer() -> None:
    world = cluster_world(
        state={
            **peer_vars(2),
            "drouting": {"gateways": [{"id": "gw1", "address": "10.0.0.1"}]},
        }
    )
    args = {
        "cluster_id": 1,
        "destination": 2,
        "cmd_name": "dr_gw_status",
        "cmd_params": ["gw1", "0"],
    }
    assert call(world, "cluster_send_mi", args) == "OK"
    peer = world.get(ClustererState).peers[2]
    assert call(peer, "dr_gw_status", {"gw_id": "gw1"}) == {"State": "Active"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"cluster_id": 0, "destination": 2}, "Bad value for 'cluster_id'"),
        ({"cluster_id": 1, "destination": 0}, "Bad value for 'destination'"),
        ({"cluster_id": 1, "destination": 1}, "Local node specified as destination"),
        ({"cluster_id": 1, "destination": 4}, "Destination down"),
        ({"cluster_id": 1, "destination": 9}, "Send error"),
        ({"cluster_id": 7, "destination": 2}, "Send error"),
    ],
)
def test_send_mi_errors(params: dict[str, Any], message: str) -> None:
    world = cluster_world()
    err = fails(world, "cluster_send_mi", {**params, **set_mode("99")})
    assert (err.code, err.message) == (400, message)
    assert 99 not in modes(world).values()


def test_send_mi_to_a_disabled_peer_is_destination_down() -> None:
    world = cluster_world()
    call(world, "clusterer_set_status", {"cluster_id": 1, "node_id": 2, "status": 0})
    err = fails(world, "cluster_send_mi", {"cluster_id": 1, "destination": 2, **set_mode("9")})
    assert (err.code, err.message) == (400, "Destination down")


def test_a_disabled_local_node_sends_nothing() -> None:
    world = cluster_world()
    call(world, "clusterer_set_status", {"cluster_id": 1, "status": 0})
    args = {"cluster_id": 1, "destination": 2, **set_mode("9")}
    assert call(world, "cluster_send_mi", args) == "Local node disabled"
    assert modes(world)[2] == 2


def test_cmd_params_that_is_not_an_array_is_a_type_error() -> None:
    args = {"cluster_id": 1, "destination": 2, "cmd_name": "shv_get", "cmd_params": "mode"}
    err = fails(cluster_world(), "cluster_send_mi", args)
    assert (err.code, err.data) == (errors.INVALID_PARAMS, "Bad type for parameter 'cmd_params'")


def test_broadcast_runs_on_every_reachable_peer_and_here_and_answers_with_ours() -> None:
    world = cluster_world()
    assert call(world, "cluster_broadcast_mi", {"cluster_id": 1, **set_mode("7")}) == "OK"
    assert modes(world) == {1: 7, 2: 7, 3: 7, 4: 4}
    args = {"cluster_id": 1, "cmd_name": "shv_get", "cmd_params": ["mode"]}
    assert call(world, "cluster_broadcast_mi", args) == {"VAR": {"type": "integer", "value": 7}}


def test_broadcast_answers_with_the_local_error() -> None:
    args = {"cluster_id": 1, "cmd_name": "shv_get", "cmd_params": ["nope"]}
    err = fails(cluster_world(), "cluster_broadcast_mi", args)
    assert (err.code, err.message) == (404, "Not found")


def test_broadcast_of_an_unknown_command_is_refused_here() -> None:
    err = fails(cluster_world(), "cluster_broadcast_mi", {"cluster_id": 1, "cmd_name": "nope"})
    assert (err.code, err.message) == (400, "Command to be run not found")


def test_broadcast_to_an_unknown_cluster_still_runs_here() -> None:
    world = cluster_world()
    call(world, "cluster_broadcast_mi", {"cluster_id": 5, **set_mode("8")})
    assert modes(world) == {1: 8, 2: 2, 3: 3, 4: 4}


@pytest.mark.parametrize(
    ("partial", "applied", "expected"),
    [
        (0, 0, {1: 1, 2: 2, 3: 3, 4: 4}),
        (1, 1, {1: 1, 2: 9, 3: 3, 4: 4}),
        (2, 2, {1: 1, 2: 9, 3: 9, 4: 4}),
        (3, 3, {1: 9, 2: 9, 3: 9, 4: 4}),
    ],
)
def test_a_partial_broadcast_changes_exactly_the_first_targets(
    partial: int, applied: int, expected: dict[int, int]
) -> None:
    world = cluster_world()
    with pytest.raises(PartialFailure) as caught:
        call(world, "cluster_broadcast_mi", {"cluster_id": 1, **set_mode("9")}, partial=partial)
    assert caught.value.applied == applied
    assert modes(world) == expected


@pytest.mark.parametrize(
    ("carried", "send_level", "broadcast_level"),
    [
        ({"cmd_name": "shv_get", "cmd_params": ["mode"]}, "read", "write"),
        ({"cmd_name": "lb_list"}, "read", "write"),
        ({"cmd_name": "shv_set", "cmd_params": ["m", "int", "1"]}, "write", "write"),
        ({"cmd_name": "t_uac_cancel", "cmd_params": ["callid", "1"]}, "destructive", "destructive"),
        ({"cmd_name": "no_such_command"}, "read", "write"),
        ({"cmd_name": "shv_set", "cmd_params": ["too", "few"]}, "read", "write"),
    ],
)
def test_carrying_commands_take_the_carried_level_and_a_broadcast_at_least_write(
    carried: dict[str, Any], send_level: str, broadcast_level: str
) -> None:
    assert level("cluster_send_mi", {"cluster_id": 1, "destination": 2, **carried}) == send_level
    assert level("cluster_broadcast_mi", {"cluster_id": 1, **carried}) == broadcast_level


def test_sharing_tags_are_listed_as_an_array() -> None:
    assert call(cluster_world(), "clusterer_list_shtags") == [
        {"Tag": "vip", "Cluster": 1, "State": "backup"}
    ]


def test_activating_a_tag_makes_it_active_here_and_backup_on_reachable_peers() -> None:
    peer_tags = {
        "clusters": [{"cluster_id": 1, "sharing_tags": [{"tag": "vip", "state": "active"}]}]
    }
    world = cluster_world(state={**peer_vars(2), "clusterer": peer_tags})
    assert call(world, "clusterer_shtag_set_active", {"tag": " vip / 1 "}) == "OK"
    assert call(world, "clusterer_list_shtags")[0]["State"] == "active"
    peer = world.get(ClustererState).peers[2]
    assert call(peer, "clusterer_list_shtags") == [{"Tag": "vip", "Cluster": 1, "State": "backup"}]


def test_activating_an_unknown_tag_creates_it() -> None:
    world = cluster_world()
    call(world, "clusterer_shtag_set_active", {"tag": "new/1"})
    assert {"Tag": "new", "Cluster": 1, "State": "active"} in call(world, "clusterer_list_shtags")


@pytest.mark.parametrize(
    ("tag", "code", "message"),
    [
        ("vip", 400, "Bad tag format <name/cluster_id>"),
        ("vip/x", 400, "Bad cluster ID in tag"),
        ("vip/9", 404, "Cluster ID not found"),
    ],
)
def test_tag_errors(tag: str, code: int, message: str) -> None:
    err = fails(cluster_world(), "clusterer_shtag_set_active", {"tag": tag})
    assert (err.code, err.message) == (code, message)


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("clusterer_list", None, "read"),
        ("clusterer_list_topology", None, "read"),
        ("clusterer_list_shtags", None, "read"),
        ("clusterer_list_cap", None, "read"),
        ("clusterer_set_status", {"cluster_id": 1, "status": 1}, "write"),
        ("clusterer_set_status", {"cluster_id": 1, "node_id": 2, "status": 1}, "write"),
        ("clusterer_shtag_set_active", {"tag": "vip/1"}, "write"),
    ],
)
def test_levels(method: str, params: dict[str, Any] | None, expected: str) -> None:
    assert level(method, params) == expected


def test_snapshot_is_json_with_every_peer_state() -> None:
    world = cluster_world()
    call(world, "cluster_send_mi", {"cluster_id": 1, "destination": 2, **set_mode("42")})
    snap = json.loads(json.dumps(world.get(ClustererState).snapshot()))
    assert snap["peers"]["2"]["cfgutils"]["shared_vars"][0]["value"] == 42
    assert [n["node_id"] for n in snap["clusters"][0]["nodes"]] == [2, 3, 4]


def test_peers_live_on_the_same_clock() -> None:
    world = cluster_world()
    peer = world.get(ClustererState).peers[3]
    world.clock.advance(30)
    assert peer.clock.now() == world.clock.now()
