"""MCP overhead: ``mi_execute("uptime")`` through MCP, beside a direct MI client call.

All at 1 in flight against the MI server of the run (``mi_server``: the OpenSIPS named by
``OPENSIPS_MI_URL``, else the quiet simulator process), so the difference in latency is
what the MCP layers add to one call: the client and server sessions, tool argument and
output validation, the runtime's resolve + gate, and the audit record (fsynced).

* ``test_direct_mi_call``: `MIClient.call` (the baseline);
* ``test_mcp_in_memory``: ``mcp.Client(server)`` on the in-memory transport, the audit log
  on tmpfs (``/dev/shm``) or on disk (a temp dir under ``/tmp``);
* ``test_mcp_streamable_http``: ``mcp.Client`` over streamable HTTP to the same server
  served by uvicorn on 127.0.0.1 (port 0), audit log on tmpfs.

Three more split the in-memory overhead by layer: ``test_runtime_run_mi`` (resolve, gate,
MI call, audit record: no MCP), ``test_server_call_tool`` (``MCPServer.call_tool``: the
server side, no client or session) and ``test_mcp_sdk_floor`` (the MCP SDK alone: a
no-op tool in memory, what any tool costs).

The MCP client and server share the benchmark's event loop (and core): at 1 in flight
they never run at the same time, so the added latency is the sum of both sides' work,
as a caller waiting on the answer sees it.

``test_mcp_e2e[asyncio|uvloop]`` is issue 13's end-to-end target: ``mi_execute("uptime")``
through ``mcp.Client(server)`` in memory, the audit log on disk (fsynced: the fsyncs per
call are counted), at 1 in flight, in rounds paired with its two baselines on the same
event loop: direct ``MIClient.call`` and the MCP SDK's own floor (a no-op tool in memory).
It runs on asyncio and on uvloop; the report judges the loop ``serve`` would use
(:func:`opensips_mcp.eventloop.uvloop_available`).

Each benchmark above the baseline is **paired**: before each of its rounds, a round of
direct MI calls runs (a client of its own), stored under ``paired.direct``; the added
latency is read against that, so the machine's changing load hits both alike.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from pydantic import BaseModel

from benchmarks.harness import (
    Batch,
    LoopThread,
    Samples,
    Sizes,
    closed_loop,
    measure,
)
from benchmarks.servers import MIServer
from benchmarks.storage import audit_dir, mount_of
from opensips_mcp.catalog import AccessLevel
from opensips_mcp.eventloop import uvloop_available
from opensips_mcp.gate import Role
from opensips_mcp.mi import MIClient, MISettings
from opensips_mcp.runtime import Runtime
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings
from opensips_mcp.transport_http import MCP_PATH, build_http_app, make_uvicorn

CALLS = 400
ROUNDS = 5
DIRECT = "test_direct_mi_call"


def _settings(sim: MIServer, audit_log: Path, **changes: Any) -> Settings:
    return Settings(
        mi_url=sim.url,
        role=Role.VIEWER,
        principal="bench",
        audit_log=audit_log,
        log_level="WARNING",
        **changes,
    )


def _check(result: Any) -> None:
    assert not result.is_error, result
    structured = result.structured_content
    assert structured is not None and structured["command"] == "uptime", structured


@pytest.fixture(params=["tmpfs", "disk"])
def audit_log(request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    """(kind, path) of an audit log file on tmpfs or on disk, removed afterwards."""
    with audit_dir(request.param) as directory:
        yield request.param, directory / "audit.jsonl"


def _direct_round(aio: LoopThread, sim: MIServer, calls: int) -> Callable[[], Batch]:
    """A function running one round of direct MI calls (1 in flight)."""
    client = aio.enter(MIClient(MISettings(url=sim.url)))

    async def call(_: int) -> object:
        return await client.call("uptime", None, level=AccessLevel.READ)

    return lambda: aio.run(closed_loop(call, calls, 1))


@pytest.mark.benchmark(group="mcp_overhead")
def test_direct_mi_call(benchmark: Any, aio: LoopThread, mi_server: MIServer, sizes: Sizes) -> None:
    one_round = _direct_round(aio, mi_server, sizes.calls(CALLS))
    samples = measure(benchmark, sizes.rounds(ROUNDS), one_round)
    benchmark.extra_info.update(
        samples.summary(),
        section="mcp_overhead",
        server=mi_server.description,
        path="MIClient.call('uptime')",
        figure="p50_ms",
    )


def _bench_layer(
    benchmark: Any,
    aio: LoopThread,
    sim: MIServer,
    sizes: Sizes,
    call: Callable[[int], Awaitable[Any]],
    path: str,
    **info: Any,
) -> None:
    """Measure ``call`` at 1 in flight, paired with rounds of direct MI calls."""
    direct_round = _direct_round(aio, sim, sizes.calls(CALLS))
    direct = Samples()
    samples = measure(
        benchmark,
        sizes.rounds(ROUNDS),
        lambda: aio.run(closed_loop(call, sizes.calls(CALLS), 1)),
        between=lambda: direct.add(direct_round()),
    )
    benchmark.extra_info.update(
        samples.summary(),
        section="mcp_overhead",
        server=sim.description,
        path=path,
        paired={"direct": direct.summary()},
        figure="p50_ms",
        baselines=[DIRECT],
        **info,
    )


def _bench_mcp(
    benchmark: Any,
    aio: LoopThread,
    sim: MIServer,
    client: Client,
    sizes: Sizes,
    path: str,
    **info: Any,
) -> None:
    _check(aio.run(client.call_tool("mi_execute", {"command": "uptime"})))

    async def call(_: int) -> object:
        return await client.call_tool("mi_execute", {"command": "uptime"})

    _bench_layer(benchmark, aio, sim, sizes, call, path, **info)
    _check(aio.run(client.call_tool("mi_execute", {"command": "uptime"})))


@pytest.mark.benchmark(group="mcp_overhead")
def test_mcp_in_memory(
    benchmark: Any,
    aio: LoopThread,
    mi_server: MIServer,
    sizes: Sizes,
    audit_log: tuple[str, Path],
) -> None:
    kind, path = audit_log
    server = build_server(_settings(mi_server, path))
    client = aio.enter(Client(server))
    _bench_mcp(
        benchmark, aio, mi_server, client, sizes, "mcp.Client(server), in memory", audit=kind
    )


@asynccontextmanager
async def started(runtime: Runtime) -> AsyncIterator[Runtime]:
    """The runtime between start and stop, as the server's lifespan runs it."""
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@pytest.mark.benchmark(group="mcp_overhead")
def test_runtime_run_mi(benchmark: Any, aio: LoopThread, mi_server: MIServer, sizes: Sizes) -> None:
    """No MCP at all: resolve, gate, MI call and audit record (tmpfs), as every tool does."""
    with audit_dir("tmpfs") as directory:
        server = build_server(_settings(mi_server, directory / "audit.jsonl"))
        runtime = aio.enter(started(server.runtime))

        async def call(_: int) -> object:
            return await runtime.run_mi(None, tool="mi_execute", command="uptime")

        _bench_layer(
            benchmark,
            aio,
            mi_server,
            sizes,
            call,
            "Runtime.run_mi: gate + MI call + audit, no MCP",
            audit="tmpfs",
        )
        aio.release()


