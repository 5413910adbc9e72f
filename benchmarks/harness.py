"""What every benchmark needs: an event loop beside pytest-benchmark, the simulator as a
separate process, a closed-loop load generator and latency percentiles.

pytest-benchmark times synchronous callables, and async clients must stay in one event
loop across rounds (an MCP ``Client`` must be entered and left in the same task). So the
loop runs in a thread of its own (`LoopThread`); each benchmark round hands it one batch
of calls and waits. A batch measures its own wall time and every call's latency inside
the loop (`Batch`), so the thread hand-off (tens of microseconds per batch of hundreds of
calls) is not counted in calls/s or in the percentiles.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import resource
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent


# --- an event loop that sync code can drive -------------------------------------------


class LoopThread:
    """An asyncio event loop running in a daemon thread.

    ``run(coro)`` runs a coroutine there and returns its result; ``enter(cm)`` enters an
    async context manager in a task that stays alive until `close`, so objects bound to
    one task (anyio task groups inside an MCP ``Client``) live across benchmark rounds.
    """

    def __init__(self, new_loop: Callable[[], asyncio.AbstractEventLoop] | None = None) -> None:
        # ``new_loop``: how to make the loop (default ``asyncio.new_event_loop``; pass
        # ``uvloop.new_event_loop`` to measure on the loop ``serve`` uses when installed).
        self.loop = (new_loop or asyncio.new_event_loop)()
        self._holders: list[tuple[asyncio.Task[None], asyncio.Event]] = []
        self._thread = threading.Thread(target=self._main, name="bench-loop", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 300.0) -> T:
        """Run ``coro`` in the loop and return its result (re-raising its error)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def enter(self, cm: AbstractAsyncContextManager[T], timeout: float = 120.0) -> T:
        """Enter ``cm`` in a task of its own and return its value; left on `release`."""
        return self.run(self._hold(cm), timeout)

    def release(self) -> None:
        """Leave every context entered so far, the last entered first."""
        self.run(self._release_all(), timeout=60)

    async def _hold(self, cm: AbstractAsyncContextManager[T]) -> T:
        entered: asyncio.Future[T] = self.loop.create_future()
        release = asyncio.Event()

        async def holder() -> None:
            async with cm as value:
                entered.set_result(value)
                await release.wait()

        task = self.loop.create_task(holder())
        waiting: set[asyncio.Future[Any]] = {entered, task}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not entered.done():
            task.result()  # raises the error that stopped cm from being entered
            raise RuntimeError("context manager exited without yielding a value")
        self._holders.append((task, release))
        return entered.result()

    async def _release_all(self) -> None:
        while self._holders:
            task, release = self._holders.pop()
            release.set()
            await asyncio.wait_for(task, timeout=30)

    def close(self) -> None:
        """Leave every entered context (last first), then stop the loop and its thread."""
        try:
            self.release()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
            if not self._thread.is_alive():
                self.loop.close()

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- latency samples ---------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ascending ``sorted_values``."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil without floats drifting
    return sorted_values[int(rank) - 1]


@dataclass
class Batch:
    """One round: its wall time and each call's latency, in seconds (failed calls
    included), and how many calls failed."""

    elapsed: float
    latencies: list[float]
    errors: int = 0


