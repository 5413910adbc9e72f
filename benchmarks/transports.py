"""MI client per transport, against a real OpenSIPS when one is named (else the simulator).

    python -m benchmarks.transports                 # part of make bench
    OPENSIPS_MI_URL=http://127.0.0.1:8890/mi OPENSIPS_MI_FIFO=/path/opensips_fifo \\
      OPENSIPS_MI_DATAGRAM=127.0.0.1:8891 python -m benchmarks.transports

Target: ``OPENSIPS_MI_URL`` (mi_http) with, when set, ``OPENSIPS_MI_FIFO`` (its FIFO;
replies in ``OPENSIPS_MI_FIFO_REPLY_DIR``, default ``/tmp/``) and ``OPENSIPS_MI_DATAGRAM``
(``host:port`` or a unix socket path), as ``make lab`` prints them; without
``OPENSIPS_MI_URL``, a simulator process serving HTTP, FIFO, UDP and a unix socket.

On each event loop (asyncio, and uvloop when installed) it runs paired rounds: in every
round each client makes the same number of ``uptime`` calls, one client after the other
in a rotating order, so the machine's other work (2 shared cores) falls on all alike.
A figure is the median of its rounds' calls/s, and a ratio the median of its per-round
ratios. Clients:

* ``raw``: the floor (`benchmarks.rawclient`): a pre-built request per write on N
  kept-alive connections, no JSON, no checks, on the same event loop;
* ``raw_fifo`` (with a FIFO): the floor of mi_fifo (`benchmarks.rawclient.RawFIFO`): one
  reply FIFO for every call, a pre-built request, read to end-of-file, 1 in flight;
* ``mi_http``, ``mi_fifo``, ``mi_udp``/``mi_unix``: `MIClient` over each transport, default
  settings;
* ``opensips_package``: PyPI ``opensips`` (``OpenSIPSMI(conn="http")``, 1 in flight).

Then 5,000 sequential ``MIClient`` calls over HTTP count failures and stalls (a call
slower than 0.5 s). Writes ``benchmarks/results/transports.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from benchmarks.harness import REPO
from benchmarks.rawclient import RawFIFO, RawPool, build_request
from benchmarks.servers import LabServer
from opensips_mcp.catalog import AccessLevel
from opensips_mcp.mi import MIClient, MIError, MISettings

RESULTS = REPO / "benchmarks" / "results"
STALL_SECONDS = 0.5
TARGETS = {
    "http_vs_package_1": 2.5,  # MIClient over HTTP / opensips package, 1 in flight
    "http_vs_raw_32": 0.5,  # MIClient over HTTP / raw floor, 32 in flight
    "stream_vs_http_1": 0.5,  # FIFO and datagram per call: within 2x of HTTP
}


@dataclass
class Target:
    """Where the MI is, per transport, and what serves it."""

    server: str
    urls: dict[str, str]
    stop: Callable[[], None] = lambda: None


def lab_target() -> Target | None:
    """The OpenSIPS named by the environment, or None."""
    http = os.environ.get("OPENSIPS_MI_URL", "").strip()
    if not http:
        return None
    urls = {"mi_http": http}
    fifo = os.environ.get("OPENSIPS_MI_FIFO", "").strip()
    if fifo:
        reply_dir = os.environ.get("OPENSIPS_MI_FIFO_REPLY_DIR", "/tmp/")
        urls["mi_fifo"] = f"fifo://{fifo}?reply_dir={reply_dir}"
    datagram = os.environ.get("OPENSIPS_MI_DATAGRAM", "").strip()
    if datagram.startswith("/"):
        urls["mi_unix"] = f"unix://{datagram}"
    elif datagram:
        urls["mi_udp"] = f"udp://{datagram}"
    unix = os.environ.get("OPENSIPS_MI_UNIX", "").strip()
    if unix:
        urls["mi_unix"] = f"unix://{unix}"
    return Target(server=LabServer(http).description, urls=urls)


def simulator_target() -> Target:
    """A simulator process serving every transport (stopped by ``stop``)."""
    directory = tempfile.mkdtemp(prefix="bench-t-", dir="/tmp")
    os.mkdir(os.path.join(directory, "replies"))
    sim = Path(sys.executable).with_name("opensips-sim")
    command = [str(sim), "--port", "0", "--scenario", "quiet", "--seed", "1"]
    command += ["--fifo", f"{directory}/mi.fifo", "--fifo-reply-dir", f"{directory}/replies/"]
    command += ["--udp", "0", "--unix", f"{directory}/mi.sock"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    urls: dict[str, str] = {}
    names = {"http": "mi_http", "fifo": "mi_fifo", "udp": "mi_udp", "unix": "mi_unix"}
    deadline = time.monotonic() + 30
    while len(urls) < 4 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"listening on (\w+)://(\S+)", line)
        if match:
            urls[names[match.group(1)]] = f"{match.group(1)}://{match.group(2)}"

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(directory, ignore_errors=True)

    if len(urls) < 4:
        stop()
        raise RuntimeError(f"simulator did not start every transport: {urls}")
    return Target(server="opensips-sim (Python simulator, quiet scenario)", urls=urls, stop=stop)


# --- one round -----------------------------------------------------------------------------

Runner = Callable[[], Awaitable[tuple[float, float]]]


async def closed_loop(
    call: Callable[[int], Awaitable[object]], total: int, workers: int
) -> tuple[float, float]:
    """(calls/s, client CPU µs per call) of ``total`` calls, ``workers`` outstanding."""
    remaining = iter(range(total))

    async def worker(index: int) -> None:
        for _ in remaining:
            await call(index)

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return total / wall, cpu * 1e6 / total


@dataclass
class Rounds:
    """Per-round calls/s and CPU per call of each client at one in-flight level."""

    rates: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, figures: tuple[float, float]) -> None:
        self.rates.setdefault(name, []).append(figures[0])
        self.cpu.setdefault(name, []).append(figures[1])

    def median(self, name: str) -> float:
        return statistics.median(self.rates[name])

    def ratio(self, name: str, base: str) -> float:
        pairs = zip(self.rates[name], self.rates[base], strict=True)
        return statistics.median(a / b for a, b in pairs)

    def summary(self) -> dict[str, Any]:
        return {
            "calls_per_s": {name: round(self.median(name)) for name in self.rates},
            "cpu_us_per_call": {
                name: round(statistics.median(values), 1) for name, values in self.cpu.items()
            },
            "vs_raw": {
                name: round(self.ratio(name, "raw"), 3) for name in self.rates if name != "raw"
            },
        }


def _mi_runner(client: MIClient, calls: int, in_flight: int) -> Runner:
    async def call(_: int) -> object:
        return await client.call("uptime", level=AccessLevel.READ)

    return lambda: closed_loop(call, calls, in_flight)


def _raw_runner(raw: RawPool, request: bytes, calls: int, in_flight: int) -> Runner:
    async def call(worker: int) -> bytes:
        return await raw.connections[worker].exchange(request)

    return lambda: closed_loop(call, calls, in_flight)


def _raw_fifo(url: str) -> RawFIFO:
    parts = urlsplit(url)
    reply_dir = parse_qs(parts.query).get("reply_dir", ["/tmp/"])[-1]
    return RawFIFO(unquote(parts.path), reply_dir)


def _raw_fifo_runner(raw: RawFIFO, calls: int) -> Runner:
    async def call(_: int) -> bytes:
        return await raw.exchange()

    return lambda: closed_loop(call, calls, 1)


def _package_runner(url: str, calls: int) -> Runner:
    from opensips.mi import OpenSIPSMI

    package = OpenSIPSMI(conn="http", url=url)

    async def run() -> tuple[float, float]:
        cpu, started = time.process_time(), time.perf_counter()
        for _ in range(calls):
            package.execute("uptime")
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        return calls / wall, cpu * 1e6 / calls

    return run


async def paired(runners: dict[str, Runner], rounds: int) -> Rounds:
    """Every runner once per round, in an order rotating from round to round."""
    result = Rounds()
    names = list(runners)
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            result.add(name, await runners[name]())
    return result


async def measure_loop(target: Target, calls: int, rounds: int) -> dict[str, Any]:
    """Paired rounds at 1 and 32 in flight on the running loop, then the 5,000-call run."""
    http = target.urls["mi_http"]
    parts = urlsplit(http)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = build_request(host, port, "uptime")
    clients = {name: MIClient(MISettings(url=url)) for name, url in target.urls.items()}
    # The raw floor keeps 32 connections at 32 in flight; the same for MIClient:
    wide = MIClient(MISettings(url=http, pool_size=32, max_in_flight=32))
    out: dict[str, Any] = {}
    try:
        for client in [*clients.values(), wide]:  # warm up: connections, sockets, imports
            await asyncio.gather(
                *(client.call("uptime", level=AccessLevel.READ) for _ in range(64))
            )
        async with RawPool(host, port, 1) as raw, contextlib.AsyncExitStack() as stack:
            runners = {"raw": _raw_runner(raw, request, calls, 1)}
            if "mi_fifo" in target.urls:  # the floor of mi_fifo itself, same loop
                raw_fifo = await stack.enter_async_context(_raw_fifo(target.urls["mi_fifo"]))
                runners["raw_fifo"] = _raw_fifo_runner(raw_fifo, calls)
            runners |= {name: _mi_runner(c, calls, 1) for name, c in clients.items()}
            runners["opensips_package"] = _package_runner(http, max(calls // 4, 1))
            one = await paired(runners, rounds)
        out["1"] = one.summary()
        if "raw_fifo" in one.rates:
            out["1"]["mi_fifo_vs_raw_fifo"] = round(one.ratio("mi_fifo", "raw_fifo"), 3)
        out["1"]["mi_http_vs_package"] = round(one.ratio("mi_http", "opensips_package"), 2)
        out["1"]["vs_mi_http"] = {
            name: round(one.ratio(name, "mi_http"), 3)
            for name in one.rates
            if name.startswith("mi_") and name != "mi_http"
        }
        async with RawPool(host, port, 32) as raw:
            runners = {
                "raw": _raw_runner(raw, request, calls, 32),
                "mi_http": _mi_runner(clients["mi_http"], calls, 32),
                "mi_http_pool32": _mi_runner(wide, calls, 32),
            }
            out["32"] = (await paired(runners, rounds)).summary()
        out["sequential_5000"] = await sequential(clients["mi_http"], 5000)
    finally:
        for client in [*clients.values(), wide]:
            await client.close()
    return out


async def sequential(client: MIClient, total: int) -> dict[str, Any]:
    """``total`` calls one after another: failures, stalls (> 0.5 s), latency percentiles."""
    latencies: list[float] = []
    failures = 0
    for _ in range(total):
        started = time.perf_counter()
        try:
            await client.call("uptime", level=AccessLevel.READ)
        except MIError:
            failures += 1
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    return {
        "calls": total,
        "failures": failures,
        "stalls": sum(1 for x in latencies if x > STALL_SECONDS),
        "p50_ms": round(latencies[total // 2] * 1000, 3),
        "p99_ms": round(latencies[int(total * 0.99)] * 1000, 3),
        "max_ms": round(latencies[-1] * 1000, 3),
    }


def loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    try:
        import uvloop
    except ImportError:
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories


def verdicts(loop_result: dict[str, Any]) -> dict[str, Any]:
    """Each target: the measured figure, the target and met or missed."""
    one, many = loop_result["1"], loop_result["32"]
    checks: dict[str, Any] = {
        "mi_http vs opensips package, 1 in flight": (
            one["mi_http_vs_package"],
            TARGETS["http_vs_package_1"],
        ),
        "mi_http vs raw floor, 32 in flight": (
            many["vs_raw"]["mi_http"],
            TARGETS["http_vs_raw_32"],
        ),
    }
    for name, ratio in one.get("vs_mi_http", {}).items():
        checks[f"{name} vs mi_http per call, 1 in flight"] = (ratio, TARGETS["stream_vs_http_1"])
    seq = loop_result["sequential_5000"]
    checks["5,000 sequential: failures + stalls"] = (seq["failures"] + seq["stalls"], 0)
    return {
        name: {
            "measured": value,
            "target": f">= {goal}" if name[0] != "5" else "== 0",
            "met": value >= goal if name[0] != "5" else value == 0,
        }
        for name, (value, goal) in checks.items()
    }


def render(report: dict[str, Any]) -> str:
    lines = [
        "# MI client per transport",
        "",
        f"Server: **{report['server']}**. {report['rounds']} paired rounds of "
        f"{report['calls']} `uptime` calls per client; load average before "
        f"{report['load_before']}, after {report['load_after']}.",
        "",
    ]
    for loop, result in report["loops"].items():
        lines += [
            f"## {loop}",
            "",
            "| client | in flight | calls/s | vs raw floor (paired) | client CPU µs/call |",
            "|---|---|---|---|---|",
        ]
        for in_flight in ("1", "32"):
            figures = result[in_flight]
            for name, rate in figures["calls_per_s"].items():
                ratio = figures["vs_raw"].get(name, 1.0)
                cpu = figures["cpu_us_per_call"][name]
                lines.append(f"| {name} | {in_flight} | {rate:,} | {ratio:.2f}x | {cpu} |")
        seq = result["sequential_5000"]
        if "mi_fifo_vs_raw_fifo" in result["1"]:
            lines += [
                "",
                f"`raw_fifo` is the floor of mi_fifo (one reply FIFO for every call, no checks): "
                f"`mi_fifo` makes {result['1']['mi_fifo_vs_raw_fifo']:.2f}x its calls/s "
                "(paired).",
            ]
        lines += [
            "",
            f"5,000 sequential mi_http calls: {seq['failures']} failures, {seq['stalls']} "
            f"stalls (> {STALL_SECONDS} s); p50 {seq['p50_ms']} ms, p99 {seq['p99_ms']} ms, "
            f"max {seq['max_ms']} ms.",
            "",
            "| target | measured | goal | |",
            "|---|---|---|---|",
        ]
        for name, verdict in result["targets"].items():
            mark = "met" if verdict["met"] else "MISSED"
            lines.append(f"| {name} | {verdict['measured']} | {verdict['target']} | {mark} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transports", description=__doc__)
    parser.add_argument("--calls", type=int, default=1000, help="calls per client and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    target = lab_target() or simulator_target()
    report: dict[str, Any] = {
        "server": target.server,
        "urls": target.urls,
        "calls": args.calls,
        "rounds": args.rounds,
        "load_before": round(os.getloadavg()[0], 2),
        "loops": {},
    }
    try:
        for loop_name, factory in loop_factories().items():
            with asyncio.Runner(loop_factory=factory) as runner:
                result = runner.run(measure_loop(target, args.calls, args.rounds))
            result["targets"] = verdicts(result)
            report["loops"][loop_name] = result
            print(f"{loop_name}: {json.dumps(result)}", flush=True)
    finally:
        target.stop()
    report["load_after"] = round(os.getloadavg()[0], 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "transports.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "transports.md").write_text(render(report))
    print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
