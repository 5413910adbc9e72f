"""Module commands end to end over HTTP: the wire, the journal, the control API's state and
a partial fault on a bulk cluster command."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import StartSimulator

CLUSTER: dict[str, Any] = {
    "name": "cluster",
    "cfgutils": {"shared_vars": [{"name": "mode", "type": "integer", "value": 1}]},
    "clusterer": {
        "node_id": 1,
        "clusters": [
            {
                "cluster_id": 1,
                "nodes": [
                    {
                        "node_id": node_id,
                        "state": {
                            "cfgutils": {
                                "shared_vars": [{"name": "mode", "type": "integer", "value": 1}]
                            }
                        },
                    }
                    for node_id in (2, 3)
                ],
            }
        ],
    },
}


async def rpc(client: httpx.AsyncClient, method: str, params: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        body["params"] = params
    response = await client.post("/mi", json=body)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def modes(state: dict[str, Any]) -> dict[str, int]:
    parts = state["parts"]
    found = {"1": parts["cfgutils"]["shared_vars"][0]["value"]}
    for node_id, peer in parts["clusterer"]["peers"].items():
        found[node_id] = peer["cfgutils"]["shared_vars"][0]["value"]
    return found


async def test_set_state_over_http_is_read_back_and_journaled_as_an_applied_write(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator()
    base = sim.url.removesuffix("/mi")
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        args = {"state": "i", "group": 1, "address": "sip:127.0.0.1:5081"}
        assert (await rpc(client, "ds_set_state", args))["result"] == "OK"
        listing = (await rpc(client, "ds_list"))["result"]
        failed = await rpc(client, "ds_set_state", {**args, "address": "sip:127.0.0.1:5999"})
    states = [d["state"] for d in listing["PARTITIONS"][0]["SETS"][0]["Destinations"]]
    assert states == ["Inactive", "Active"]
    assert failed["error"] == {"code": 404, "message": "destination not found"}
    entries = [e for e in sim.journal() if e["method"] == "ds_set_state"]
    assert [(e["level"], e["applied"]) for e in entries] == [("write", True), ("write", False)]


async def test_cluster_send_mi_over_http_changes_the_peer_seen_in_the_control_state(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(scenario=CLUSTER)
    base = sim.url.removesuffix("/mi")
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        args = {
            "cluster_id": 1,
            "destination": 3,
            "cmd_name": "shv_set",
            "cmd_params": ["mode", "int", 30],
        }
        assert (await rpc(client, "cluster_send_mi", args))["result"] == "OK"
        state = (await client.get("/sim/state")).json()
    assert modes(state) == {"1": 1, "2": 1, "3": 30}
    assert sim.journal()[-1]["level"] == "write"


async def test_a_partial_broadcast_over_http_fails_after_changing_the_first_peer_only(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(scenario=CLUSTER)
    sim.add_fault({"command": "cluster_broadcast_mi", "action": "partial", "targets": 1})
    base = sim.url.removesuffix("/mi")
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        args = {"cluster_id": 1, "cmd_name": "shv_set", "cmd_params": ["mode", "int", 9]}
        answer = await rpc(client, "cluster_broadcast_mi", args)
        state = (await client.get("/sim/state")).json()
    assert "error" in answer
    assert modes(state) == {"1": 1, "2": 9, "3": 1}
    entry = sim.journal()[-1]
    assert (entry["partial"], entry["applied"]) == (1, False)
