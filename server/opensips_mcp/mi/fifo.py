"""``mi_fifo`` transport: requests into OpenSIPS's FIFO, each reply through its own FIFO.

Framing, from ``modules/mi_fifo/fifo_fnc.c`` (3.6): a request is
``:<reply_name>:<JSON-RPC request>``; OpenSIPS reads at most ``MAX_MI_FIFO_BUFFER`` (4096)
bytes per request, opens ``<reply_dir><reply_name>`` for writing (non-blocking, retried a
few times while nobody reads it), writes the JSON reply and closes it. ``reply_name`` may
not hold ``.``, ``/`` or ``\\``; ``reply_dir`` is the module's parameter (default
``/tmp/``), given here as ``?reply_dir=`` in the URL.

Per call this client creates a FIFO with an unguessable name (128 random bits) and mode
0600 in ``reply_dir``, opens it for reading before sending, reads the reply up to
end-of-file (OpenSIPS closing its end), and removes the FIFO afterwards, whatever
happened. Point ``reply_dir`` at a directory only this service and OpenSIPS can enter
(``modparam("mi_fifo", "reply_dir", "/run/opensips-mcp/")``) to keep the replies private.

A reply ends at end-of-file. OpenSIPS writes a synchronous command's reply through one
open of the FIFO; an asynchronous command's reply larger than 4 KiB would come through
several opens, and is then read as truncated (``malformed``): use ``mi_http`` for those.

When a request counts as sent: when the single ``write`` of the whole request to
OpenSIPS's FIFO returns. A request of at most ``PIPE_BUF`` (4096) bytes is written
atomically or not at all, so a refused write (no reader: OpenSIPS not running; pipe
full) means nothing left; requests larger than that are refused before anything is
written (`MIRequestTooLarge`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import select
from urllib.parse import parse_qs, unquote, urlsplit

from opensips_mcp.mi.settings import MISettings
from opensips_mcp.mi.transport import Answer, AttemptFailed, Slots, decode_or_fail, take_slot

__all__ = ["MAX_FIFO_REQUEST", "FIFOTransport"]

MAX_FIFO_REQUEST = min(4096, select.PIPE_BUF)
"""Bytes of one request, framing included: mi_fifo's buffer, and the atomic pipe write."""

_NAME_BYTES = 16
_FRAMING = len(b"::\n") + 2 * _NAME_BYTES + len("opensips_mcp_")


