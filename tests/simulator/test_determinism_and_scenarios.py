"""Same seed, same requests -> same journal and state; the built-in scenarios load and
behave as documented (quiet rests, lively moves, large is big but quick)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from opensips_sim import scenarios
from opensips_sim.world import PARTS

from .conftest import StartSimulator
from .rawhttp import exchange, post, rpc
from .sim_helpers import advance, mi, world_of

REQUESTS = [
    rpc("uptime"),
    rpc("dlg_list"),
    rpc("ul_rm", {"table_name": "location", "aor": "bob"}),
    rpc("get_statistics", {"statistics": ["dialog:", "registrar:"]}),
    rpc("dlg_end_dlg", {"dialog_id": "nope"}),
    rpc("no_such_command"),
]


async def run_session(start_simulator: StartSimulator, seed: int) -> tuple[Any, Any]:
    sim = await start_simulator(scenario="lively", seed=seed, quirks=False)
    sim.add_fault({"command": "*", "action": "http_500", "probability": 0.3})
    async with httpx.AsyncClient(base_url=sim.control_url, timeout=5.0) as control:
        for round_ in range(3):
            for body in REQUESTS:
                await exchange(sim.port, post(body))
            await control.post("/clock", json={"seconds": 120 * (round_ + 1)})
        journal = (await control.get("/journal")).json()["entries"]
        state = (await control.get("/state")).json()
    return journal, state


async def test_the_same_seed_and_requests_give_the_same_journal_and_state(
    start_simulator: StartSimulator,
) -> None:
    first = await run_session(start_simulator, seed=11)
    second = await run_session(start_simulator, seed=11)
    assert first == second
    assert any(entry["fault"] for entry in first[0])


async def test_another_seed_moves_differently(start_simulator: StartSimulator) -> None:
    first = await run_session(start_simulator, seed=11)
    other = await run_session(start_simulator, seed=12)
    assert first[1]["parts"]["dialog"] != other[1]["parts"]["dialog"]


@pytest.mark.parametrize("name", ["quiet", "lively"])
def test_builtin_scenarios_only_hold_known_sections(name: str) -> None:
    world_of(name)  # registers every part
    unknown = set(scenarios.load(name)) - set(PARTS) - {"name", "description", "seed", "motion"}
    assert not unknown


def test_quiet_does_not_move_except_for_the_clock() -> None:
    world = world_of("quiet")
    advance(world, 600)
    assert len(mi(world, "dlg_list")["Dialogs"]) == 3
    assert mi(world, "get_statistics", {"statistics": ["processed_dialogs"]}) == {
        "dialog:processed_dialogs": 3
    }


def test_lively_starts_and_ends_calls_and_registers_users_as_time_passes() -> None:
    world = world_of("lively")
    advance(world, 900)
    dialogs = mi(world, "dlg_list")["Dialogs"]
    aors = [a["AOR"] for a in mi(world, "ul_dump", {"brief": 1})["Domains"][0]["AORs"]]
    stats = mi(world, "get_statistics", {"statistics": ["dialog:", "usrloc:"]})
    assert stats["dialog:processed_dialogs"] > 3 + len(dialogs)  # some calls already ended
    assert {"alice", "bob", "carol"} < set(aors)
    assert all(d["state"] == 4 for d in dialogs)


def test_lively_registrations_expire_when_users_stop_refreshing() -> None:
    scenario = scenarios.load("lively")
    scenario["usrloc"] = dict(scenario["usrloc"], motion={"registrations_per_minute": 0})
    world = world_of(scenario)
    advance(world, 3600)
    assert mi(world, "ul_dump", {"brief": 1})["Domains"][0]["AORs"] == []


def test_the_large_scenario_loads_quickly_and_pages_without_walking_everything() -> None:
    started = time.monotonic()
    world = world_of("large")
    assert time.monotonic() - started < 30
    first = mi(world, "dlg_list", {"index": 0, "counter": 100})
    deep = mi(world, "dlg_list", {"index": 49_900, "counter": 100})
    assert (first["count"], len(first["Dialogs"]), len(deep["Dialogs"])) == (50_000, 100, 100)
    assert first["Dialogs"][0]["ID"] != deep["Dialogs"][0]["ID"]
    stats = mi(world, "get_statistics", {"statistics": ["usrloc:", "active_dialogs"]})
    assert stats["usrloc:location-contacts"] == 100_000
    assert stats["dialog:active_dialogs"] == 50_000
