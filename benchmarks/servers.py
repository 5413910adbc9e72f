"""Which MI server the benchmarks measure: the OpenSIPS named by ``OPENSIPS_MI_URL``, else
a simulator process.

``make lab`` (or ``python3 lab/lab.py env``) prints ``OPENSIPS_MI_URL``; with it set, the
MI client benchmarks (the client, the raw floor and the ``opensips`` package alike) run
against that server, and the report's header names it (`describe`). The benchmarks of
the simulator itself, of scale (the large scenario) and of fleets always use simulator
processes: they measure the simulator, or need state only it can hold.

The server is used as it is: nothing here starts or stops it, and its journal cannot be
emptied (`LabServer.clear_journal` does nothing).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from benchmarks.harness import _proc_cpu_seconds
from opensips_mcp.catalog import AccessLevel
from opensips_mcp.mi import MIClient, MISettings

ENV_URL = "OPENSIPS_MI_URL"


class MIServer(Protocol):
    """What a benchmark needs of the server it measures (`SimProcess` or `LabServer`)."""

    @property
    def url(self) -> str:
        """The mi_http URL (``http://host:port/mi``)."""
        ...

    @property
    def host_port(self) -> tuple[str, int]:
        """Where mi_http listens."""
        ...

    @property
    def description(self) -> str:
        """One line for reports: what the server is."""
        ...

    def cpu_seconds(self) -> float:
        """CPU seconds the server's processes have used so far."""
        ...

    def clear_journal(self) -> None:
        """Empty the simulator's request journal (nothing to do on a real server)."""
        ...


def lab_url() -> str:
    """``OPENSIPS_MI_URL`` when it is set, else the empty string."""
    return os.environ.get(ENV_URL, "").strip()


async def _ask(url: str, command: str) -> object:
    async with MIClient(MISettings(url=url)) as mi:
        return (await mi.call(command, level=AccessLevel.READ)).result


class LabServer:
    """A running OpenSIPS at ``url`` (mi_http): its version and process ids, asked once.

    Its CPU time is the sum over the processes its ``ps`` listed (when they are on this
    machine: ``/proc``); a process that is gone counts no more.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        version = asyncio.run(_ask(url, "version"))
        server = version.get("Server", version) if isinstance(version, dict) else version
        self._description = f"a real OpenSIPS: {server}, MI at {url}"
        listed = asyncio.run(_ask(url, "ps"))
        processes = listed.get("Processes", []) if isinstance(listed, dict) else []
        self.pids = [int(p["PID"]) for p in processes if isinstance(p, dict) and "PID" in p]

    @property
    def url(self) -> str:
        """The mi_http URL."""
        return self._url

    @property
    def host_port(self) -> tuple[str, int]:
        """Where mi_http listens."""
        parts = urlsplit(self._url)
        return parts.hostname or "127.0.0.1", parts.port or 80

    @property
    def description(self) -> str:
        """``a real OpenSIPS: <its version line>, MI at <url>``."""
        return self._description

    def cpu_seconds(self) -> float:
        """CPU seconds of OpenSIPS's processes (those ``ps`` listed and ``/proc`` shows)."""
        total = 0.0
        for pid in self.pids:
            if Path(f"/proc/{pid}/stat").exists():
                try:
                    total += _proc_cpu_seconds(pid)
                except (OSError, IndexError, ValueError):
                    continue  # ended between the check and the read
        return total

    def clear_journal(self) -> None:
        """A real server keeps no journal: nothing to do."""


def describe(used: MIServer | None) -> str:
    """The server line of a report: the one measured, else what the environment names."""
    if used is not None:
        return used.description
    url = lab_url()
    return f"a real OpenSIPS, MI at {url}" if url else "opensips-sim (Python simulator)"
