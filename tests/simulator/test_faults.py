"""Fault rules: every action before and after the command is applied, partial bulk
commands, match filters, counts and seeded probabilities; every fault is in the journal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from opensips_sim.faults import FaultError, FaultPlan

from .conftest import StartSimulator
from .rawhttp import RawClient, exchange, post, rpc

REMOVE_BOB = post(rpc("ul_rm", {"table_name": "location", "aor": "bob"}))


def bob_registered(sim: Any) -> bool:
    return "bob" in sim.world.snapshot()["usrloc"]["aors"]


async def send(port: int, request: bytes) -> RawClient:
    client = await RawClient.connect(port)
    await client.send(request)
    return client


@pytest.mark.parametrize("when", ["before_apply", "after_apply"])
@pytest.mark.parametrize("status", [500, 503])
async def test_http_error_faults_answer_an_empty_status(
    when: str, status: int, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator(quirks=False)
    sim.add_fault({"command": "ul_rm", "action": f"http_{status}", "when": when})
    head, body = await exchange(sim.port, REMOVE_BOB)
    assert (head.status, body) == (status, b"")
    assert bob_registered(sim) == (when == "before_apply")
    entry = sim.journal()[-1]
    assert entry["fault"]["action"] == f"http_{status}"
    assert entry["applied"] == (when == "after_apply")


@pytest.mark.parametrize("when", ["before_apply", "after_apply"])
async def test_delay_faults_answer_late_but_normally(
    when: str, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator()
    sim.add_fault({"command": "ul_rm", "action": "delay", "seconds": 0.2, "when": when})
    loop = asyncio.get_running_loop()
    started = loop.time()
    _head, body = await exchange(sim.port, REMOVE_BOB)
    assert loop.time() - started >= 0.2
    assert json.loads(body)["result"] == "OK"
    assert not bob_registered(sim)


@pytest.mark.parametrize("when", ["before_apply", "after_apply"])
async def test_reset_faults_drop_the_connection_without_an_answer(
    when: str, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator()
    sim.add_fault({"command": "ul_rm", "action": "reset", "when": when})
    client = await send(sim.port, REMOVE_BOB)
    try:
        try:
            data = await client.read_to_eof()
        except ConnectionResetError:
            data = b""
    finally:
        await client.close()
    assert data == b"", "no answer at all"
    assert bob_registered(sim) == (when == "before_apply")
    assert sim.journal()[-1]["outcome"] == "reset"


@pytest.mark.parametrize("when", ["before_apply", "after_apply"])
async def test_truncate_faults_send_half_a_body_and_close(
    when: str, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator()
    sim.add_fault({"command": "ul_rm", "action": "truncate", "when": when})
    client = await send(sim.port, REMOVE_BOB)
    try:
        head = await client.read_head()
        rest = await client.read_to_eof()
    finally:
        await client.close()
    assert 0 < len(rest) < int(head.header("Content-Length") or 0)
    assert bob_registered(sim) == (when == "before_apply")


@pytest.mark.parametrize("when", ["before_apply", "after_apply"])
async def test_malformed_faults_answer_something_that_is_not_json(
    when: str, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator()
    sim.add_fault({"command": "ul_rm", "action": "malformed", "when": when})
    head, body = await exchange(sim.port, REMOVE_BOB)
    assert head.status == 200
    with pytest.raises(ValueError):
        json.loads(body)
    assert bob_registered(sim) == (when == "before_apply")


@pytest.mark.parametrize("when", ["before_apply", "after_apply"])
async def test_stall_faults_never_answer_until_the_idle_timeout_closes(
    when: str, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator(idle_timeout=0.3)
    sim.add_fault({"command": "ul_rm", "action": "stall", "when": when})
    client = await send(sim.port, REMOVE_BOB)
    try:
        assert await client.read_to_eof(timeout=3.0) == b""
    finally:
        await client.close()
    assert bob_registered(sim) == (when == "before_apply")
    assert sim.journal()[-1]["outcome"] == "stalled"


async def test_a_stalled_call_does_not_block_other_clients(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(idle_timeout=2.0)
    sim.add_fault({"command": "ul_rm", "action": "stall", "when": "after_apply"})
    stalled = await send(sim.port, REMOVE_BOB)
    try:
        head, _ = await exchange(sim.port, post(rpc("uptime")))
        assert head.status == 200
    finally:
        await stalled.close()


@pytest.mark.parametrize("answer", ["error", "http_500"])
async def test_partial_faults_end_some_dialogs_then_fail(
    answer: str, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator(quirks=False)
    sim.add_fault(
        {"command": "profile_end_dlgs", "action": "partial", "targets": 1, "answer": answer}
    )
    head, body = await exchange(sim.port, post(rpc("profile_end_dlgs", {"profile": "inbound"})))
    if answer == "error":
        assert json.loads(body)["error"] == {"code": 500, "message": "Operation failed"}
    else:
        assert head.status == 500
    dialogs = sim.world.snapshot()["dialog"]["dialogs"]
    assert [d["state"] for d in dialogs].count(5) == 1  # ended, listed until its BYEs end
    entry = sim.journal()[-1]
    assert (entry["partial"], entry["applied"]) == (1, False)


async def test_partial_rules_do_not_fire_on_commands_that_are_not_bulk(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator()
    sim.add_fault({"command": "*", "action": "partial"})
    _head, body = await exchange(sim.port, REMOVE_BOB)
    assert json.loads(body)["result"] == "OK"
    assert sim.journal()[-1]["fault"] is None


async def test_rules_match_by_glob_and_level_and_fire_count_times(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(quirks=False)
    sim.add_fault({"command": "ul_*", "level": "destructive", "action": "http_500", "count": 1})
    assert (await exchange(sim.port, post(rpc("ul_dump"))))[0].status == 200
    assert (await exchange(sim.port, REMOVE_BOB))[0].status == 500
    assert (await exchange(sim.port, REMOVE_BOB))[0].status == 200
    assert sim.sim.faults.to_json()[0]["fired"] == 1


def test_probabilities_draw_from_the_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan(seed)
        plan.add({"action": "http_500", "probability": 0.5})
        return [plan.pick("uptime", "read") is not None for _ in range(40)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 5 < sum(pattern(7)) < 35


@pytest.mark.parametrize(
    "rule",
    [
        {"action": "explode"},
        {"action": "http_500", "when": "later"},
        {"action": "http_500", "level": "superuser"},
        {"action": "http_500", "probability": 2},
        {"action": "http_500", "colour": "red"},
    ],
)
def test_invalid_rules_are_refused_with_a_reason(rule: dict[str, Any]) -> None:
    with pytest.raises(FaultError):
        FaultPlan().add(rule)


def test_the_nested_match_form_is_the_same_rule() -> None:
    plan = FaultPlan()
    rule = plan.add({"match": {"command": "dlg_*", "count": 2}, "action": "reset"})
    assert (rule.command, rule.count, rule.action) == ("dlg_*", 2, "reset")
