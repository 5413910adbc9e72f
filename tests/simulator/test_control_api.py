"""The control API under /sim: reset, scenarios, state, journal, faults, clock, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from opensips_sim.runner import RunningSimulator

from .conftest import CAPTURE_EPOCH, StartSimulator
from .rawhttp import RawClient, exchange, post, rpc


@pytest.fixture
async def control(sim: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.control_url, timeout=5.0) as client:
        yield client


async def test_the_index_lists_the_endpoints(control: httpx.AsyncClient) -> None:
    answer = (await control.get("")).json()
    assert "POST /sim/faults" in answer["endpoints"]


async def test_state_shows_every_part(control: httpx.AsyncClient) -> None:
    state = (await control.get("/state")).json()
    assert state["scenario"] == "quiet"
    assert state["now"] == CAPTURE_EPOCH
    assert {"usrloc", "dialog", "statistics", "core"} <= set(state["parts"])
    assert len(state["parts"]["dialog"]["dialogs"]) == 3


async def test_reset_restores_the_scenario(
    sim: RunningSimulator, control: httpx.AsyncClient
) -> None:
    await exchange(sim.port, post(rpc("ul_rm", {"table_name": "location", "aor": "bob"})))
    assert (await control.post("/reset")).json()["ok"]
    assert "bob" in (await control.get("/state")).json()["parts"]["usrloc"]["aors"]


async def test_reset_can_also_clear_the_journal_and_faults(
    sim: RunningSimulator, control: httpx.AsyncClient
) -> None:
    await exchange(sim.port, post(rpc("uptime")))
    await control.post("/faults", json={"action": "http_500"})
    await control.post("/reset", json={"journal": True, "faults": True})
    assert (await control.get("/journal")).json()["entries"] == []
    assert (await control.get("/faults")).json()["rules"] == []


async def test_scenarios_load_by_name_or_as_a_body(control: httpx.AsyncClient) -> None:
    assert (await control.get("/scenario")).json()["builtin"] == ["large", "lively", "quiet"]
    custom = {"name": "empty", "usrloc": {"aors": {}}, "dialog": {"dialogs": []}}
    assert (await control.post("/scenario", json=custom)).json()["scenario"] == "empty"
    assert (await control.get("/state")).json()["parts"]["usrloc"]["aors"] == {}
    assert (await control.post("/scenario", json={"name": "quiet"})).json()["scenario"] == "quiet"


async def test_a_bad_scenario_is_refused_and_the_current_one_kept(
    control: httpx.AsyncClient,
) -> None:
    answer = await control.post("/scenario", json={"name": "nope"})
    assert answer.status_code == 400
    answer = await control.post("/scenario", json={"bogus_section": {}})
    assert answer.status_code == 400
    assert (await control.get("/scenario")).json()["current"] == "quiet"


async def test_the_journal_lists_requests_and_can_be_read_from_a_sequence(
    sim: RunningSimulator, control: httpx.AsyncClient
) -> None:
    await exchange(sim.port, post(rpc("uptime")))
    await exchange(sim.port, post(rpc("which", {"command": "ps"})))
    entries = (await control.get("/journal")).json()["entries"]
    assert [(e["method"], e["level"], e["applied"]) for e in entries] == [
        ("uptime", "read", True),
        ("which", "read", True),
    ]
    newer = (await control.get("/journal", params={"since": entries[0]["seq"]})).json()
    assert [e["method"] for e in newer["entries"]] == ["which"]
    assert (await control.delete("/journal")).json() == {"cleared": 2}


async def test_the_journal_records_requests_the_mi_layer_never_saw(
    sim: RunningSimulator, control: httpx.AsyncClient
) -> None:
    await exchange(sim.port, b"DELETE /mi HTTP/1.1\r\nHost: x\r\n\r\n")
    entry = (await control.get("/journal")).json()["entries"][-1]
    assert (entry["http_method"], entry["http_status"], entry["method"]) == ("DELETE", 406, None)


async def test_faults_are_added_listed_and_removed(control: httpx.AsyncClient) -> None:
    added = (await control.post("/faults", json=[{"action": "reset"}, {"action": "stall"}])).json()
    ids = [rule["id"] for rule in added["rules"]]
    assert len((await control.get("/faults")).json()["rules"]) == 2
    assert (await control.delete("/faults", params={"id": ids[0]})).json() == {"removed": ids[0]}
    assert [r["action"] for r in (await control.get("/faults")).json()["rules"]] == ["stall"]
    assert (await control.delete("/faults")).json() == {"removed": 1}


async def test_an_invalid_fault_rule_is_a_400_with_the_reason(control: httpx.AsyncClient) -> None:
    answer = await control.post("/faults", json={"action": "explode"})
    assert answer.status_code == 400
    assert "action" in answer.json()["error"]


async def test_the_clock_advances_and_the_world_follows(control: httpx.AsyncClient) -> None:
    assert (await control.get("/clock")).json() == {"now": CAPTURE_EPOCH, "frozen": True}
    answer = await control.post("/clock", json={"seconds": 741})
    assert answer.json() == {"now": CAPTURE_EPOCH + 741}
    assert (await control.get("/state")).json()["parts"]["dialog"]["dialogs"] == []
    assert (await control.post("/clock", json={"seconds": -1})).status_code == 400


async def test_settings_switch_quirks_at_run_time(
    sim: RunningSimulator, control: httpx.AsyncClient
) -> None:
    answer = await control.post("/settings", json={"quirks": False})
    assert answer.json() == {"quirks": False, "idle_timeout": 2.0}
    head, body = await exchange(sim.port, post(b'{"jsonrpc":"2.0","method":"uptime"}'))
    assert (head.status, body) == (202, b"")


async def test_unknown_paths_and_methods_are_404_and_405(control: httpx.AsyncClient) -> None:
    assert (await control.get("/nope")).status_code == 404
    answer = await control.put("/journal")
    assert answer.status_code == 405
    assert answer.json()["allowed"] == ["DELETE", "GET"]


async def test_the_control_api_is_not_reachable_under_mi(start_simulator: StartSimulator) -> None:
    sim = await start_simulator()
    client = await RawClient.connect(sim.port)
    try:
        await client.send(b"GET /mi/sim/state HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await client.read_head()).status == 405
    finally:
        await client.close()