@pytest.mark.benchmark(group="mcp_overhead")
def test_server_call_tool(
    benchmark: Any, aio: LoopThread, mi_server: MIServer, sizes: Sizes
) -> None:
    """The server side alone: ``MCPServer.call_tool`` (argument validation, the tool, the
    result's conversion and output validation), without a client or a session."""
    with audit_dir("tmpfs") as directory:
        server = build_server(_settings(mi_server, directory / "audit.jsonl"))
        aio.enter(started(server.runtime))
        first = aio.run(server.call_tool("mi_execute", {"command": "uptime"}))
        assert not getattr(first, "is_error", False), first

        async def call(_: int) -> object:
            return await server.call_tool("mi_execute", {"command": "uptime"})

        _bench_layer(
            benchmark,
            aio,
            mi_server,
            sizes,
            call,
            "MCPServer.call_tool: server side only, no client or session",
            audit="tmpfs",
        )
        aio.release()


class _Answer(BaseModel):
    command: str
    result: dict[str, str]


def _floor_server() -> MCPServer[None]:
    """A bare ``MCPServer`` with one tool, ``noop``, answering a small structured result."""
    server: MCPServer[None] = MCPServer("floor")

    @server.tool()
    async def noop(command: str) -> _Answer:
        return _Answer(command=command, result={"Up time": "227 [sec]"})

    return server


@pytest.mark.benchmark(group="mcp_overhead")
def test_mcp_sdk_floor(benchmark: Any, aio: LoopThread, sizes: Sizes) -> None:
    """The MCP SDK alone: a bare ``MCPServer`` whose one tool returns a small structured
    answer at once (no MI, no gate, no audit), through the in-memory ``Client``. Its
    latency is the part of the overhead this project's code cannot remove."""
    client = aio.enter(Client(_floor_server()))

    async def call(_: int) -> object:
        return await client.call_tool("noop", {"command": "uptime"})

    first = aio.run(client.call_tool("noop", {"command": "uptime"}))
    assert not first.is_error and first.structured_content is not None, first
    samples = measure(
        benchmark,
        sizes.rounds(ROUNDS),
        lambda: aio.run(closed_loop(call, sizes.calls(CALLS), 1)),
    )
    benchmark.extra_info.update(
        samples.summary(),
        section="mcp_overhead",
        kind="sdk_floor",
        path="MCP SDK alone: a no-op tool through mcp.Client(server), in memory",
        figure="p50_ms",
    )


