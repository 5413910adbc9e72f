"""mi_fifo reply FIFOs against a real OpenSIPS (``OPENSIPS_MI_FIFO`` from ``lab.env``).

A reply FIFO is kept for later calls only after a whole reply to its own request, under a
fresh name per call; a timed-out call's FIFO is removed, so its late reply is dropped by
OpenSIPS (``mi_open_reply_pipe``: ``ENOENT``, or ``ENXIO`` four times 80 ms apart) and
never reaches the next call.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from opensips_mcp.catalog.levels import AccessLevel
from opensips_mcp.mi import MIClient, MISettings, MITimeoutError

FIFO = os.environ.get("OPENSIPS_MI_FIFO", "")
REPLY_DIR = os.environ.get("OPENSIPS_MI_FIFO_REPLY_DIR", "/tmp/")
RUN_DIR = os.environ.get("LAB_RUN_DIR", "")

pytestmark = pytest.mark.skipif(not FIFO, reason="no OPENSIPS_MI_FIFO (make lab prints it)")


def _client(**overrides: Any) -> MIClient:
    url = f"fifo://{FIFO}?reply_dir={REPLY_DIR}"
    return MIClient(MISettings(url=url, **overrides))


def _ours() -> set[str]:
    return {p.name for p in Path(REPLY_DIR).glob("opensips_mcp_*")}


async def test_concurrent_calls_keep_at_most_max_in_flight_fifos_removed_on_close() -> None:
    before = _ours()
    async with _client(max_in_flight=4, pool_size=4) as mi:
        commands = ["uptime", "version", "which"] * 20
        replies = await asyncio.gather(*(mi.call(c, level=AccessLevel.READ) for c in commands))
        kept = _ours() - before
        assert 1 <= len(kept) <= 4
    assert [type(r.result) for r in replies] == [type(r.result) for r in replies[:3]] * 20
    assert isinstance(replies[0].result, dict) and "Up time" in replies[0].result
    assert _ours() - before == set()


async def test_late_reply_of_a_timed_out_call_is_dropped_and_never_reaches_the_next() -> None:
    log = Path(RUN_DIR) / "opensips.log" if RUN_DIR else None
    offset = log.stat().st_size if log is not None and log.exists() else 0
    # Stall OpenSIPS's MI FIFO process: a request whose reply FIFO nobody reads keeps it
    # retrying (ENXIO) for 4 x 80 ms before it gives up.
    stall = "opensips_mcp_stall_" + secrets.token_hex(8)
    stall_path = os.path.join(REPLY_DIR, stall)
    os.mkfifo(stall_path, 0o600)
    try:
        fd = os.open(FIFO, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b':%s:{"jsonrpc":"2.0","method":"uptime","id":1}\n' % stall.encode())
        finally:
            os.close(fd)
        async with _client(read_timeout=0.1, total_timeout=0.5, max_in_flight=1) as first:
            before = _ours()
            with pytest.raises(MITimeoutError):
                await first.call("version", level=AccessLevel.READ)  # queued behind
            assert _ours() - before == set()  # its FIFO is gone
        async with _client(max_in_flight=1) as second:
            resp = await second.call("uptime", level=AccessLevel.READ)
    finally:
        os.unlink(stall_path)

    assert isinstance(resp.result, dict) and "Up time" in resp.result  # its own answer
    if log is not None and log.exists():
        with log.open("rb") as stream:
            stream.seek(offset)
            text = stream.read().decode(errors="replace")
        dropped = re.findall(r"(?:open error \(|no client at )\S*(opensips_mcp_[0-9a-f]{32})", text)
        assert dropped, text[-2000:]  # the timed-out call's late reply: dropped by OpenSIPS
