"""`opensips-mcp serve` on stdio stopped by a signal: the call in flight keeps its record.

A client (or systemd, or a terminal) stops a stdio server with SIGTERM, SIGHUP or SIGINT
while stdin stays open. Python's default ended the process at once: a write in flight
kept only its ``pending`` record, and the exit status said "killed".
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from .helpers import FakeMI, audit_records, trail_lines

SCRIPT = str(Path(sys.executable).with_name("opensips-mcp"))
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "signal-test", "version": "1"},
    },
}


async def _start(fake_mi: FakeMI, audit: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        SCRIPT,
        "serve",
        "--mi-url",
        fake_mi.url,
        "--audit-log",
        str(audit),
        "--role",
        "admin",
        "--confirm",
        "none",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await _send(proc, INITIALIZE)
    assert proc.stdout is not None
    assert json.loads(await proc.stdout.readline())["id"] == 0
    await _send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    return proc


async def _send(proc: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message).encode() + b"\n")
    await proc.stdin.drain()


async def _stop(proc: asyncio.subprocess.Process, signum: signal.Signals) -> int:
    """Send ``signum`` and return the exit status (killed after 30 s: the test fails)."""
    proc.send_signal(signum)
    try:
        return await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
async def test_a_stop_signal_records_the_write_in_flight_and_exits_cleanly(
    signum: signal.Signals, fake_mi: FakeMI, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    fake_mi.hold["ds_reload"] = asyncio.Event()  # OpenSIPS got it and has not answered
    fake_mi.received["ds_reload"] = asyncio.Event()
    proc = await _start(fake_mi, audit)
    call = {"name": "mi_execute", "arguments": {"command": "ds_reload"}}
    await _send(proc, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call})
    await asyncio.wait_for(fake_mi.received["ds_reload"].wait(), 30)
    status = await _stop(proc, signum)  # stdin stays open, as a client killing its server

    assert status == 0
    assert fake_mi.count("ds_reload") == 1
    pending = [r for r in trail_lines(audit) if r.get("kind") == "pending"]
    [record] = [r for r in audit_records(audit) if r["command"] == "ds_reload"]
    assert len(pending) == 1
    [sent] = [c for c in record["calls"] if c["command"] == "ds_reload"]
    assert sent["call_id"] == pending[0]["call_id"]  # the pending record is closed
    assert record["outcome"] == "unknown"  # sent, and no answer came: it may have run


async def test_an_idle_server_stops_on_sigterm_with_status_0(
    fake_mi: FakeMI, tmp_path: Path
) -> None:
    proc = await _start(fake_mi, tmp_path / "audit.jsonl")
    assert await _stop(proc, signal.SIGTERM) == 0