@asynccontextmanager
async def serving_http(settings: Settings) -> AsyncIterator[str]:
    """The server over streamable HTTP on 127.0.0.1 (a free port); yields the MCP URL."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets accepted from a socket
    # whose proto is IPPROTO_TCP. With proto 0, every small reply on a kept-alive
    # connection waits ~40 ms for the client's delayed ACK (Nagle). uvicorn binding the
    # host/port itself, as `opensips-mcp serve` does, gets IPPROTO_TCP from getaddrinfo.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    settings = settings.with_changes(transport="http", host="127.0.0.1", port=port)
    app, _ = build_http_app(settings, None)
    server = make_uvicorn(settings, app)
    # The socket listens already: requests wait in its backlog until uvicorn is up.
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}{MCP_PATH}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
        sock.close()


@pytest.mark.benchmark(group="mcp_overhead")
def test_mcp_streamable_http(
    benchmark: Any, aio: LoopThread, mi_server: MIServer, sizes: Sizes
) -> None:
    with audit_dir("tmpfs") as directory:
        url = aio.enter(serving_http(_settings(mi_server, directory / "audit.jsonl")))
        http = aio.enter(httpx2.AsyncClient(timeout=30))
        client = aio.enter(Client(streamable_http_client(url, http_client=http)))
        _bench_mcp(
            benchmark,
            aio,
            mi_server,
            client,
            sizes,
            "mcp.Client over streamable HTTP (uvicorn, loopback)",
            audit="tmpfs",
        )
        aio.release()


# --- issue 13's end-to-end target ---------------------------------------------------------

E2E_CALLS = 1000
E2E_ROUNDS = 7


def _new_loop(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        new_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return new_loop
    return asyncio.new_event_loop


@pytest.mark.parametrize(
    ("loop_name", "in_flight"),
    [("asyncio", 1), ("uvloop", 1), ("uvloop", 8)],
    ids=["asyncio-1", "uvloop-1", "uvloop-8"],
)
@pytest.mark.benchmark(group="mcp_e2e")
def test_mcp_e2e(
    benchmark: Any, mi_server: MIServer, sizes: Sizes, loop_name: str, in_flight: int
) -> None:
    """``mi_execute("uptime")`` through ``mcp.Client(server)`` in memory, audit log on disk
    (every record fsynced before the result returns), ``in_flight`` calls at a time, on
    ``loop_name``; each round is paired with a round of direct ``MIClient.call`` and one of
    the SDK's no-op tool, on the same loop and at the same concurrency, run just before it.
    At 8 in flight the calls share fsyncs (group commit: fewer than 1 per call)."""
    calls, rounds = sizes.calls(E2E_CALLS), sizes.rounds(E2E_ROUNDS)
    with LoopThread(_new_loop(loop_name)) as aio, audit_dir("disk") as directory:
        server = build_server(_settings(mi_server, directory / "audit.jsonl"))
        client = aio.enter(Client(server))
        floor = aio.enter(Client(_floor_server()))
        mi = aio.enter(MIClient(MISettings(url=mi_server.url)))
        _check(aio.run(client.call_tool("mi_execute", {"command": "uptime"})))
        writer = server.runtime.audit.writer

        async def e2e(_: int) -> object:
            return await client.call_tool("mi_execute", {"command": "uptime"})

        async def direct(_: int) -> object:
            return await mi.call("uptime", None, level=AccessLevel.READ)

        async def noop(_: int) -> object:
            return await floor.call_tool("noop", {"command": "uptime"})

        paired = {"direct": Samples(), "sdk_floor": Samples()}

        def baselines() -> None:
            paired["direct"].add(aio.run(closed_loop(direct, calls, in_flight)))
            paired["sdk_floor"].add(aio.run(closed_loop(noop, calls, in_flight)))

        if not benchmark.disabled:
            baselines()  # warm-up of both baselines (`measure` warms up the benchmark)
        counts: list[tuple[int, int]] = []  # (fsyncs, records stored) of each round

        def one_round() -> Batch:
            fsyncs, stored = writer.fsyncs, writer.stored
            batch = aio.run(closed_loop(e2e, calls, in_flight))
            counts.append((writer.fsyncs - fsyncs, writer.stored - stored))
            return batch

        samples = measure(benchmark, rounds, one_round, between=baselines)
        _check(aio.run(client.call_tool("mi_execute", {"command": "uptime"})))
        fstype = mount_of(directory).fstype
        aio.release()
    measured = counts[-rounds:]  # the warm-up round left out
    benchmark.extra_info.update(
        samples.summary(),
        section="mcp_e2e",
        server=mi_server.description,
        loop=loop_name,
        in_flight=in_flight,
        serve_loop=(loop_name == "uvloop") == uvloop_available(),
        path=f'mi_execute("uptime") through mcp.Client(server), in memory, {in_flight} in flight',
        audit="disk",
        audit_fs=fstype,
        fsyncs_per_call=round(sum(f for f, _ in measured) / samples.calls, 3),
        records_per_call=round(sum(r for _, r in measured) / samples.calls, 3),
        paired={name: s.summary() for name, s in paired.items()},
        figure="calls_per_s",
    )
