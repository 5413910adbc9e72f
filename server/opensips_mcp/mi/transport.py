"""The transport interface under `MIClient`: one request/reply exchange, three results.

Every transport (``mi_http``, ``mi_fifo``, ``mi_datagram``) implements `Transport` and
tells apart the three results the retry rules of `MIClient.call` depend on:

* an answer (JSON-RPC result or error, or an HTTP 3xx/4xx status): returned;
* not sent (no slot in time, could not connect, nothing written): `AttemptFailed` with
  ``sent=False``; safe to retry at any level;
* sent, then no usable answer: `AttemptFailed` with ``sent=True``; the request may have
  been applied.

The rules themselves (what is retried, what becomes `MIOutcomeUnknown`) live in one
place, `MIClient.call`, and hold for every transport. A transport's only duty is to
decide "sent" conservatively (when in doubt, sent) and to put each request on the wire
in a single write (one ``write``/``send`` call), so that a refused write means nothing
left. Each transport's docstring states when its requests count as sent.

`open_transport` picks the transport from the URL scheme of `MISettings.url`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from opensips_mcp.mi.jsonrpc import ReplyError, ReplyProblem, ReplyResult, decode_reply
from opensips_mcp.mi.settings import MISettings

__all__ = [
    "Answer",
    "AttemptFailed",
    "Expiring",
    "ExpiryWatch",
    "Slots",
    "StatusAnswer",
    "Transport",
    "decode_or_fail",
    "open_transport",
]


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """A 3xx/4xx HTTP reply: the server refused the request (it did not run it).

    ``page``: the reply announced a body of its own (a ``Content-Length``), as httpd's
    "Unable to parse URL!" page has; mi_http's own refusals (no body reached it) come
    without one (chunked, their end held back).
    """

    status: int
    page: bool = True


Answer = ReplyResult | ReplyError | StatusAnswer


class AttemptFailed(Exception):
    """One attempt got no answer.

    ``sent`` tells whether the request may have reached the server; ``cause`` says what
    happened (the names used by the public errors); ``status`` is the HTTP status for
    ``http_5xx``/``http_status``; ``detail`` what the system said, when it helps.
    """

    def __init__(
        self, cause: str, *, sent: bool, status: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(cause if status is None else f"{cause} ({status})")
        self.cause = cause
        self.sent = sent
        self.status = status
        self.detail = detail
        """What the system said, when it tells the operator more than ``cause`` (the TLS
        verification error of ``tls_untrusted``)."""


class Transport(Protocol):
    """One way of carrying MI requests to OpenSIPS and their replies back."""

    max_request_size: int | None
    """Largest request body (bytes) the server answers, None if unbounded; a larger one is
    refused unsent (`MIRequestTooLarge`)."""

    async def send(self, body: bytes, request_id: int, deadline: float) -> Answer:
        """Send one JSON-RPC request ``body`` and return its answer, or raise `AttemptFailed`.

        ``deadline`` is a `loop.time()` value; nothing runs past it (cause ``"deadline"``).
        At most ``settings.max_in_flight`` requests are in flight at once; waiting longer
        than ``settings.pool_timeout`` for a turn is ``"pool_timeout"`` (not sent).
        """
        ...

    async def close(self) -> None:
        """Release every socket, pipe and file. Later sends raise `RuntimeError`."""
        ...


class Expiring(Protocol):
    """An exchange in flight whose time limits an `ExpiryWatch` watches."""

    def expiry(self, read_timeout: float, now: float) -> float | None:
        """Fail the exchange if its time ran out; else when it will; None once done."""
        ...


class ExpiryWatch:
    """One timer for every exchange in flight of a transport.

    Cheaper than a timer per call (above all on uvloop: a libuv handle each) and exact all
    the same: it is armed for the earliest expiry, fails the exchanges whose time ran out
    and re-arms for the rest.
    """

    def __init__(self, pending: Collection[Expiring], read_timeout: float) -> None:
        self._pending = pending
        self._read_timeout = read_timeout
        self._timer: asyncio.TimerHandle | None = None
        self._at = 0.0

    def expect(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        """Make sure the timer fires by ``when`` (an exchange's expiry)."""
        if self._timer is None or when < self._at:
            self._arm(loop, when)

    def stop(self) -> None:
        """Cancel the timer (no exchange left to watch)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._fire, loop)
        self._at = when

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        earliest: float | None = None
        for pending in list(self._pending):
            when = pending.expiry(self._read_timeout, now)
            if when is not None and (earliest is None or when < earliest):
                earliest = when
        if earliest is not None:
            self._arm(loop, earliest)


class Slots:
    """At most ``size`` holders at once; waiters are served first come, first served.

    `asyncio.Semaphore` does the same at a higher cost per call: taking a free slot here
    is a comparison, with no await, and waiters share one timer (armed for the earliest
    of their time limits) instead of a timeout each.
    """

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[tuple[float, asyncio.Future[bool]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def try_take(self) -> bool:
        """Take a slot if one is free and nobody waits for one."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a slot; False if none came in time."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        expiry = loop.time() + timeout
        self._waiters.append((expiry, waiter))
        if self._timer is None or expiry < self._timer_at:
            self._arm(loop, expiry)
        try:
            got = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.release()  # handed over just as we were cancelled: pass it on
            self._forget(waiter)
            raise
        if not got:
            self._forget(waiter)
        return got

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._expire, loop)
        self._timer_at = when

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        earliest: float | None = None
        for expiry, waiter in self._waiters:
            if waiter.done():
                continue
            if expiry <= now:
                waiter.set_result(False)
            elif earliest is None or expiry < earliest:
                earliest = expiry
        if earliest is not None:
            self._arm(loop, earliest)

    def _forget(self, waiter: asyncio.Future[bool]) -> None:
        for entry in self._waiters:
            if entry[1] is waiter:
                self._waiters.remove(entry)
                return

    def release(self) -> None:
        """Give the slot to the first waiter, or free it."""
        waiters = self._waiters
        while waiters:
            _, waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self._free += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def take_slot(slots: Slots, pool_timeout: float, deadline: float) -> None:
    """Take a slot within ``pool_timeout`` and the deadline, or raise `AttemptFailed`."""
    if slots.try_take():
        return
    loop = asyncio.get_running_loop()
    wait = min(pool_timeout, deadline - loop.time())
    if wait <= 0 or not await slots.take(wait):
        cause = "deadline" if loop.time() >= deadline else "pool_timeout"
        raise AttemptFailed(cause, sent=False)


def decode_or_fail(payload: bytes, request_id: int) -> ReplyResult | ReplyError:
    """Decode a reply body; a body that is no reply to this request is a sent failure."""
    try:
        return decode_reply(payload, request_id)
    except ReplyProblem as exc:
        raise AttemptFailed(exc.kind, sent=True) from exc


def open_transport(settings: MISettings) -> Transport:
    """The transport for ``settings.url``'s scheme (see `MISettings` for the URL forms)."""
    scheme = settings.url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        from opensips_mcp.mi.http import HTTPTransport

        return HTTPTransport(settings)
    if scheme == "fifo":
        from opensips_mcp.mi.fifo import FIFOTransport

        return FIFOTransport(settings)
    if scheme in ("udp", "unix"):
        from opensips_mcp.mi.datagram import DatagramTransport

        return DatagramTransport(settings)
    raise ValueError(f"no MI transport for {settings.url!r}")
