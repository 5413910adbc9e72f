"""core: version, processes (``ps``), log levels, start time.

Scenario section ``core`` (every key optional; defaults are the captured server)::

    {
      "server": "OpenSIPS (3.6.8 (x86_64/linux))",
      "revision": ["unknown", "unknown"],     # (VERSIONTYPE, THISREVISION) for version+revision
      "up_since_ago": 227,                    # seconds the server has been up at load time
      "log_level": 3,                         # global log level
      "xlog_level": 3,
      "processes": [{"pid": 1938, "type": "attendant"}, ...],
      "args": ["opensips", "-F", "-f", "/etc/opensips/opensips.cfg"],
      "pwd": "/",
      "commands": ["get_statistics", ...],  # what `which` lists (others: -32601)
      "names": {"core:uptime": "uptime"}      # an impersonated version's accepted names
    }                                         # (4.x names, aliases) -> the 3.6 command
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..world import StatePart

SERVER = "OpenSIPS (3.6.8 (x86_64/linux))"
CAPTURED_PROCESSES: tuple[tuple[int, str], ...] = (
    (1938, "attendant"),
    (1941, "HTTPD 127.0.0.1:8888"),
    (1942, "time_keeper"),
    (1943, "timer"),
    (1944, "SIP receiver udp:127.0.0.1:5060"),
    (1945, "SIP receiver udp:127.0.0.1:5060"),
    (1946, "SIP receiver udp:127.0.0.1:5060"),
    (1947, "SIP receiver udp:127.0.0.1:5060"),
    (1948, "TCP receiver"),
    (1949, "TCP receiver"),
    (1950, "Timer handler"),
    (1951, "TCP main"),
)


@dataclass(slots=True)
class Process:
    """One OpenSIPS process as ``ps`` and ``log_level`` show it."""

    pid: int
    type: str
    log_level: int
    profiling_level: int = 0
    """4.x ``core:profiling_proc`` level (0 off .. 3 full)."""


class CoreState(StatePart):
    """Process table, log levels, version and uptime origin."""

    key = "core"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.load({})

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace with the scenario section (schema in the module docstring)."""
        self.server = str(section.get("server", SERVER))
        revision = section.get("revision", ["unknown", "unknown"])
        self.revision = (str(revision[0]), str(revision[1]))
        self.started_at = self.world.clock.now() - float(section.get("up_since_ago", 0))
        self.log_level = int(section.get("log_level", 3))
        self.xlog_level = int(section.get("xlog_level", self.log_level))
        specs = section.get("processes")
        if specs is None:
            specs = [{"pid": pid, "type": kind} for pid, kind in CAPTURED_PROCESSES]
        self.processes = [
            Process(
                int(p["pid"]),
                str(p["type"]),
                int(p.get("log_level", self.log_level)),
                int(p.get("profiling_level", 0)),
            )
            for p in specs
        ]
        self.args = [str(a) for a in section.get("args", ["opensips", "-F"])]
        self.pwd = str(section.get("pwd", "/"))
        offered = section.get("commands")
        #: The commands ``which`` lists, in its order (a snapshot of a live server brings
        #: them); ``None``: every captured 3.6.8 command the simulator offers.
        self.commands: list[str] | None = None if offered is None else [str(c) for c in offered]
        #: Every name an impersonated version accepts (4.x ``module:name``, aliases, unique
        #: local names) -> the 3.6 command it runs (``which NAME`` answers for any of them).
        self.names: dict[str, str] = {str(k): str(v) for k, v in section.get("names", {}).items()}

    def process_by_pid(self, pid: int) -> Process | None:
        """The process with this PID, if any."""
        for process in self.processes:
            if process.pid == pid:
                return process
        return None

    def set_global_log_level(self, level: int) -> None:
        """``log_level`` with ``level``: every process and the default."""
        self.log_level = level
        for process in self.processes:
            process.log_level = level

    def snapshot(self) -> Any:
        """Version, levels, processes and start time."""
        return {
            "server": self.server,
            "started_at": self.started_at,
            "log_level": self.log_level,
            "xlog_level": self.xlog_level,
            "processes": [
                {"id": i, "pid": p.pid, "type": p.type, "log_level": p.log_level}
                | ({"profiling_level": p.profiling_level} if p.profiling_level else {})
                for i, p in enumerate(self.processes)
            ],
        }

    def statistics(self) -> dict[str, int | str]:
        """``load:processes_number`` follows the process table."""
        return {"load:processes_number": len(self.processes)}
