"""Admission to one OpenSIPS MI endpoint: calls queue here, never inside OpenSIPS.

OpenSIPS runs MI commands one at a time in one process: every request sent while another
runs waits inside OpenSIPS, where nobody can see, order or cancel it. So this server keeps
the queue itself, one :class:`FairQueue` per MI client object (one per OpenSIPS instance):

* **bounded in flight**: at most ``max_in_flight`` requests at the endpoint at once (1 by
  default: ``mi_http`` serialises anyway, a second request only waits there);
* **fair between principals**: each principal (a token's name) has its own FIFO queue, and
  a freed slot goes to the next principal in round-robin order, so one busy agent cannot
  starve a monitoring tool or another agent;
* **fast refusal when busy**: a call that would wait beyond ``max_queued`` callers, or has
  waited ``queue_timeout`` seconds, fails at once with :class:`MIBusy` ("N queued, oldest
  X s") instead of piling more work on a busy server;
* **rate limit** per principal: a token bucket of ``rate`` calls per second and ``burst``
  (0: no limit); :class:`RateLimited` says when to come back;
* **budget** for metered principals (viewers): MI seconds per rolling minute; a call whose
  estimated cost does not fit the rest of the budget is refused (:class:`OverBudget`),
  nothing sent. A call is charged the time it held its slot at the endpoint;
* **one heavy command at a time**: a call marked heavy (the catalog's cost model says so)
  is refused with :class:`MIBusy` while another heavy call runs on the same endpoint.

Nothing here knows MCP or the catalog: the runtime maps the refusals to ``ToolError`` and
decides which calls are heavy, metered and what they are estimated to cost.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

__all__ = [
    "AdmissionError",
    "AdmissionSettings",
    "FairQueue",
    "MIBusy",
    "OverBudget",
    "QueueStats",
    "RateLimited",
]

BUDGET_WINDOW = 60.0
"""Seconds over which a metered principal's MI time is summed (a rolling minute)."""

_LATENCY_SAMPLES = 200


@dataclass(frozen=True, slots=True)
class AdmissionSettings:
    """How many MI calls may run and wait, and how much each principal may use.

    * ``max_in_flight``: requests at the endpoint at once (1: OpenSIPS runs one at a time).
    * ``max_queued``: calls waiting here at most, all principals together; one more is
      refused at once.
    * ``queue_timeout``: seconds a call may wait here for its turn; then it is refused.
    * ``rate``, ``burst``: calls per second per principal and the bucket size (``rate``
      0: no limit).
    * ``budget``: MI seconds per rolling minute a metered principal may use (0: none).
    """

    max_in_flight: int = 1
    max_queued: int = 32
    queue_timeout: float = 10.0
    rate: float = 0.0
    burst: int = 10
    budget: float = 20.0

    def __post_init__(self) -> None:
        if self.max_in_flight < 1 or self.max_queued < 0 or self.burst < 1:
            raise ValueError("max_in_flight and burst must be >= 1, max_queued >= 0")
        if self.queue_timeout <= 0 or self.rate < 0 or self.budget < 0:
            raise ValueError("queue_timeout must be > 0, rate and budget >= 0")


class AdmissionError(Exception):
    """A call refused before anything was sent."""


