"""4.0's ``tcp:close`` and ``core:profiling_proc`` as a real 4.0.1 answers them: the steps
captured from a real 4.0.1 lab (``real_4.0.1_tcp_close_profiling.json``: the lab's ``ps``,
then profiling levels read, set per ID, per PID and for all, clamped, refused IDs and PIDs,
non-integer values taken as not given; ``tcp:close`` on connection IDs and addresses with
and without a protocol, malformed ones refused with 400) replayed in order against the
simulator impersonating 4.0.1 with the lab's process table. Answers must be equal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opensips_sim.simulator import Settings, Simulator

from .test_personas import ask

CAPTURE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent / "real_4.0.1_tcp_close_profiling.json").read_text()
)


def _lab_like() -> Simulator:
    ps = CAPTURE["steps"][0]["response"]["result"]["Processes"]
    processes = [{"pid": p["PID"], "type": p["Type"]} for p in ps]
    return Simulator(
        {"core": {"processes": processes}}, settings=Settings(opensips_version="4.0.1")
    )


def test_the_4_0_persona_answers_tcp_close_and_profiling_proc_as_the_real_4_0_1() -> None:
    sim = _lab_like()
    found = []
    for number, step in enumerate(CAPTURE["steps"], 1):
        request = step["request"]
        answer = ask(sim, request["method"], request.get("params"))
        answer.pop("jsonrpc"), answer.pop("id")
        if answer != step["response"]:
            found.append((number, request, answer, step["response"]))
    assert found == []


@pytest.mark.parametrize("method", ["core:profiling_proc", "tcp:close"])
def test_3_6_has_neither(method: str) -> None:
    sim = Simulator(settings=Settings(opensips_version="3.6.8"))
    assert ask(sim, method, {"ipport": "1"})["error"]["code"] == -32601
    assert method not in ask(sim, "which")["result"]


def test_profiling_levels_are_carried_by_the_snapshot() -> None:
    sim = _lab_like()
    assert ask(sim, "core:profiling_proc", {"id": 2, "level": 2})["result"] == "OK"
    table = sim.world.snapshot()["core"]["processes"]
    assert [p.get("profiling_level", 0) for p in table[1:4]] == [0, 2, 0]


def test_the_differential_run_sends_them_to_a_4_0_server() -> None:
    """The sweep of a 4.0.1 server sends tcp:close's and profiling_proc's valid sets (only
    profiling_proc's reads: a level set is not read back by the snapshot) and the other two
    new commands' invalid sets (uac_registrant writes: never sent valid)."""
    from conformance import differential
    from opensips_sim.simulator import load_all_parts

    load_all_parts()
    new = ["core:profiling_proc", "tcp:close", "uac_registrant:delete", "uac_registrant:upsert"]
    calls = differential.sweep(new, {}, {}, "4.0.1")
    sent = {
        (c.command, tuple(sorted(c.params or {})))
        for c in calls
        if isinstance(c.params, dict | None)
    }
    assert ("tcp:close", ("ipport",)) in sent
    assert ("core:profiling_proc", ("id",)) in sent
    assert not any(name == "core:profiling_proc" and "level" in p for name, p in sent)
    assert {name for name, _ in sent} == set(new)
    assert differential.sweep(new, {}, {}, "3.6.8") == []
