"""``ul_rm_contact`` with a ``contact`` OpenSIPS cannot read, for an existing AOR, answers
"Bad type" and leaves the lock of the AOR's usrloc hash slot held (3.4.18 to 4.0.1:
``mi_usrloc_rm_contact`` returns without unlocking). Measured on a real 3.6.8 lab
(2026-12-05), and copied here: right after it ``uptime`` and ``ul_show_contact bob`` (another
slot) were answered, ``ul_show_contact carol`` (the slot held) never was, and from then on
nothing was: the MI process waits for the lock forever."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from opensips_sim.hashing import core_hash
from opensips_sim.runner import RunningSimulator

from .rawhttp import exchange, post, rpc

SHOW = {"table_name": "location"}


async def ask(sim: RunningSimulator, method: str, params: Any = None, wait: float = 5.0) -> Any:
    """The answer, or None when none came within ``wait`` seconds."""
    try:
        _head, body = await asyncio.wait_for(exchange(sim.port, post(rpc(method, params))), wait)
    except TimeoutError:
        return None
    return json.loads(body)


async def stalls(sim: RunningSimulator, method: str, params: Any = None) -> bool:
    """True when ``method`` is not answered within half a second (a blocked MI)."""
    return await ask(sim, method, params, wait=0.5) is None


@pytest.mark.parametrize("contact", [True, None, ["sip:x@y"], {"a": 1}])
async def test_the_held_slot_blocks_the_mi_for_good_and_other_slots_answer_first(
    contact: Any, sim: RunningSimulator
) -> None:
    assert core_hash("carol", 512) != core_hash("bob", 512)
    leak = {**SHOW, "aor": "carol", "contact": contact}

    answer = await ask(sim, "ul_rm_contact", leak)

    assert answer["error"]["code"] == -32602
    assert "result" in await ask(sim, "uptime")
    assert "result" in await ask(sim, "ul_show_contact", {**SHOW, "aor": "bob"})
    assert await stalls(sim, "ul_show_contact", {**SHOW, "aor": "carol"})
    assert await stalls(sim, "uptime")  # the MI process is stuck behind it
    assert sim.sim.blocked is not None
    sim.sim.reset()  # a restart
    assert "result" in await ask(sim, "ul_show_contact", {**SHOW, "aor": "carol"})


async def test_a_walk_of_the_whole_table_blocks_too(sim: RunningSimulator) -> None:
    await ask(sim, "ul_rm_contact", {**SHOW, "aor": "carol", "contact": True})
    assert await stalls(sim, "ul_dump")


async def test_an_unknown_aor_or_a_readable_contact_leaks_nothing(sim: RunningSimulator) -> None:
    missing = await ask(sim, "ul_rm_contact", {**SHOW, "aor": "nobody", "contact": True})
    unknown = await ask(sim, "ul_rm_contact", {**SHOW, "aor": "carol", "contact": "sip:no@x"})

    assert missing["error"]["code"] == 404  # AOR not found: unlocked before the contact
    assert unknown["error"]["code"] == 404
    assert "result" in await ask(sim, "ul_dump")
