"""The MI admission queue: bounded in flight, round-robin between principals, fast busy
refusals, a rate limit and a budget per principal, one heavy command at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from opensips_mcp.admission import (
    AdmissionSettings,
    FairQueue,
    MIBusy,
    OverBudget,
    RateLimited,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _until(condition: Callable[[], bool], turns: int = 1000) -> None:
    """Let the other tasks run until ``condition`` holds (bounded by event-loop turns)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)  # one turn of the event loop, not a timed wait
    raise AssertionError("condition not reached")


async def test_calls_beyond_max_in_flight_wait_and_run_one_at_a_time() -> None:
    queue = FairQueue(AdmissionSettings(max_in_flight=1))
    running = 0
    most = 0

    async def call() -> None:
        nonlocal running, most
        async with queue.admit("a"):
            running += 1
            most = max(most, running)
            await asyncio.sleep(0)  # hold the slot across a turn of the event loop
            running -= 1

    await asyncio.wait_for(asyncio.gather(*(call() for _ in range(20))), 5)

    assert most == 1
    assert queue.stats().calls == 20
    assert (queue.stats().in_flight, queue.queued) == (0, 0)


async def test_a_freed_slot_goes_round_robin_between_principals() -> None:
    queue = FairQueue(AdmissionSettings(max_in_flight=1))
    order: list[str] = []
    gate = asyncio.Event()

    async def holder() -> None:
        async with queue.admit("holder"):
            await gate.wait()

    async def call(principal: str) -> None:
        async with queue.admit(principal):
            order.append(principal)

    held = asyncio.create_task(holder())
    await _until(lambda: queue.stats().in_flight == 1)
    tasks = [asyncio.create_task(call("a")) for _ in range(4)]
    tasks += [asyncio.create_task(call("b")) for _ in range(2)]
    tasks += [asyncio.create_task(call("c"))]
    await _until(lambda: queue.queued == 7)
    gate.set()
    await asyncio.wait_for(asyncio.gather(held, *tasks), 5)

    assert order == ["a", "b", "c", "a", "b", "a", "a"]


async def test_a_call_beyond_max_queued_is_refused_at_once_as_busy() -> None:
    queue = FairQueue(AdmissionSettings(max_in_flight=1, max_queued=2))
    gate = asyncio.Event()

    async def call() -> None:
        async with queue.admit("a"):
            await gate.wait()

    tasks = [asyncio.create_task(call()) for _ in range(3)]
    await _until(lambda: queue.queued == 2)

    with pytest.raises(MIBusy) as caught:
        async with queue.admit("b"):
            pass

    assert caught.value.queued == 2
    assert queue.stats().refused_busy == 1
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def test_a_call_that_waits_longer_than_queue_timeout_is_busy_and_leaves_the_queue() -> None:
    queue = FairQueue(AdmissionSettings(max_in_flight=1, queue_timeout=0.05))
    gate = asyncio.Event()

    async def holder() -> None:
        async with queue.admit("a"):
            await gate.wait()

    held = asyncio.create_task(holder())
    await _until(lambda: queue.stats().in_flight == 1)

    with pytest.raises(MIBusy) as caught:
        async with queue.admit("b"):
            pass

    assert caught.value.oldest >= 0.05
    assert queue.queued == 0
    gate.set()
    await asyncio.wait_for(held, 5)
    async with queue.admit("b"):  # the slot was not lost
        assert queue.stats().in_flight == 1