class FIFOTransport:
    """``fifo:///path/to/opensips_fifo[?reply_dir=/tmp/]``: MI over ``mi_fifo``.

    Sent: when the one ``write`` of the request to OpenSIPS's FIFO has returned (see the
    module docstring). Opening the FIFO (``ENOENT``, ``ENXIO`` when OpenSIPS is not
    reading it) and waiting for room in a full pipe (up to ``connect_timeout``) come
    before, and count as not sent. At most ``max_in_flight`` calls are in flight (each has
    its own reply FIFO; OpenSIPS runs them one at a time).
    """

    max_request_size: int | None = MAX_FIFO_REQUEST - _FRAMING

    def __init__(self, settings: MISettings) -> None:
        self._settings = settings
        parts = urlsplit(settings.url)
        self._fifo = unquote(parts.path)
        if not self._fifo or parts.netloc not in ("", "localhost"):
            raise ValueError(f"fifo url must be fifo:///absolute/path, got {settings.url!r}")
        query = parse_qs(parts.query)
        reply_dir = query.get("reply_dir", ["/tmp/"])[-1]
        self._reply_dir = reply_dir if reply_dir.endswith("/") else reply_dir + "/"
        self._slots = Slots(settings.max_in_flight)
        self._fd: int | None = None  # write end of OpenSIPS's FIFO, kept open
        self._closed = False

    async def close(self) -> None:
        """Close the request FIFO. Later sends raise `RuntimeError`."""
        self._closed = True
        self._close_fifo()

    def _close_fifo(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    async def send(self, body: bytes, request_id: int, deadline: float) -> Answer:
        """Send one request and return its answer, or raise `AttemptFailed`."""
        if self._closed:
            raise RuntimeError("MI client is closed")
        loop = asyncio.get_running_loop()
        slots = self._slots
        if not slots.try_take():  # the common case takes a free slot without an await
            await take_slot(slots, self._settings.pool_timeout, deadline)
        try:
            return await self._call(loop, body, request_id, deadline)
        finally:
            slots.release()

    async def _call(
        self, loop: asyncio.AbstractEventLoop, body: bytes, request_id: int, deadline: float
    ) -> Answer:
        name = "opensips_mcp_" + secrets.token_hex(_NAME_BYTES)
        path = self._reply_dir + name
        try:
            os.mkfifo(path, 0o600)
        except OSError as exc:
            raise AttemptFailed("connect_error", sent=False) from exc
        reply_fd = -1
        try:
            reply_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            await self._write(loop, b":%s:%s\n" % (name.encode("ascii"), body), deadline)
            payload = await _read_to_eof(loop, reply_fd, self._settings.read_timeout, deadline)
        except OSError as exc:
            raise AttemptFailed("connect_error", sent=False) from exc
        finally:
            if reply_fd >= 0:
                os.close(reply_fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
        return decode_or_fail(payload, request_id)

    async def _write(self, loop: asyncio.AbstractEventLoop, data: bytes, deadline: float) -> None:
        """Write ``data`` in one write; raise `AttemptFailed` (not sent) if it cannot go."""
        for _ in range(2):  # a second time after OpenSIPS re-created its FIFO
            fd = self._open_fifo()
            try:
                os.write(fd, data)  # atomic: all of it, or an error and nothing
                return
            except BrokenPipeError:
                self._close_fifo()  # the FIFO lost its reader: maybe re-created; reopen
                continue
            except BlockingIOError:
                await self._wait_writable(loop, fd, deadline)
                try:
                    os.write(fd, data)
                    return
                except BlockingIOError:
                    raise AttemptFailed("connect_timeout", sent=False) from None
                except BrokenPipeError:
                    self._close_fifo()
                    continue
        raise AttemptFailed("refused", sent=False)

    def _open_fifo(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self._fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                cause = "refused" if exc.errno in (errno.ENXIO, errno.ENOENT) else "connect_error"
                raise AttemptFailed(cause, sent=False) from exc
        return self._fd

    async def _wait_writable(
        self, loop: asyncio.AbstractEventLoop, fd: int, deadline: float
    ) -> None:
        writable: asyncio.Future[None] = loop.create_future()
        loop.add_writer(fd, _wake, writable)
        wait = min(self._settings.connect_timeout, deadline - loop.time())
        try:
            async with asyncio.timeout(max(wait, 0)):
                await writable
        except TimeoutError:
            cause = "deadline" if loop.time() >= deadline else "connect_timeout"
            raise AttemptFailed(cause, sent=False) from None
        finally:
            loop.remove_writer(fd)


async def _read_to_eof(
    loop: asyncio.AbstractEventLoop, fd: int, read_timeout: float, deadline: float
) -> bytes:
    """Read the reply FIFO until OpenSIPS closes it; the request has been sent.

    ``read_timeout`` runs from the write, then from the last chunk; one timer, re-armed
    only when it fires before the reply is whole.
    """
    chunks: list[bytes] = []
    done: asyncio.Future[None] = loop.create_future()
    last = loop.time()
    timer: asyncio.TimerHandle | None = None

    def readable() -> None:
        nonlocal last
        if done.done():
            return
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    done.set_result(None)  # writer closed: the reply is whole
                    return
                chunks.append(chunk)
                last = loop.time()
        except BlockingIOError:
            return
        except OSError:
            done.set_exception(AttemptFailed("reset", sent=True))

    def check() -> None:
        nonlocal timer
        if done.done():
            return
        now = loop.time()
        if now >= deadline:
            done.set_exception(AttemptFailed("deadline", sent=True))
        elif last + read_timeout <= now:
            done.set_exception(AttemptFailed("read_timeout", sent=True))
        else:
            timer = loop.call_at(min(last + read_timeout, deadline), check)

    loop.add_reader(fd, readable)
    timer = loop.call_at(min(last + read_timeout, deadline), check)
    try:
        await done
    finally:
        if timer is not None:
            timer.cancel()
        loop.remove_reader(fd)
    return b"".join(chunks)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
