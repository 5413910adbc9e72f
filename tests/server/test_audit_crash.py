"""kill -9 in the middle of a stream of writes: the trail still accounts for every write.

`opensips-mcp serve` runs as a subprocess over stdio against the simulator (in this
process, port 0). The test pipes a stream of writes (``dlg_end_dlg``, a unique dialog id
each), reads some answers, and kills the server with SIGKILL (by its PID) at a point
drawn from a seeded random generator. Then:

* every write the simulator's journal shows as received has a ``pending`` or a call
  record naming it (count at the server: the journal is the evidence);
* every answer the client received has its call record;
* ``opensips-mcp audit verify`` passes on the trail left behind;
* a new server started on the trail closes every ``pending`` record left without an
  outcome (``unknown``, ``server stopped``), and ``verify`` still passes.

One kill point runs by default (each run starts two server processes);
``OPENSIPS_MCP_CRASH_RUNS=N`` runs N seeded kill points. ``OPENSIPS_MCP_CRASH_TARGET=URL``
runs them against another MI endpoint with a journal at ``/sim/journal`` of the same
host and port: ``opensips-sim proxy --upstream`` in front of a real OpenSIPS (the writes
are ``dlg_end_dlg`` of dialog ids that do not exist: OpenSIPS answers an error, nothing
changes).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from opensips_mcp.audit import read_records, trail_files, verify_trail
from opensips_mcp.cli import main
from opensips_sim.simulator import Simulator
from opensips_sim.wire import WireServer

SCRIPT = str(Path(sys.executable).with_name("opensips-mcp"))
WRITES = 60
BOUND = 60.0
RUNS = int(os.environ.get("OPENSIPS_MCP_CRASH_RUNS", "1"))
TARGET = os.environ.get("OPENSIPS_MCP_CRASH_TARGET")

Journal = Callable[[], Awaitable[list[dict[str, Any]]]]


def _fetch_journal(mi_url: str) -> list[dict[str, Any]]:
    base = mi_url.rsplit("/", 1)[0]
    with urllib.request.urlopen(f"{base}/sim/journal", timeout=10) as reply:
        entries: list[dict[str, Any]] = json.load(reply)["entries"]
    return entries


@pytest.fixture
async def target() -> AsyncIterator[tuple[str, Journal]]:
    """(MI url, the journal of what reached it): the simulator with the quiet scenario on
    127.0.0.1 port 0, or ``OPENSIPS_MCP_CRASH_TARGET``."""
    if TARGET:
        url = TARGET

        async def remote() -> list[dict[str, Any]]:
            return await asyncio.to_thread(_fetch_journal, url)

        yield url, remote
        return
    simulator = Simulator("quiet", seed=7)
    wire = WireServer(simulator)
    port = await wire.start("127.0.0.1", 0)

    async def local() -> list[dict[str, Any]]:
        return simulator.journal.entries()

    try:
        yield f"http://127.0.0.1:{port}/mi", local
    finally:
        await wire.close()


def _messages(run: str) -> list[dict[str, Any]]:
    head: list[dict[str, Any]] = [
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "crash-test", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]
    calls = [
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {
                "name": "mi_execute",
                "arguments": {"command": "dlg_end_dlg", "params": {"dialog_id": f"{run}:{i}"}},
            },
        }
        for i in range(1, WRITES + 1)
    ]
    return head + calls


async def _serve(url: str, audit: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        SCRIPT,
        "serve",
        "--mi-url",
        url,
        "--audit-log",
        str(audit),
        "--audit-max-bytes",
        "4096",  # rotations happen during the stream, and the kill may hit one
        "--audit-keep",
        "1000",
        "--role",
        "admin",
        "--confirm",
        "none",
        "--principal",
        "crash-test",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()  # SIGKILL to this PID
    await asyncio.wait_for(proc.wait(), BOUND)


@pytest.mark.parametrize("seed", range(1, RUNS + 1))
async def test_kill_9_during_a_write_stream_leaves_a_complete_verifiable_trail(
    target: tuple[str, Journal], tmp_path: Path, seed: int
) -> None:
    url, journal = target
    run = f"{uuid.uuid4().hex[:8]}-{seed}"
    audit = tmp_path / "audit.jsonl"
    rng = random.Random(seed)
    answers_before_kill = rng.randrange(0, WRITES // 2)
    proc = await _serve(url, audit)
    answered: list[int] = []
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in _messages(run)))
        await proc.stdin.drain()
        async with asyncio.timeout(BOUND):
            while len(answered) < answers_before_kill + 1:  # + the initialize answer
                line = await proc.stdout.readline()
                assert line, "the server closed stdout early"
                answered.append(json.loads(line)["id"])
    finally:
        await _kill(proc)

    received = {
        e["params"]["dialog_id"]
        for e in await journal()
        if e["method"] == "dlg_end_dlg"
        and isinstance(e["params"], dict)
        and str(e["params"].get("dialog_id", "")).startswith(f"{run}:")
    }
    records = list(read_records(audit))
    intended = {r["params"]["dialog_id"] for r in records if r["kind"] == "pending"}
    finished = {r["params"]["dialog_id"]: r for r in records if r["kind"] == "call"}
    assert received <= intended | set(finished), received - intended - set(finished)
    for answer in answered[1:]:
        assert f"{run}:{answer}" in finished
    checked = verify_trail(audit)
    assert checked.ok, checked.broken
    sizes = [f.stat().st_size for f in trail_files(audit)]
    assert len(sizes) > 1 or sum(sizes) <= 4096, sizes  # rotated when it had to
    assert main(["audit", "verify", "--audit-log", str(audit)]) == 0
    orphans = set(checked.open_intents)

    # A new server on the same trail closes what the dead one left open.
    restart = await _serve(url, audit)
    try:
        assert restart.stdin is not None and restart.stdout is not None
        restart.stdin.write(json.dumps(_messages(run)[0]).encode() + b"\n")
        await restart.stdin.drain()
        async with asyncio.timeout(BOUND):
            assert json.loads(await restart.stdout.readline())["id"] == 0
            restart.stdin.close()
            await restart.wait()
    finally:
        await _kill(restart)
    after = verify_trail(audit)
    assert after.ok, after.broken
    assert after.open_intents == []
    closing = [r for r in read_records(audit) if r["kind"] == "closing"]
    assert {r["call_id"] for r in closing} == orphans
    assert all((r["outcome"], r["reason"]) == ("unknown", "server stopped") for r in closing)
    print(
        f"seed {seed}: killed after {len(answered) - 1} answers; journal {len(received)} "
        f"writes; {len(finished)} call records; {len(orphans)} closed as unknown"
    )