@dataclass
class Samples:
    """Batches of one benchmark, summed up."""

    batches: list[Batch] = field(default_factory=list)

    def add(self, batch: Batch) -> None:
        """Keep one round's batch."""
        self.batches.append(batch)

    @property
    def calls(self) -> int:
        """Calls made over all batches."""
        return sum(len(b.latencies) for b in self.batches)

    @property
    def elapsed(self) -> float:
        """Wall time of all batches, in seconds."""
        return sum(b.elapsed for b in self.batches)

    def summary(self) -> dict[str, float]:
        """``calls``, ``calls_per_s``, ``p50_ms``, ``p99_ms``, ``mean_ms`` for the report.

        ``calls_per_s`` is the median over rounds of each round's rate: a round slowed
        by other work on the machine moves it less than it moves the mean.
        """
        values = sorted(v for b in self.batches for v in b.latencies)
        rates = sorted(len(b.latencies) / b.elapsed for b in self.batches if b.elapsed > 0)
        return {
            "calls": self.calls,
            "errors": sum(b.errors for b in self.batches),
            "calls_per_s": round(statistics.median(rates), 1) if rates else 0.0,
            "p50_ms": round(percentile(values, 50) * 1000, 4),
            "p99_ms": round(percentile(values, 99) * 1000, 4),
            "mean_ms": round(sum(values) / len(values) * 1000, 4),
        }


async def closed_loop(
    call: Callable[[int], Awaitable[object]],
    total: int,
    in_flight: int,
    *,
    tolerate: tuple[type[BaseException], ...] = (),
) -> Batch:
    """Make ``total`` calls with ``in_flight`` of them outstanding at any time.

    Each of ``in_flight`` workers calls ``call(worker_index)`` and, once answered, starts
    the next call, until ``total`` calls were made. A call raising one of ``tolerate``
    counts as an error (its latency is kept); any other exception stops the batch.
    """
    remaining = iter(range(total))
    latencies: list[float] = []
    errors = 0
    clock = time.perf_counter

    async def worker(index: int) -> None:
        nonlocal errors
        for _ in remaining:
            started = clock()
            try:
                await call(index)
            except tolerate:
                errors += 1
            latencies.append(clock() - started)

    started = clock()
    await asyncio.gather(*(worker(i) for i in range(in_flight)))
    return Batch(clock() - started, latencies, errors)


def sync_loop(call: Callable[[], object], total: int) -> Batch:
    """Make ``total`` calls one after another (a synchronous client, 1 in flight)."""
    latencies: list[float] = []
    clock = time.perf_counter
    started = clock()
    for _ in range(total):
        t0 = clock()
        call()
        latencies.append(clock() - t0)
    return Batch(clock() - started, latencies)


# --- the simulator as a separate process -------------------------------------------------

_LISTENING = re.compile(r"listening on (http://[^\s]+/mi)")


