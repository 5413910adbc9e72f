"""MI client throughput: ``uptime`` and ``dlg_list`` calls/s at 1, 8 and 32 in flight.

Three clients against the same server: the OpenSIPS named by ``OPENSIPS_MI_URL`` when it
is set (``make lab`` prints it), else a simulator process (quiet scenario); the
``mi_server`` fixture (`benchmarks.servers`) chooses, and each benchmark records which in
``server``:

* ``test_mi_client``: this project's `MIClient`, default settings (pool of 8 keep-alive
  connections, up to 32 in flight);
* ``test_raw_floor``: the floor (`benchmarks.rawclient`): one pre-built request per write
  on N kept-alive connections for N in flight;
* ``test_opensips_package``: the PyPI ``opensips`` package's MI client
  (``OpenSIPSMI(conn="http", url=...)``, urllib, a new connection per call), which is
  synchronous: 1 in flight.

Each records calls/s (the median of its rounds' rates), p50/p99 latency and the CPU
shares during its rounds: ``sim_cpu`` (the server: the simulator process, or OpenSIPS's
processes) and ``client_cpu`` (this
process); near 1.0, that process kept a core busy and set the pace.

The machine's other work comes and goes within seconds, so the ratios the targets judge
are **paired**: ``test_mi_client`` runs a round of the raw floor (same in flight) and, at
1 and 32 in flight, a round of the ``opensips`` package before each of its own rounds,
and stores those baselines' figures under ``paired``. The stand-alone baseline
benchmarks give each baseline's own latency figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opensips.mi import OpenSIPSMI

from benchmarks.harness import (
    Batch,
    LoopThread,
    Samples,
    SimCpu,
    Sizes,
    closed_loop,
    measure,
    sync_loop,
)
from benchmarks.rawclient import RawPool, build_request
from benchmarks.servers import MIServer
from opensips_mcp.catalog import AccessLevel
from opensips_mcp.mi import MIClient, MIError, MISettings

COMMANDS = ("uptime", "dlg_list")
IN_FLIGHT = (1, 8, 32)
CASES = [pytest.param(c, n, id=f"{c}-{n}") for c in COMMANDS for n in IN_FLIGHT]
CALLS = 1500
RAW_CALLS = 2000
PACKAGE_CALLS = 500
ROUNDS = 4
PAIRED_WITH_PACKAGE = (1, 32)


def _check(result: Any, command: str) -> None:
    # A wrong answer at speed is no answer: make sure each client got the real thing.
    if command == "uptime":
        assert isinstance(result, dict) and "Up time" in result, result
    else:
        assert isinstance(result, dict) and "Dialogs" in result, result


def _raw_round(
    aio: LoopThread, sim: MIServer, command: str, size: int, calls: int
) -> Callable[[], Batch]:
    """A function running one round of the raw floor on ``size`` fresh connections."""
    host, port = sim.host_port
    pool = aio.enter(RawPool(host, port, size))
    request = build_request(host, port, command)
    first = aio.run(pool.connections[0].exchange(request))
    assert first.startswith(b'{"jsonrpc":"2.0","result":'), first[:80]

    async def call(worker: int) -> bytes:
        return await pool.connections[worker].exchange(request)

    return lambda: aio.run(closed_loop(call, calls, size))


def _package_round(sim: MIServer, command: str, calls: int) -> Callable[[], Batch]:
    """A function running one round of the ``opensips`` package (1 in flight)."""
    mi = OpenSIPSMI(conn="http", url=sim.url)
    _check(mi.execute(command), command)
    return lambda: sync_loop(lambda: mi.execute(command), calls)


@pytest.mark.benchmark(group="mi_client")
@pytest.mark.parametrize(("command", "in_flight"), CASES)
def test_mi_client(
    benchmark: Any,
    aio: LoopThread,
    mi_server: MIServer,
    sizes: Sizes,
    command: str,
    in_flight: int,
) -> None:
    settings = MISettings(url=mi_server.url)
    client = aio.enter(MIClient(settings))
    _check(aio.run(client.call(command, None, level=AccessLevel.READ)).result, command)

    async def call(_: int) -> object:
        return await client.call(command, None, level=AccessLevel.READ)

    calls = sizes.calls(CALLS)
    raw_round = _raw_round(aio, mi_server, command, in_flight, sizes.calls(RAW_CALLS))
    package_round = _package_round(mi_server, command, sizes.calls(PACKAGE_CALLS))
    paired = {"raw_floor": Samples(), "opensips_package": Samples()}

    def baselines() -> None:
        paired["raw_floor"].add(raw_round())
        if in_flight in PAIRED_WITH_PACKAGE:
            paired["opensips_package"].add(package_round())

    sim_cpu = SimCpu(mi_server)
    samples = measure(
        benchmark,
        sizes.rounds(ROUNDS),
        # An MI error is a figure here (``errors``), not a reason to stop measuring.
        sim_cpu.wrap(lambda: aio.run(closed_loop(call, calls, in_flight, tolerate=(MIError,)))),
        between=baselines,
    )
    benchmark.extra_info.update(
        samples.summary(),
        section="mi_client",
        server=mi_server.description,
        client="opensips_mcp.MIClient",
        command=command,
        in_flight=in_flight,
        pool_size=settings.pool_size,
        sim_cpu=sim_cpu.share,
        client_cpu=sim_cpu.client_share,
        paired={name: s.summary() for name, s in paired.items() if s.batches},
        figure="calls_per_s",
        baselines=[f"test_raw_floor[{command}-{in_flight}]", f"test_opensips_package[{command}]"],
    )


@pytest.mark.benchmark(group="mi_client")
def test_mi_client_in_flight_bounded_to_pool(
    benchmark: Any, aio: LoopThread, mi_server: MIServer, sizes: Sizes
) -> None:
    """``uptime`` at 32 in flight with ``max_in_flight`` = ``pool_size`` = 8: the client's
    own FIFO semaphore queues the callers, not aiohttp's connector (compare the p99)."""
    settings = MISettings(url=mi_server.url, pool_size=8, max_in_flight=8)
    client = aio.enter(MIClient(settings))

    async def call(_: int) -> object:
        return await client.call("uptime", None, level=AccessLevel.READ)

    calls = sizes.calls(CALLS)
    sim_cpu = SimCpu(mi_server)
    samples = measure(
        benchmark,
        sizes.rounds(ROUNDS),
        sim_cpu.wrap(lambda: aio.run(closed_loop(call, calls, 32, tolerate=(MIError,)))),
    )
    benchmark.extra_info.update(
        samples.summary(),
        section="mi_client",
        server=mi_server.description,
        client="opensips_mcp.MIClient, max_in_flight=8",
        command="uptime",
        in_flight=32,
        pool_size=settings.pool_size,
        sim_cpu=sim_cpu.share,
        client_cpu=sim_cpu.client_share,
        figure="calls_per_s",
        baselines=["test_raw_floor[uptime-32]", "test_mi_client[uptime-32]"],
    )


