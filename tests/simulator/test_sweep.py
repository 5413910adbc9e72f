"""``conformance.sweep`` (every recipe through mi_execute, as CI runs it against the real
labs) passes on the simulator and fails on a call that ends without knowing what happened."""

from __future__ import annotations

from conformance import sweep

from .conftest import StartSimulator


async def test_the_first_calls_of_the_sweep_all_end_knowing_what_happened(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator()

    codes, failures = await sweep.sweep(f"http://127.0.0.1:{sim.port}/mi", "3.6.8", limit=300)

    assert failures == []
    assert sum(codes.values()) == 300
    assert {"ok", "invalid_params", "request_too_large"} <= set(codes)


async def test_a_call_left_without_an_answer_fails_the_sweep(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator()
    first = sweep.calls("3.6.8")[0][0]
    sim.add_fault({"command": first, "action": "reset"})

    _codes, failures = await sweep.sweep(f"http://127.0.0.1:{sim.port}/mi", "3.6.8", limit=3)

    assert failures and failures[0].startswith(first)
