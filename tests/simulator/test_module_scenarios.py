"""The module sections of the built-in scenarios: ``quiet`` answers what the captured server
answered, ``lively`` moves, ``large`` stays quick to load."""

from __future__ import annotations

import importlib
import json
import pkgutil
import time
from importlib import resources
from typing import Any

import pytest

import opensips_sim.state
from opensips_sim.clock import Clock
from opensips_sim.state.clusterer import ClustererState
from opensips_sim.world import World

from .module_helpers import START, call, captured_result


def scenario(name: str) -> dict[str, Any]:
    path = resources.files("opensips_sim").joinpath(f"scenarios/{name}.json")
    if not path.is_file():
        pytest.skip(f"no {name} scenario yet")
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    if "dispatcher" not in data:
        pytest.skip(f"the {name} scenario has no module sections yet")
    return data


def register_every_part() -> None:
    """Scenarios hold every part's section: import every state module so all are known."""
    for mod in pkgutil.iter_modules(opensips_sim.state.__path__):
        importlib.import_module(f"opensips_sim.state.{mod.name}")


MODULE_PARTS = (
    "dispatcher",
    "load_balancer",
    "drouting",
    "clusterer",
    "pike",
    "permissions",
    "cfgutils",
    "tm",
)


def world_of(name: str, seed: int = 0, *, only_modules: bool = False) -> World:
    """A world from a built-in scenario (with ``only_modules``: just this file's parts)."""
    register_every_part()
    wanted = MODULE_PARTS if only_modules else tuple(scenario(name))
    world = World(seed=seed, clock=Clock(START, frozen=True))
    world.load({k: v for k, v in scenario(name).items() if k in wanted and k != "seed"})
    return world


@pytest.mark.parametrize(
    ("method", "params", "response"),
    [
        ("ds_list", None, "ds_list"),
        ("ds_list", {"full": 1}, "ds_list_full"),
        ("lb_list", None, "lb_list"),
        ("dr_gw_status", None, "dr_gw_status"),
        ("dr_carrier_status", None, "dr_carrier_status"),
        ("clusterer_list", None, "clusterer_list"),
        ("clusterer_list_topology", None, "clusterer_list_topology"),
    ],
)
def test_quiet_answers_what_the_captured_server_answered(
    method: str, params: dict[str, Any] | None, response: str
) -> None:
    assert call(world_of("quiet"), method, params) == captured_result(response)


def test_quiet_has_shared_vars_a_blocked_address_and_an_address_table() -> None:
    world = world_of("quiet")
    assert len(call(world, "shv_get")[0]) >= 2
    assert call(world, "pike_list")["IPs"]
    assert call(world, "address_dump")["Partitions"][0]["Destinations"]


def test_lively_has_a_destination_that_flaps_with_the_clock() -> None:
    world = world_of("lively", seed=5)
    seen = set()
    for _ in range(6):
        for part in call(world, "ds_list")["PARTITIONS"]:
            for ds_set in part["SETS"]:
                seen.update((d["URI"], d["state"]) for d in ds_set["Destinations"])
        world.clock.advance(20)
    flapping = {uri for uri, _ in seen if sum(1 for u, _ in seen if u == uri) == 3}
    assert len(flapping) == 1


def test_lively_has_a_reachable_peer_to_send_commands_to() -> None:
    world = world_of("lively")
    state = world.get(ClustererState)
    up = [n.node_id for c in state.clusters for n in c.nodes if n.is_up]
    assert up
    args = {"cluster_id": 1, "destination": up[0], "cmd_name": "shv_set"}
    call(world, "cluster_send_mi", {**args, "cmd_params": ["gw_mode", "s", "failover"]})
    peer_vars = call(state.peers[up[0]], "shv_get", {"name": "gw_mode"})
    assert peer_vars == {"VAR": {"type": "string", "value": "failover"}}
    assert call(world, "shv_get", {"name": "gw_mode"})["VAR"]["value"] != "failover"


def test_large_module_sections_are_large_and_load_quickly() -> None:
    started = time.perf_counter()
    world = world_of("large", only_modules=True)
    assert time.perf_counter() - started < 1.0
    sets = call(world, "ds_list")["PARTITIONS"][0]["SETS"]
    assert sum(len(s["Destinations"]) for s in sets) >= 200
    assert len(call(world, "dr_gw_status")["Gateways"]) >= 50