@pytest.mark.benchmark(group="mi_client")
@pytest.mark.parametrize(("command", "in_flight"), CASES)
def test_raw_floor(
    benchmark: Any,
    aio: LoopThread,
    mi_server: MIServer,
    sizes: Sizes,
    command: str,
    in_flight: int,
) -> None:
    one_round = _raw_round(aio, mi_server, command, in_flight, sizes.calls(RAW_CALLS))
    sim_cpu = SimCpu(mi_server)
    samples = measure(benchmark, sizes.rounds(ROUNDS), sim_cpu.wrap(one_round))
    benchmark.extra_info.update(
        samples.summary(),
        section="mi_client",
        server=mi_server.description,
        client="raw asyncio socket (floor)",
        command=command,
        in_flight=in_flight,
        sim_cpu=sim_cpu.share,
        client_cpu=sim_cpu.client_share,
        figure="calls_per_s",
    )


@pytest.mark.benchmark(group="mi_client")
@pytest.mark.parametrize("command", COMMANDS)
def test_opensips_package(benchmark: Any, mi_server: MIServer, sizes: Sizes, command: str) -> None:
    one_round = _package_round(mi_server, command, sizes.calls(PACKAGE_CALLS))
    sim_cpu = SimCpu(mi_server)
    samples = measure(benchmark, sizes.rounds(ROUNDS), sim_cpu.wrap(one_round))
    benchmark.extra_info.update(
        samples.summary(),
        section="mi_client",
        server=mi_server.description,
        client="PyPI opensips (OpenSIPSMI http)",
        command=command,
        in_flight=1,
        sim_cpu=sim_cpu.share,
        client_cpu=sim_cpu.client_share,
        figure="calls_per_s",
    )
