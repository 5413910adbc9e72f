"""Run the simulator inside the current event loop (tests, conformance suite)::

async with running_simulator(scenario="quiet", seed=1, frozen_at=1795689764) as sim:
    sim.url            # http://127.0.0.1:PORT/mi   (MI endpoint)
    sim.control_url    # http://127.0.0.1:PORT/sim  (control API, see control.py)
    sim.world          # the live World (state parts: sim.world.get(DialogState))
    sim.add_fault({"command": "dlg_end_dlg", "action": "http_500", "when": "after_apply"})
    sim.advance(60)    # move the clock, let registrations expire and dialogs time out
    sim.journal()      # every MI request received, as control GET /sim/journal lists them
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .faults import FaultRule
from .simulator import Settings, Simulator
from .streams import DatagramServer, FIFOServer
from .wire import WireServer
from .world import World


@dataclass
class RunningSimulator:
    """A simulator listening on ``host:port``."""

    sim: Simulator
    host: str
    port: int

    @property
    def url(self) -> str:
        """The MI endpoint, as an MI client is configured with it."""
        return f"http://{self.host}:{self.port}/mi"

    @property
    def control_url(self) -> str:
        """The control API root."""
        return f"http://{self.host}:{self.port}/sim"

    @property
    def world(self) -> World:
        """The current world (replaced by a reset or a scenario load)."""
        return self.sim.world

    def add_fault(self, rule: Mapping[str, Any]) -> FaultRule:
        """Add one fault rule (same JSON as ``POST /sim/faults``)."""
        return self.sim.faults.add(rule)

    def advance(self, seconds: float) -> float:
        """Move the clock forward and let the world catch up; returns the new time."""
        now = self.sim.clock.advance(seconds)
        self.sim.world.tick()
        return now

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        """Journal entries newer than ``since``."""
        return self.sim.journal.entries(since)


@asynccontextmanager
async def running_simulator(
    scenario: str | Mapping[str, Any] = "quiet",
    *,
    seed: int = 0,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Sequence[Mapping[str, Any]] = (),
    quirks: bool = True,
    idle_timeout: float = 30.0,
    cost_scale: float = 0.0,
    frozen_at: float | None = None,
    clock: Clock | None = None,
    opensips_version: str = "3.6.8",
    receive_buf_size: int = 1024,
    buf_size: int | None = None,
) -> AsyncIterator[RunningSimulator]:
    """Start a simulator on ``host:port`` (0: a free port) and stop it on exit.

    ``frozen_at``: freeze the clock at this epoch (it then moves only by ``advance``), which
    makes answers and the journal reproducible; otherwise the clock follows real time.
    ``opensips_version``: the OpenSIPS version it impersonates (:mod:`opensips_sim.persona`).
    ``receive_buf_size``: httpd's (3.5+): a larger request body is answered 400, unrun.
    ``buf_size``: httpd's: a larger answer is answered 500 without a body (None: no bound).
    """
    if clock is None:
        clock = Clock(frozen_at, frozen=True) if frozen_at is not None else Clock()
    sim = Simulator(
        scenario,
        seed=seed,
        clock=clock,
        faults=faults,
        settings=Settings(
            quirks=quirks,
            idle_timeout=idle_timeout,
            cost_scale=cost_scale,
            opensips_version=opensips_version,
            receive_buf_size=receive_buf_size,
            buf_size=buf_size,
        ),
    )
    server = WireServer(sim)
    bound = await server.start(host, port)
    try:
        yield RunningSimulator(sim, host, bound)
    finally:
        await server.close()


@asynccontextmanager
async def serving_stream(
    running: RunningSimulator, kind: str, directory: str
) -> AsyncIterator[str]:
    """Serve ``running``'s simulator over ``kind`` (fifo, udp, unix) too; yields its MI URL.

    Same state, faults and journal as the HTTP endpoint; FIFO, reply FIFOs and the unix
    socket live in ``directory``.
    """
    stream: FIFOServer | DatagramServer
    if kind == "fifo":
        reply_dir = os.path.join(directory, "replies") + "/"
        os.makedirs(reply_dir, exist_ok=True)
        stream = FIFOServer(running.sim, os.path.join(directory, "mi.fifo"), reply_dir)
        url = f"fifo://{stream.path}?reply_dir={reply_dir}"
        await stream.start()
    elif kind == "udp":
        stream = DatagramServer(running.sim, host=running.host, port=0)
        url = f"udp://{running.host}:{await stream.start()}"
    elif kind == "unix":
        stream = DatagramServer(running.sim, unix_path=os.path.join(directory, "mi.sock"))
        url = f"unix://{stream.unix_path}"
        await stream.start()
    else:
        raise ValueError(f"no simulator transport {kind!r}: fifo, udp or unix")
    try:
        yield url
    finally:
        await stream.close()
