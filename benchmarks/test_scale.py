"""Scale: the paged list tools against the ``large`` scenario (100,000 contacts in 50,000
AORs, 50,000 dialogs), and the MCP server's peak memory.

Page time (``test_page_time``): the server side of one tool call, ``MCPServer.call_tool``
in this process (argument validation, gate, MI call, paging, output validation, audit
record on tmpfs), with ``limit=500`` (pages also stop at the tools' 64 KB result bound).
Each tool is walked once from the first page to the last, keeping every cursor; then the
first, the middle and the last page are each requested again, several times:

* ``registrations_list`` pages by **snapshot**: its first page fetches the whole
  ``ul_dump`` and keeps the matches; later pages read the snapshot by cursor;
* ``dialogs_list`` pages **natively**: each page is one ``dlg_list`` with
  ``index``/``counter``, so the simulator walks to the page's position each time.

The MCP SDK client is left out of page times: its own JSON-schema check of each result
costs more than the server's whole page (``test_server_peak_memory`` records what a
stdio client sees, for comparison).

Peak memory (``test_server_peak_memory``): the real server, ``opensips-mcp serve`` on
stdio, in a process of its own, driven by an MCP client in this one; the kernel's
high-water mark of its resident memory (``VmHWM`` in ``/proc/PID/status``) is read after
one agent's look around (the first page of ``registrations_list`` and three more, five
pages of ``dialogs_list``): the figure held to the target. Then two more first pages of
``registrations_list`` show the worst case the snapshot store allows (it keeps at most
250,000 items: two 100,000-contact snapshots held while a third is fetched).

Under ``--benchmark-disable`` (the smoke run) the quiet scenario stands in for the large
one, so the run stays quick.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from benchmarks.harness import (
    Batch,
    LoopThread,
    Samples,
    SimProcess,
    Sizes,
    measure,
    proc_memory_kib,
)
from benchmarks.storage import audit_dir
from benchmarks.test_mcp_overhead import _settings, started
from opensips_mcp.server import OpenSIPSMCP, build_server

LIMIT = 500
TOOLS = ("registrations_list", "dialogs_list")
SHORT = {"registrations_list": "registrations", "dialogs_list": "dialogs"}
# "first" last: each first page of registrations_list takes a new snapshot, which may
# evict the one whose cursors the middle and last pages use.
POSITIONS = ("middle", "last", "first")


@pytest.fixture(scope="module")
def large_sim(sizes: Sizes) -> Iterator[SimProcess]:
    """The simulator with the large scenario (quiet in the smoke run)."""
    with SimProcess("quiet" if sizes.quick else "large") as sim:
        yield sim


@dataclass
class Walk:
    """One tool walked from its first page to its last."""

    cursors: list[str | None] = field(default_factory=list)
    """The cursor that asks for each page (None for the first)."""
    items: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


@dataclass
class Walker:
    """An in-process server against the large simulator, and its tools' walks."""

    aio: LoopThread
    server: OpenSIPSMCP
    walks: dict[str, Walk] = field(default_factory=dict)

    def call(self, tool: str, cursor: str | None) -> tuple[dict[str, Any], float]:
        """One page: its structured content (asserting it is a page, not an error) and
        the seconds it took, timed inside the event loop."""
        args: dict[str, Any] = {"limit": LIMIT}
        if cursor is not None:
            args["cursor"] = cursor

        async def timed() -> tuple[Any, float]:
            started_at = time.perf_counter()
            result = await self.server.call_tool(tool, args)
            return result, time.perf_counter() - started_at

        result, seconds = self.aio.run(timed())
        assert not getattr(result, "is_error", False), result
        content = result.structured_content
        assert content is not None and not content.get("snapshot_expired"), content
        return content, seconds

    def walk(self, tool: str) -> Walk:
        """Every page of ``tool``, once (cached)."""
        if tool not in self.walks:
            walk = Walk()
            cursor: str | None = None
            while True:
                page, seconds = self.call(tool, cursor)
                walk.seconds.append(seconds)
                walk.cursors.append(cursor)
                walk.items.append(page["returned"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            self.walks[tool] = walk
        return self.walks[tool]


@pytest.fixture(scope="module")
def walker(loop_thread: LoopThread, large_sim: SimProcess) -> Iterator[Walker]:
    """A server in this process, started, its audit log on tmpfs."""
    with audit_dir("tmpfs") as directory:
        # page time is measured, not the viewer's MI-time budget (20 s/min), which the
        # rounds over 50,000 dialogs would use up and turn into over_budget refusals
        settings = _settings(large_sim, directory / "audit.jsonl", mi_viewer_budget=0.0)
        server = build_server(settings)
        loop_thread.enter(started(server.runtime))
        yield Walker(loop_thread, server)
        loop_thread.release()


@pytest.mark.benchmark(group="scale")
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: SHORT[t])
def test_page_time(benchmark: Any, walker: Walker, sizes: Sizes, tool: str, position: str) -> None:
    walk = walker.walk(tool)
    index = {"first": 0, "middle": len(walk.cursors) // 2, "last": len(walk.cursors) - 1}[position]
    cursor = walk.cursors[index]

    def one_round() -> Batch:
        page, elapsed = walker.call(tool, cursor)
        assert page["returned"] == walk.items[index], (page["returned"], walk.items[index])
        return Batch(elapsed, [elapsed])

    # Native paging costs about the same per page, so load on the machine could tip the
    # ratio: pair each round of a later dialogs page with a round of the first page. (A
    # first page of registrations_list costs seconds and would evict the snapshot.)
    first = Samples()

    def first_page() -> None:
        _, elapsed = walker.call(tool, None)
        first.add(Batch(elapsed, [elapsed]))

    paired = tool == "dialogs_list" and position != "first"
    rounds = 3 if tool == "registrations_list" and position == "first" else 10
    samples = measure(
        benchmark, sizes.rounds(rounds), one_round, between=first_page if paired else None
    )
    name = SHORT[tool]
    benchmark.extra_info.update(
        samples.summary(),
        paired={"first": first.summary()} if paired else {},
        section="scale",
        kind="page",
        tool=name,
        page=f"{position} ({index + 1} of {len(walk.cursors)})",
        items=walk.items[index],
        pages=len(walk.cursors),
        walk_seconds=round(sum(walk.seconds), 2),
        figure="p50_ms",
        baselines=[] if position == "first" else [f"test_page_time[{name}-first]"],
    )


def _children_named(name: str) -> list[int]:
    """Processes whose parent is this one and whose command line mentions ``name``."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and name in cmdline:
            found.append(int(entry.name))
    return found


async def _timed_call(client: Client, tool: str, cursor: str | None) -> tuple[Any, float]:
    args: dict[str, Any] = {"limit": LIMIT}
    if cursor is not None:
        args["cursor"] = cursor
    started_at = time.perf_counter()
    result = await client.call_tool(tool, args)
    elapsed_ms = (time.perf_counter() - started_at) * 1000
    assert not result.is_error, result
    assert result.structured_content is not None
    return result.structured_content, elapsed_ms


async def _one_agent(client: Client) -> dict[str, float]:
    """One agent's look around: registrations (first page and 3 more), dialogs (5 pages).
    Returns what the stdio client saw, in ms."""
    seen: dict[str, float] = {}
    page, seen["client_seen_registrations_first_ms"] = await _timed_call(
        client, "registrations_list", None
    )
    for _ in range(3):
        if page["next_cursor"] is None:
            break
        page, seen["client_seen_registrations_next_ms"] = await _timed_call(
            client, "registrations_list", page["next_cursor"]
        )
    page, seen["client_seen_dialogs_first_ms"] = await _timed_call(client, "dialogs_list", None)
    for _ in range(4):
        if page["next_cursor"] is None:
            break
        page, seen["client_seen_dialogs_next_ms"] = await _timed_call(
            client, "dialogs_list", page["next_cursor"]
        )
    return seen


async def _more_snapshots(client: Client) -> None:
    """Two more first pages of registrations_list: with three 100,000-item snapshots
    asked for, the store (250,000 items at most) holds two and evicts the oldest."""
    for _ in range(2):
        await _timed_call(client, "registrations_list", None)


@pytest.mark.benchmark(group="scale")
def test_server_peak_memory(
    benchmark: Any, loop_thread: LoopThread, large_sim: SimProcess, sizes: Sizes
) -> None:
    script = Path(sys.executable).with_name("opensips-mcp")
    with audit_dir("tmpfs") as directory:
        params = StdioServerParameters(
            command=str(script),
            args=[
                "serve",
                *("--mi-url", large_sim.url),
                *("--audit-log", str(directory / "audit.jsonl")),
                *("--log-level", "WARNING"),
            ],
        )
        client = loop_thread.enter(Client(params))
        pids = _children_named("opensips-mcp")
        assert len(pids) == 1, pids
        pid = pids[0]
        idle = proc_memory_kib(pid)
        seen: dict[str, float] = {}

        def one_round() -> Batch:
            started_at = time.perf_counter()
            seen.update(loop_thread.run(_one_agent(client)))
            elapsed = time.perf_counter() - started_at
            return Batch(elapsed, [elapsed])

        measure(benchmark, 1, one_round, warmup=False)
        one_agent = proc_memory_kib(pid)
        loop_thread.run(_more_snapshots(client))
        worst = proc_memory_kib(pid)
        loop_thread.release()
    benchmark.extra_info.update(
        {k: round(v, 1) for k, v in seen.items()},
        section="scale",
        kind="memory",
        method="`opensips-mcp serve` (stdio) in its own process; the kernel's peak resident "
        "set (VmHWM in /proc/PID/status) read after one agent's look around (first page of "
        "registrations_list and 3 more, 5 pages of dialogs_list): peak_rss_mb; then after "
        "two more first pages of registrations_list (the snapshot store's worst case: two "
        "100,000-item snapshots held while a third is fetched): peak_rss_worst_case_mb",
        scenario=large_sim.scenario,
        idle_rss_mb=round(idle["VmRSS"] / 1024, 1),
        peak_rss_mb=round(one_agent["VmHWM"] / 1024, 1),
        rss_after_mb=round(one_agent["VmRSS"] / 1024, 1),
        peak_rss_worst_case_mb=round(worst["VmHWM"] / 1024, 1),
        rss_after_worst_case_mb=round(worst["VmRSS"] / 1024, 1),
        figure="peak_rss_mb",
    )
