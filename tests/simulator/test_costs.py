"""The simulator executes like OpenSIPS: one command at a time, each holding the MI for a
cost that grows with the state it walks (``costs.py``), scaled by ``cost_scale`` (0: none)."""

from __future__ import annotations

import asyncio
import json
import time

from opensips_sim.costs import DEFAULT, TM_HASH_ENTRIES, command_cost
from opensips_sim.simulator import Settings, Simulator

from .module_helpers import call, level, make_world

TM = {"transactions": [{"callid": "a84b4c76e66710@pc33", "cseq": 1, "to": "sip:bob@x"}]}


def body(method: str, params: object = None, request_id: int = 1) -> bytes:
    request: dict[str, object] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        request["params"] = params
    return json.dumps(request).encode()


def test_t_hash_lists_every_bucket_with_its_transactions_and_is_a_read() -> None:
    world = make_world(tm=TM)

    buckets = call(world, "t_hash")

    assert len(buckets) == TM_HASH_ENTRIES
    assert [b["index"] for b in buckets[:3]] == [0, 1, 2]
    assert sum(b["Current"] for b in buckets) == 1
    assert level("t_hash") == "read"


def test_t_hash_costs_seconds_and_everything_else_is_cheap_unless_it_grows() -> None:
    world = make_world(tm=TM)
    assert command_cost("t_hash", None, world) > 20
    assert command_cost("uptime", None, world) == DEFAULT
    assert command_cost("dlg_list", {"callid": "x"}, world) == DEFAULT


def test_ul_dump_and_dlg_list_cost_more_with_more_contacts_and_dialogs() -> None:
    small = Simulator("quiet")
    large = Simulator("large")
    for method in ("ul_dump", "dlg_list"):
        assert command_cost(method, None, large.world) > command_cost(method, None, small.world)
    page = command_cost("dlg_list", {"index": 0, "counter": 10}, large.world)
    assert page < command_cost("dlg_list", None, large.world)


async def test_a_command_sent_behind_a_costly_one_waits_for_it_to_finish() -> None:
    sim = Simulator("quiet", settings=Settings(cost_scale=0.01))  # t_hash: ~0.24 s
    expected = 0.01 * command_cost("t_hash", None, sim.world)
    started = time.monotonic()
    heavy = asyncio.create_task(sim.handle_mi(body("t_hash", request_id=1)))
    await asyncio.sleep(0)  # t_hash takes the MI first
    await sim.handle_mi(body("uptime", request_id=2))
    waited = time.monotonic() - started
    await asyncio.wait_for(heavy, 5)

    assert waited >= expected * 0.9
    busy = [e.get("busy_s") for e in sim.journal.entries() if e.get("method") == "t_hash"]
    assert busy == [round(expected, 6)]


async def test_scale_zero_keeps_every_command_instant() -> None:
    sim = Simulator("quiet")
    started = time.monotonic()
    await sim.handle_mi(body("t_hash"))
    assert time.monotonic() - started < 5.0  # building 65,536 buckets, no waiting
    assert all("busy_s" not in e for e in sim.journal.entries())