def _proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the ")" of the command name: state is field 3, utime 14 and stime 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def proc_memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` (now) and ``VmHWM`` (peak) of process ``pid``, in KiB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


class SimProcess:
    """The ``opensips-sim`` CLI in a process of its own, on 127.0.0.1 and a free port.

    A separate process, so the simulator and the client under test do not share one event
    loop (or one core). Default quirks stay on: the benchmarked commands answer 200, so
    the held-back empty bodies never come into play.
    """

    def __init__(self, scenario: str = "quiet", *, seed: int = 1, start_timeout: float = 120.0):
        self.scenario = scenario
        self.seed = seed
        self.start_timeout = start_timeout
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        # Kept open for the life of the process, closed in stop().
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115

    @staticmethod
    def command() -> list[str]:
        """The CLI: the venv's ``opensips-sim`` script, else ``python -m opensips_sim.cli``."""
        script = Path(sys.executable).with_name("opensips-sim")
        if script.exists():
            return [str(script)]
        return [sys.executable, "-m", "opensips_sim.cli"]

    def start(self) -> SimProcess:
        """Start it and wait for the line saying where it listens."""
        argv = [
            *self.command(),
            *("--host", "127.0.0.1", "--port", "0"),
            *("--scenario", self.scenario, "--seed", str(self.seed)),
        ]
        self._proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._stderr, text=True, cwd=REPO
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            while not self.url:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.stop()
                    raise RuntimeError(f"opensips-sim did not start in {self.start_timeout}s")
                line = self._proc.stdout.readline()
                if not line:
                    self.stop()
                    self._stderr.seek(0)
                    raise RuntimeError(f"opensips-sim exited: {self._stderr.read()[-2000:]}")
                match = _LISTENING.search(line)
                if match:
                    self.url = match.group(1)
        return self

    @property
    def pid(self) -> int:
        """The simulator's process id."""
        if self._proc is None:
            raise RuntimeError("not started")
        return self._proc.pid

    @property
    def host_port(self) -> tuple[str, int]:
        """Where it listens."""
        hostport = self.url.split("//", 1)[1].split("/", 1)[0]
        host, port = hostport.rsplit(":", 1)
        return host, int(port)

    @property
    def description(self) -> str:
        """One line for reports: what the server is."""
        return f"opensips-sim (Python simulator, {self.scenario} scenario), MI at {self.url}"

    @property
    def control_url(self) -> str:
        """The control API root (``/sim``)."""
        return self.url[: -len("/mi")] + "/sim"

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the simulator has used so far."""
        return _proc_cpu_seconds(self.pid)

    def clear_journal(self) -> None:
        """Drop the request journal, which otherwise grows with every request."""
        request = urllib.request.Request(self.control_url + "/journal", method="DELETE")
        with urllib.request.urlopen(request, timeout=30) as reply:
            reply.read()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop within 10 s."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
        self._stderr.close()
        self._proc = None

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def own_cpu_seconds() -> float:
    """CPU time (user + system) of this process, all its threads, so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class SimCpu:
    """CPU shares over the rounds it wraps (and only those): the simulator's, and this
    process's (the client under test, with its event loop thread)."""

    def __init__(self, sim: SimProcess) -> None:
        self.sim = sim
        self.cpu = 0.0
        self.own_cpu = 0.0
        self.wall = 0.0
        self.calls = 0

    def wrap(self, one_round: Callable[[], Batch]) -> Callable[[], Batch]:
        """``one_round``, adding the CPU time it used to the counts."""

        def counted() -> Batch:
            before, own_before = self.sim.cpu_seconds(), own_cpu_seconds()
            batch = one_round()
            self.cpu += self.sim.cpu_seconds() - before
            self.own_cpu += own_cpu_seconds() - own_before
            self.wall += batch.elapsed
            self.calls += len(batch.latencies)
            return batch

        return counted

    @property
    def share(self) -> float:
        """Simulator CPU seconds per wall second (1.0: its loop was never idle)."""
        return round(self.cpu / self.wall, 3) if self.wall > 0 else 0.0

    @property
    def calls_per_cpu_second(self) -> float | None:
        """Calls per simulator CPU-second (None when too little CPU time was counted:
        ``/proc`` counts it in 10 ms ticks)."""
        return round(self.calls / self.cpu, 1) if self.cpu > 0 else None

    @property
    def client_share(self) -> float:
        """This process's CPU seconds per wall second (1.0: one core kept busy)."""
        return round(self.own_cpu / self.wall, 3) if self.wall > 0 else 0.0


# --- pytest-benchmark glue ------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How much work a benchmark does: full, or one small round (``--benchmark-disable``)."""

    quick: bool

    def calls(self, full: int) -> int:
        """Calls per round."""
        return min(full, 10) if self.quick else full

    def rounds(self, full: int) -> int:
        """Rounds per benchmark."""
        return 1 if self.quick else full


def measure(
    benchmark: Any,
    rounds: int,
    one_round: Callable[[], Batch],
    *,
    warmup: bool = True,
    between: Callable[[], None] | None = None,
) -> Samples:
    """Run ``one_round`` once to warm up (unless ``warmup`` is false), then ``rounds`` times
    under pytest-benchmark; returns the measured batches.

    ``between`` runs before each measured round, untimed by pytest-benchmark: paired
    baselines go there, so that they and the benchmark take turns and meet the same
    machine load.
    """
    if warmup and not benchmark.disabled:
        one_round()

    def setup() -> None:
        if between is not None:
            between()

    samples = Samples()
    benchmark.pedantic(lambda: samples.add(one_round()), setup=setup, rounds=rounds, iterations=1)
    return samples