async def test_a_cancelled_waiter_gives_up_its_place_and_the_slot_is_not_lost() -> None:
    queue = FairQueue(AdmissionSettings(max_in_flight=1))
    gate = asyncio.Event()

    async def holder() -> None:
        async with queue.admit("a"):
            await gate.wait()

    async def waiter() -> None:
        async with queue.admit("b"):
            pass

    held = asyncio.create_task(holder())
    await _until(lambda: queue.stats().in_flight == 1)
    waiting = asyncio.create_task(waiter())
    await _until(lambda: queue.queued == 1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.set()
    await asyncio.wait_for(held, 5)

    assert (queue.stats().in_flight, queue.queued) == (0, 0)


async def test_a_second_heavy_command_is_refused_while_one_runs() -> None:
    queue = FairQueue(AdmissionSettings(max_in_flight=2))
    gate = asyncio.Event()

    async def heavy() -> None:
        async with queue.admit("admin", heavy="t_hash"):
            await gate.wait()

    running = asyncio.create_task(heavy())
    await _until(lambda: queue.stats().heavy_running == "t_hash")

    with pytest.raises(MIBusy):
        async with queue.admit("other", heavy="t_hash"):
            pass
    async with queue.admit("other"):  # a cheap call still gets the second slot
        pass

    gate.set()
    await asyncio.wait_for(running, 5)
    assert queue.stats().heavy_running is None


async def test_the_rate_limit_refuses_beyond_the_burst_and_refills_over_time() -> None:
    clock = FakeClock()
    queue = FairQueue(AdmissionSettings(rate=2.0, burst=3), clock=clock)
    for _ in range(3):
        async with queue.admit("a"):
            pass

    with pytest.raises(RateLimited) as caught:
        async with queue.admit("a"):
            pass
    async with queue.admit("b"):  # another principal has its own bucket
        pass

    assert caught.value.retry_after == pytest.approx(0.5)
    clock.now += 0.5
    async with queue.admit("a"):
        pass


async def test_a_principal_s_own_rate_limit_overrides_the_server_s() -> None:
    clock = FakeClock()
    queue = FairQueue(AdmissionSettings(rate=0.0, burst=10), clock=clock)  # none for all
    async with queue.admit("limited", rate=1.0, burst=1):
        pass
    with pytest.raises(RateLimited) as caught:
        async with queue.admit("limited", rate=1.0, burst=1):
            pass
    for _ in range(20):  # the others keep the server's setting: no limit
        async with queue.admit("free"):
            pass
    assert caught.value.rate == 1.0
    assert caught.value.retry_after == pytest.approx(1.0)

    strict = FairQueue(AdmissionSettings(rate=1.0, burst=1), clock=clock)
    for _ in range(20):  # an override of 0 lifts the server's limit for that principal
        async with strict.admit("exempt", rate=0.0):
            pass
    async with strict.admit("plain"):
        pass
    with pytest.raises(RateLimited):
        async with strict.admit("plain"):
            pass


async def test_a_metered_principal_is_refused_once_its_budget_per_minute_is_used() -> None:
    clock = FakeClock()
    queue = FairQueue(AdmissionSettings(budget=10.0), clock=clock)

    async def hold(seconds: float) -> None:
        async with queue.admit("viewer", metered=True):
            clock.now += seconds

    await hold(6.0)
    await hold(3.0)
    with pytest.raises(OverBudget) as caught:
        async with queue.admit("viewer", metered=True, estimate=2.0):
            pass

    assert caught.value.spent == pytest.approx(9.0)
    assert caught.value.retry_after == pytest.approx(60.0 - 3.0)
    async with queue.admit("viewer", metered=False):  # unmetered callers are not counted
        pass
    clock.now += 60.0
    async with queue.admit("viewer", metered=True, estimate=2.0):
        pass


async def test_unmetered_calls_are_not_charged_to_the_budget() -> None:
    clock = FakeClock()
    queue = FairQueue(AdmissionSettings(budget=10.0), clock=clock)
    async with queue.admit("operator", metered=False):
        clock.now += 30.0

    assert queue.spent("operator") == 0.0
    async with queue.admit("operator", metered=True, estimate=9.0):
        pass


async def test_the_budget_window_forgets_charges_older_than_a_minute() -> None:
    clock = FakeClock()
    queue = FairQueue(AdmissionSettings(budget=10.0), clock=clock)
    for _ in range(1000):
        async with queue.admit("viewer", metered=True):
            clock.now += 0.001
    assert queue.spent("viewer") == pytest.approx(1.0)

    clock.now += 30.0
    async with queue.admit("viewer", metered=True):
        clock.now += 4.0
    assert queue.spent("viewer") == pytest.approx(5.0)
    clock.now += 31.0  # the first 1000 charges leave the window, the last one stays
    assert queue.spent("viewer") == pytest.approx(4.0)
    clock.now += 60.0
    assert queue.spent("viewer") == 0.0
    with pytest.raises(OverBudget):
        async with queue.admit("viewer", metered=True, estimate=10.5):
            pass