class MIBusy(AdmissionError):
    """The endpoint is busy: too many calls queued, a call waited too long, or another
    heavy command is running. ``queued`` calls wait here, the oldest for ``oldest`` s."""

    def __init__(self, reason: str, *, queued: int, oldest: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.queued = queued
        self.oldest = oldest


class RateLimited(AdmissionError):
    """The principal called more often than its rate allows; ``retry_after`` seconds."""

    def __init__(self, principal: str, rate: float, retry_after: float) -> None:
        super().__init__(f"{principal} exceeds {rate:g} MI calls per second")
        self.principal = principal
        self.rate = rate
        self.retry_after = retry_after


class OverBudget(AdmissionError):
    """A metered principal's MI time in the last minute plus this call's estimate exceeds
    its budget; ``retry_after`` seconds until enough of it is freed."""

    def __init__(self, principal: str, spent: float, budget: float, retry_after: float) -> None:
        super().__init__(f"{principal} used {spent:.1f} s of {budget:g} s MI time per minute")
        self.principal = principal
        self.spent = spent
        self.budget = budget
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A snapshot of one endpoint's queue, for ``opensips_health``."""

    max_in_flight: int
    in_flight: int
    queued: int
    oldest_wait_s: float
    heavy_running: str | None
    calls: int
    refused_busy: int
    latency_last_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_max_ms: float | None


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


@dataclass(slots=True)
class _Waiter:
    principal: str
    future: asyncio.Future[None]
    since: float


class FairQueue:
    """Admission to one MI endpoint (see the module docstring). Safe to share between the
    tasks of one event loop. ``clock`` is a monotonic clock in seconds."""

    def __init__(
        self, settings: AdmissionSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._in_flight = 0
        self._queues: dict[str, deque[_Waiter]] = {}
        self._ring: deque[str] = deque()
        self._buckets: dict[str, _Bucket] = {}
        self._spent: dict[str, deque[tuple[float, float]]] = {}
        # The sum of each principal's window, kept as charges enter and leave it, so a
        # budget check costs O(1) however many calls the last minute held.
        self._spent_total: dict[str, float] = {}
        self._heavy: tuple[str, float] | None = None
        self._latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        self._calls = 0
        self._refused_busy = 0

    # --- public --------------------------------------------------------------------------

    @asynccontextmanager
    async def admit(
        self,
        principal: str,
        *,
        heavy: str | None = None,
        metered: bool = False,
        estimate: float = 0.0,
        rate: float | None = None,
        burst: int | None = None,
    ) -> AsyncIterator[None]:
        """Wait for this principal's turn, hold one in-flight slot, then release it.

        ``heavy``: the command's name when the cost model calls it heavy (one at a time).
        ``metered``: charge this principal's budget; ``estimate``: the call's expected MI
        seconds, checked against the rest of the budget. ``rate``, ``burst``: this
        principal's own rate limit (its token's), else the settings'. Raises an
        `AdmissionError` subclass before anything is sent.
        """
        self._take_token(principal, rate, burst)
        if metered:
            self._check_budget(principal, estimate)
        if heavy is not None:
            if self._heavy is not None:
                name, since = self._heavy
                self._refused_busy += 1
                raise MIBusy(
                    f"the heavy command {name} is running for {self._clock() - since:.1f} s",
                    queued=self.queued,
                    oldest=self.oldest_wait,
                )
            self._heavy = (heavy, self._clock())
        try:
            await self._acquire(principal)
            started = self._clock()
            try:
                yield
            finally:
                held = self._clock() - started
                self._latencies.append(held)
                self._calls += 1
                if metered:
                    self._charge(principal, held)
                self._release()
        finally:
            if heavy is not None:
                self._heavy = None

    @property
    def queued(self) -> int:
        """Calls waiting here for a slot."""
        return sum(len(q) for q in self._queues.values())

    @property
    def oldest_wait(self) -> float:
        """Seconds the longest-waiting call has waited (0 when none waits)."""
        oldest = min((q[0].since for q in self._queues.values() if q), default=None)
        return 0.0 if oldest is None else self._clock() - oldest

    def spent(self, principal: str) -> float:
        """MI seconds ``principal``'s metered calls held a slot in the last
        :data:`BUDGET_WINDOW`."""
        self._window(principal)
        return self._spent_total.get(principal, 0.0)

    def stats(self) -> QueueStats:
        """The queue now and the MI latency of the last calls (time holding a slot)."""
        samples = sorted(self._latencies)

        def pick(fraction: float) -> float | None:
            if not samples:
                return None
            return round(samples[min(len(samples) - 1, int(fraction * len(samples)))] * 1000, 1)

        heavy = self._heavy[0] if self._heavy is not None else None
        return QueueStats(
            max_in_flight=self.settings.max_in_flight,
            in_flight=self._in_flight,
            queued=self.queued,
            oldest_wait_s=round(self.oldest_wait, 3),
            heavy_running=heavy,
            calls=self._calls,
            refused_busy=self._refused_busy,
            latency_last_ms=round(self._latencies[-1] * 1000, 1) if self._latencies else None,
            latency_p50_ms=pick(0.5),
            latency_p95_ms=pick(0.95),
            latency_max_ms=round(samples[-1] * 1000, 1) if samples else None,
        )

    # --- internals -----------------------------------------------------------------------

    def _take_token(self, principal: str, rate: float | None, size: int | None) -> None:
        if rate is None:
            rate = self.settings.rate
        if rate <= 0:
            return
        now = self._clock()
        burst = float(self.settings.burst if size is None else size)
        bucket = self._buckets.get(principal)
        if bucket is None:
            bucket = self._buckets[principal] = _Bucket(burst, now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            raise RateLimited(principal, rate, (1.0 - bucket.tokens) / rate)
        bucket.tokens -= 1.0

    def _charge(self, principal: str, held: float) -> None:
        """Charge a metered call's slot time to ``principal``'s rolling window."""
        window = self._window(principal)
        window.append((self._clock(), held))
        self._spent_total[principal] = self._spent_total.get(principal, 0.0) + held

    def _window(self, principal: str) -> deque[tuple[float, float]]:
        """``principal``'s charges of the last :data:`BUDGET_WINDOW` (older ones dropped,
        and taken off the running total)."""
        spent = self._spent.get(principal)
        if spent is None:
            spent = self._spent[principal] = deque()
            self._spent_total[principal] = 0.0
            return spent
        horizon = self._clock() - BUDGET_WINDOW
        if spent and spent[0][0] < horizon:
            total = self._spent_total[principal]
            while spent and spent[0][0] < horizon:
                total -= spent.popleft()[1]
            # An empty window is exactly 0: float rounding never carries over.
            self._spent_total[principal] = max(0.0, total) if spent else 0.0
        return spent

    def _check_budget(self, principal: str, estimate: float) -> None:
        budget = self.settings.budget
        if budget <= 0:
            return
        window = self._window(principal)
        spent = self._spent_total[principal]
        if spent + estimate <= budget:
            return
        # Free enough: the oldest charges leave the window first.
        need = spent + estimate - budget
        freed, retry_after = 0.0, BUDGET_WINDOW
        for end, seconds in window:
            freed += seconds
            if freed >= need:
                retry_after = end + BUDGET_WINDOW - self._clock()
                break
        raise OverBudget(principal, spent, budget, max(0.0, retry_after))

    async def _acquire(self, principal: str) -> None:
        settings = self.settings
        if self._in_flight < settings.max_in_flight and not self._ring:
            self._in_flight += 1
            return
        queued = self.queued
        if queued >= settings.max_queued:
            self._refused_busy += 1
            raise MIBusy("too many calls queued", queued=queued, oldest=self.oldest_wait)
        waiter = _Waiter(principal, asyncio.get_running_loop().create_future(), self._clock())
        queue = self._queues.setdefault(principal, deque())
        queue.append(waiter)
        if len(queue) == 1:
            self._ring.append(principal)
        try:
            async with asyncio.timeout(settings.queue_timeout):
                await asyncio.shield(waiter.future)
        except BaseException as exc:
            if waiter.future.done() and not waiter.future.cancelled():
                # The slot was handed over just as this waiter gave up: pass it on.
                self._release()
            else:
                waiter.future.cancel()
                self._forget(waiter)
            if isinstance(exc, TimeoutError):
                self._refused_busy += 1
                raise MIBusy(
                    f"waited {settings.queue_timeout:g} s for a turn",
                    queued=self.queued,
                    oldest=max(self.oldest_wait, self._clock() - waiter.since),
                ) from None
            raise

    def _forget(self, waiter: _Waiter) -> None:
        queue = self._queues.get(waiter.principal)
        if queue is None:
            return
        try:
            queue.remove(waiter)
        except ValueError:
            return
        if not queue:
            del self._queues[waiter.principal]
            with suppress(ValueError):
                self._ring.remove(waiter.principal)

    def _release(self) -> None:
        """Hand the slot to the next principal in round-robin order, or free it."""
        while self._ring:
            principal = self._ring.popleft()
            queue = self._queues[principal]
            waiter = queue.popleft()
            if queue:
                self._ring.append(principal)
            else:
                del self._queues[principal]
            if not waiter.future.done():
                waiter.future.set_result(None)
                return
        self._in_flight -= 1
