"""The differential run against a simulator standing in for the real server: a simulator
started from the snapshot of another must answer every call the same way (the snapshot
carries everything a read shows), so the run finds no difference but the listed ones."""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from conformance import differential
from opensips_sim import scenarios
from opensips_sim.runner import running_simulator


def without_routing_rules() -> dict[str, Any]:
    """The quiet scenario without its drouting rules. No MI command lists them, so no
    snapshot carries them: against a lab the run relies on its rules matching none of the
    numbers it draws (they do not), while quiet's prefix-less rule matches every number."""
    scenario = copy.deepcopy(scenarios.load("quiet"))
    scenario["drouting"]["rules"] = []
    return scenario


@pytest.fixture(params=["3.6.8", "3.4.18", "4.0.1"])
def simulator_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A quiet simulator impersonating each version, served from a thread of its own (the
    run has its own loop)."""
    ready: list[str] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with running_simulator(
            without_routing_rules(),
            seed=1,
            quirks=True,
            idle_timeout=5.0,
            opensips_version=request.param,
        ) as sim:
            ready.append(sim.url)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10), "the simulator did not start"
    try:
        yield ready[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def test_a_simulator_and_one_started_from_its_snapshot_answer_alike(
    simulator_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = differential.main(["--mi-url", simulator_url, "--examples", "20", "--steps", "8"])
    out = capsys.readouterr().out
    assert "UNEXPECTED" not in out, out
    assert code == 0
    assert "commands exercised:" in out
    version = next(v for v in ("3.6.8", "3.4.18", "4.0.1") if f"impersonating {v}" in out)
    renamed = int(out.split(" sent under their")[0].rsplit("(", 1)[1])
    assert (renamed > 100) is version.startswith("4."), out  # 4.x: sent as module:name


def test_probing_failure_counts_carry_from_one_sequence_to_the_next() -> None:
    """A server keeps a destination's probing failure count across the run's restore
    (``ds_set_state a``), and no MI read shows it: the next sequence's simulator starts from
    the counts the previous one ended with, so the threshold is reached on the same ``p``
    call on both sides (measured on real 3.4.18 and 4.0.1 labs: p p p a, then p: Probing)."""
    import json as _json

    from opensips_sim.scenarios import load
    from opensips_sim.simulator import Simulator

    uri = "sip:127.0.0.1:5081"

    def set_state(sim: Simulator, state: str) -> None:
        body = {"state": state, "group": 1, "address": uri}
        request = _json.dumps({"jsonrpc": "2.0", "method": "ds_set_state", "params": body, "id": 1})
        assert "result" in _json.loads(asyncio.run(sim.handle_mi(request.encode())).body)

    def state_of(sim: Simulator) -> str:
        (part,) = sim.world.snapshot()["dispatcher"]["partitions"]
        return next(d["state"] for d in part["sets"][0]["destinations"] if d["uri"] == uri)

    scenario = load("quiet")
    first = Simulator(scenario)
    set_state(first, "p")
    set_state(first, "p")
    set_state(first, "a")
    counts = differential.failure_counts(first)
    assert counts == {("default", 1, uri): 2}
    carried = Simulator(differential.with_failure_counts(scenario, counts))
    fresh = Simulator(scenario)
    set_state(carried, "p")
    set_state(fresh, "p")
    assert (state_of(carried), state_of(fresh)) == ("probing", "active")
    assert differential.with_failure_counts(scenario, {}) is scenario


def test_the_typed_value_sweep_gives_each_parameter_each_odd_value_and_nothing_unreadable() -> None:
    differential.load_all_parts()
    calls = differential.typed_values(["ul_add", "ds_list", "uptime"], {"aor": ["alice"]})

    assert {c.command for c in calls} == {"ul_add", "ds_list"}  # uptime takes no params
    contacts = [c.params["contact"] for c in calls if c.command == "ul_add"]
    assert set(map(repr, differential.ODD_VALUES)) <= set(map(repr, contacts))
    for call in calls:  # only strings and numbers: another JSON type can stop a real server
        assert all(
            isinstance(v, str | int | float) and not isinstance(v, bool)
            for v in call.params.values()
        )
