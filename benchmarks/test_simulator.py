"""The simulator's own speed: ``uptime`` and ``ul_dump`` requests/s (quiet scenario).

Driven by the raw floor client on 4 connections, which keeps the simulator's single event
loop busy. Two figures: ``calls_per_s`` as observed, and ``calls_per_cpu_s``, requests
per second of simulator CPU time (user + system, from ``/proc``): what it could serve
with a core of its own. A client benchmark whose rate is well below that, and whose
``sim_cpu`` share stays under 1.0, was not held back by the simulator.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.harness import LoopThread, SimProcess, Sizes, closed_loop, measure
from benchmarks.rawclient import RawPool, build_request

CONNECTIONS = 4
CALLS = 3000
ROUNDS = 4


@pytest.mark.benchmark(group="simulator")
@pytest.mark.parametrize("command", ["uptime", "ul_dump"])
def test_simulator_requests_per_second(
    benchmark: Any, aio: LoopThread, quiet_sim: SimProcess, sizes: Sizes, command: str
) -> None:
    host, port = quiet_sim.host_port
    pool = aio.enter(RawPool(host, port, CONNECTIONS))
    request = build_request(host, port, command)
    first = aio.run(pool.connections[0].exchange(request))
    assert first.startswith(b'{"jsonrpc":"2.0","result":'), first[:80]

    async def call(worker: int) -> bytes:
        return await pool.connections[worker].exchange(request)

    calls = sizes.calls(CALLS)
    cpu_before = quiet_sim.cpu_seconds()
    samples = measure(
        benchmark, sizes.rounds(ROUNDS), lambda: aio.run(closed_loop(call, calls, CONNECTIONS))
    )
    cpu = quiet_sim.cpu_seconds() - cpu_before
    summary = samples.summary()
    benchmark.extra_info.update(
        summary,
        section="simulator",
        client=f"raw asyncio socket, {CONNECTIONS} connections",
        command=command,
        in_flight=CONNECTIONS,
        sim_cpu=round(cpu / samples.elapsed, 3),
        # /proc counts CPU in clock ticks (10 ms): a quick run may see none.
        calls_per_cpu_s=round(samples.calls / cpu, 1) if cpu > 0 else None,
        reply_bytes=len(first),
        figure="calls_per_cpu_s",
        baselines=["test_mi_client[uptime-32]"] if command == "uptime" else [],
    )
