"""Calls a test places itself through the lab (SIPp), so ending calls never touches the
lab's held ones. Every SIPp process is bounded (``-m``, ``-timeout``) and killed by PID."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from opensips_mcp.server import OpenSIPSMCP
from tests.lab.aors import aor
from tests.toolsets.helpers import call, content

SIPP_DIR = Path(__file__).resolve().parents[2] / "lab" / "sipp"
#: Bounds of the waits on the lab (seconds).
CONFIRM_WAIT_S = 30.0
END_WAIT_S = 30.0


def sip_target() -> tuple[str, int]:
    """(host, port) of the lab's SIP udp socket, from ``OPENSIPS_SIP`` (lab.env)."""
    raw = os.environ.get("OPENSIPS_SIP", "")
    if not raw:
        pytest.skip("needs OPENSIPS_SIP (udp:HOST:PORT, in the lab's lab.env) to send SIP")
    host, port = raw.removeprefix("udp:").rsplit(":", 1)
    return host, int(port)


def _udp_bound(port: int) -> bool:
    rows = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(row.split()[1].endswith(f":{port:04X}") for row in rows if len(row.split()) > 1)


class TempCalls:
    """``calls`` calls ``caller`` -> ``callee`` held by two SIPp processes while in the block.

    The callee is registered with ``registration_add`` (removed on exit), answered by a SIPp
    UAS on 5075+offset; the UAC runs on 5076+offset; control ports 8898/8899+offset, media
    16030/16040+offset (lab/README.md lists the lab's own ports).
    """

    def __init__(
        self, server: OpenSIPSMCP, *, caller: str, callee: str, calls: int, offset: int
    ) -> None:
        self.server = server
        self.caller = caller
        self.callee = callee
        self.calls = calls
        self.offset = offset
        self.procs: list[subprocess.Popen[bytes]] = []

    async def __aenter__(self) -> TempCalls:
        sipp = shutil.which("sipp")
        if sipp is None:
            pytest.skip("needs SIPp (make lab-deps) to place calls")
        host, sip_port = sip_target()
        uas_port, uac_port = 5075 + self.offset, 5076 + self.offset
        contact = f"sip:{self.callee}@127.0.0.1:{uas_port}"
        args = {"aor": aor(self.callee), "contact": contact}
        content(await call(self.server, "registration_add", args))
        common = ["-i", "127.0.0.1", "-ci", "127.0.0.1", "-nostdin", "-m", str(self.calls)]
        uas = [
            sipp, "-sf", str(SIPP_DIR / "uas_bob.xml"), "-p", str(uas_port), *common,
            "-cp", str(8898 + self.offset), "-mp", str(16030 + self.offset), "-timeout", "120",
        ]  # fmt: skip
        uac = [
            sipp, f"{host}:{sip_port}", "-sf", str(SIPP_DIR / "uac_caller.xml"),
            "-key", "caller", self.caller, "-s", self.callee, "-p", str(uac_port), *common,
            "-l", str(self.calls), "-r", str(self.calls), "-d", "100000",
            "-cp", str(8899 + self.offset), "-mp", str(16040 + self.offset), "-timeout", "120",
        ]  # fmt: skip
        self.procs.append(self._spawn(uas))
        if not await until(lambda: _udp_bound(uas_port), 10.0):
            raise AssertionError(f"the SIPp UAS did not bind udp {uas_port}")
        self.procs.append(self._spawn(uac))
        return self

    @staticmethod
    def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    async def _mine(self) -> list[dict[str, Any]]:
        args = {"from_contains": f"sip:{self.caller}@", "limit": 100}
        listed = content(await call(self.server, "dialogs_list", args))
        dialogs: list[dict[str, Any]] = listed["dialogs"]
        return dialogs

    async def confirmed_ids(self) -> list[str]:
        """The ids of this block's calls once all are confirmed (bounded wait)."""
        found: list[str] = []

        async def all_up() -> bool:
            nonlocal found
            found = [d["id"] for d in await self._mine() if d["state"] == "confirmed"]
            return len(found) >= self.calls

        if not await _until_async(all_up, CONFIRM_WAIT_S):
            raise AssertionError(f"{len(found)} of {self.calls} test calls confirmed")
        return found

    async def wait_gone(self, ids: set[str]) -> None:
        """Wait (bounded) until none of ``ids`` is listed as a live call any more."""

        async def ended() -> bool:
            live = {d["id"] for d in await self._mine() if d["state"] != "deleted"}
            return not (live & ids)

        if not await _until_async(ended, END_WAIT_S):
            raise AssertionError(f"calls {sorted(ids)} still up after {END_WAIT_S}s")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        await call(self.server, "registration_remove", {"aor": aor(self.callee)})


async def until(predicate: Any, timeout: float, step: float = 0.2) -> bool:
    """Whether ``predicate()`` held within ``timeout`` seconds, asked every ``step``: for
    processes outside the test (SIPp, a second OpenSIPS) that signal no readiness."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return bool(predicate())


async def _until_async(predicate: Any, timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step)
    return bool(await predicate())
