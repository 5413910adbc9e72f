"""Helpers for the module-state tests: worlds seeded from scenario sections, calls made the
way the wire layer makes them (resolve, then execute), and the answers and errors captured
from a real OpenSIPS 3.6.8 in ``captures/opensips-3.6.8``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import opensips_sim.commands.cfgutils
import opensips_sim.commands.clusterer
import opensips_sim.commands.dispatcher
import opensips_sim.commands.drouting
import opensips_sim.commands.load_balancer
import opensips_sim.commands.permissions
import opensips_sim.commands.pike
import opensips_sim.commands.tm  # noqa: F401  (importing registers the handlers)
from opensips_sim import dispatch
from opensips_sim.clock import Clock
from opensips_sim.errors import MIError
from opensips_sim.world import World
from tests.captures import version_dir

REPO = Path(__file__).resolve().parents[2]
SHARED = version_dir("3.6.8")
START = 1_795_000_000.0

# The module state of the captured server (responses/*.json), as scenario sections.
CAPTURED_SECTIONS: dict[str, Any] = {
    "dispatcher": {
        "sets": [
            {
                "id": 1,
                "destinations": [
                    {"uri": "sip:127.0.0.1:5081", "attrs": "attr1", "description": "ds dst A"},
                    {"uri": "sip:127.0.0.1:5082", "attrs": "attr2", "description": "ds dst B"},
                ],
            }
        ]
    },
    "load_balancer": {
        "destinations": [
            {
                "id": 1,
                "group": 1,
                "uri": "sip:127.0.0.1:5083",
                "resources": [{"name": "pstn", "max": 10}, {"name": "vm", "max": 5}],
            },
            {
                "id": 2,
                "group": 1,
                "uri": "sip:127.0.0.1:5084",
                "resources": [{"name": "pstn", "max": 20}],
            },
        ]
    },
    "drouting": {
        "gateways": [{"id": "gw1", "address": "127.0.0.1:5085"}],
        "carriers": [{"id": "carrier1", "gateways": ["gw1"]}],
    },
    "clusterer": {
        "node_id": 1,
        "clusters": [
            {
                "cluster_id": 1,
                "nodes": [
                    {
                        "node_id": 2,
                        "db_id": 2,
                        "url": "bin:127.0.0.1:5567",
                        "link_state": "Probe",
                        "description": "absent peer",
                    }
                ],
            }
        ],
    },
    "pike": {"ips": [{"ip": "10.0.0.66", "blocked": True}]},
    "cfgutils": {"shared_vars": [{"name": "gw_mode", "type": "string", "value": "primary"}]},
}


def make_world(seed: int = 7, **sections: Any) -> World:
    """A world on a frozen clock at ``START``, loaded with the given scenario sections."""
    world = World(seed=seed, clock=Clock(START, frozen=True))
    world.load(copy.deepcopy(sections))
    return world


def captured_world() -> World:
    """A world holding the captured server's module state."""
    return make_world(**CAPTURED_SECTIONS)


def call(
    world: World,
    method: str,
    params: dict[str, Any] | list[Any] | None = None,
    *,
    partial: int | None = None,
) -> Any:
    """Resolve and execute one MI call as the wire layer does."""
    return dispatch.execute(dispatch.resolve(method, params), world, partial=partial)


def fails(world: World, method: str, params: dict[str, Any] | list[Any] | None = None) -> MIError:
    """The MIError a call raises (the test fails if it succeeds)."""
    with pytest.raises(MIError) as caught:
        call(world, method, params)
    return caught.value


def level(method: str, params: dict[str, Any] | list[Any] | None = None) -> str:
    """The simulator level of a call."""
    return dispatch.resolve(method, params).level


def captured_result(name: str) -> Any:
    """The ``result`` of ``responses/<name>.json``."""
    path = SHARED / "responses" / f"{name}.json"
    return json.loads(path.read_text("utf-8"))["response"]["result"]


def captured_error_case(case: str) -> tuple[str, Any, dict[str, Any]]:
    """Method, params and JSON-RPC error of a captured error case."""
    path = SHARED / "errors.json"
    entry = json.loads(path.read_text("utf-8"))["cases"][case]
    request = json.loads(entry["request_raw"].split("\r\n\r\n", 1)[1])
    return request["method"], request.get("params"), entry["jsonrpc_error"]
