"""Fleets: ``fleet_status`` over a 50-node simulated cluster (``opensips-sim --nodes 50`` in
a process of its own), through an in-memory MCP client, as a viewer.

* ``test_fleet_status[healthy]``: every node answers. Its baseline, measured in alternating
  rounds, is ``opensips_status`` of one instance through the same server: what one node
  costs on its own.
* ``test_fleet_status[one-slow]`` / ``[one-down]``: the last node delays every answer by
  3 s, more than the fleet timeout (its MI is stuck), or refuses connections (stopped).
  Each round alternates with a healthy round; the figure of interest is the p50 *added*
  by that node, held to the fleet timeout (2 s here): a dead node costs its own timeout,
  never one per command or per node.

Under ``--benchmark-disable`` (the smoke run) 5 nodes stand in for 50.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from benchmarks.harness import REPO, Batch, LoopThread, Sizes, measure
from opensips_mcp.gate import Role
from opensips_mcp.instances import InstanceConfig
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings

NODES = 50
FLEET_TIMEOUT = 2.0
SLOW_SECONDS = 3.0
_NODE_LINE = re.compile(r"node (\d+) listening on (http://\S+/mi)")


@dataclass
class ClusterProcess:
    """``opensips-sim --nodes N`` in a process of its own; stopped by its PID."""

    nodes: int
    urls: dict[int, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> ClusterProcess:
        argv = [sys.executable, "-m", "opensips_sim.cli", "--host", "127.0.0.1", "--port", "0"]
        argv += ["--nodes", str(self.nodes), "--scenario", "quiet", "--seed", "1"]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO
        )
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        seen = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while len(self.urls) < self.nodes:
                left = deadline - time.monotonic()
                chunk = os.read(fd, 65536) if left > 0 and sel.select(left) else b""
                if not chunk:
                    self.stop()
                    raise RuntimeError(f"the {self.nodes}-node simulator did not start")
                seen += chunk
                for match in _NODE_LINE.finditer(seen.decode(errors="replace")):
                    self.urls[int(match.group(1))] = match.group(2)
        return self

    def fault(self, node: int, fault: str, **extra: Any) -> None:
        """A node fault through node 1's control API (``POST /sim/cluster``)."""
        body = json.dumps({"node_id": node, "fault": fault, **extra}).encode()
        url = self.urls[1].removesuffix("/mi") + "/sim/cluster"
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def drained(self, node: int) -> None:
        """Wait (bounded) until ``node`` answers: a delayed request it still holds has ended,
        so the next round does not queue behind it."""
        body = b'{"jsonrpc":"2.0","method":"uptime","id":1}'
        request = urllib.request.Request(
            self.urls[node], body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=SLOW_SECONDS + 5) as answer:
            answer.read()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


@pytest.fixture(scope="module")
def cluster(sizes: Sizes) -> Iterator[ClusterProcess]:
    nodes = ClusterProcess(5 if sizes.quick else NODES).start()
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture
def fleet_client(aio: LoopThread, cluster: ClusterProcess) -> Client:
    audit = Path(tempfile.mkdtemp(prefix="fleet-bench-", dir="/dev/shm")) / "audit.jsonl"
    settings = Settings(
        role=Role.VIEWER,
        instances=tuple(
            InstanceConfig(f"node{node}", url, cluster_node_id=node)
            for node, url in sorted(cluster.urls.items())
        ),
        audit_log=audit,
        fleet_timeout=FLEET_TIMEOUT,
        mi_connect_timeout=0.5,
        mi_read_timeout=5.0,
        mi_total_timeout=10.0,
        log_level="WARNING",
    )
    return aio.enter(Client(build_server(settings)))


def _timed(aio: LoopThread, client: Client, tool: str, args: dict[str, Any]) -> float:
    started = time.perf_counter()
    result = aio.run(client.call_tool(tool, args))
    elapsed = time.perf_counter() - started
    assert not result.is_error, result.content
    return elapsed


@pytest.mark.benchmark(group="fleet")
@pytest.mark.parametrize("health", ["healthy", "one-slow", "one-down"])
def test_fleet_status(
    benchmark: Any,
    aio: LoopThread,
    fleet_client: Client,
    cluster: ClusterProcess,
    sizes: Sizes,
    health: str,
) -> None:
    last = max(cluster.urls)
    paired: list[float] = []

    def baseline() -> None:
        if health == "healthy":
            paired.append(_timed(aio, fleet_client, "opensips_status", {"instance": "node1"}))
        else:
            paired.append(_timed(aio, fleet_client, "fleet_status", {}))

    def one_round() -> Batch:
        if health == "one-slow":
            cluster.fault(last, "slow", seconds=SLOW_SECONDS)
        elif health == "one-down":
            cluster.fault(last, "down")
        try:
            started = time.perf_counter()
            result = aio.run(fleet_client.call_tool("fleet_status", {}))
            elapsed = time.perf_counter() - started
        finally:
            cluster.fault(last, "fast" if health == "one-slow" else "up")
            cluster.drained(last)
        data = result.structured_content or {}
        # nodes that should have answered and did not (timed out on a loaded machine)
        expected = len(cluster.urls) - (0 if health == "healthy" else 1)
        return Batch(elapsed, [elapsed], errors=expected - int(data.get("reachable", 0)))

    samples = measure(benchmark, sizes.rounds(10), one_round, between=baseline)
    base = sorted(paired)[len(paired) // 2] * 1000 if paired else None
    benchmark.extra_info.update(
        samples.summary(),
        section="fleet",
        kind="fleet_status",
        nodes=len(cluster.urls),
        health=health,
        fleet_timeout_ms=FLEET_TIMEOUT * 1000,
        paired={
            "baseline": {
                "p50_ms": base,
                "of": "opensips_status on one instance"
                if health == "healthy"
                else "fleet_status, all healthy",
            }
        },
        figure="p50_ms",
        baselines=[],
    )
