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

from benchmarks.harness import LoopThread, SimCpu, SimProcess, Sizes, closed_loop, measure
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
    sim_cpu = SimCpu(quiet_sim)
    samples = measure(
        benchmark,
        sizes.rounds(ROUNDS),
        sim_cpu.wrap(lambda: aio.run(closed_loop(call, calls, CONNECTIONS))),
    )
    benchmark.extra_info.update(
        samples.summary(),
        section="simulator",
        client=f"raw asyncio socket, {CONNECTIONS} connections",
        command=command,
        in_flight=CONNECTIONS,
        sim_cpu=sim_cpu.share,
        client_cpu=sim_cpu.client_share,
        calls_per_cpu_s=sim_cpu.calls_per_cpu_second,
        reply_bytes=len(first),
        figure="calls_per_cpu_s",
        baselines=["test_mi_client[uptime-32]"] if command == "uptime" else [],
    )
