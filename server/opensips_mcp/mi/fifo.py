"""``mi_fifo`` transport: requests into OpenSIPS's FIFO, each reply through a FIFO of its own.

Framing, from ``modules/mi_fifo/fifo_fnc.c`` (3.6): a request is
``:<reply_name>:<JSON-RPC request>``; OpenSIPS reads at most ``MAX_MI_FIFO_BUFFER`` (4096)
bytes per request, opens ``<reply_dir><reply_name>`` for writing with ``O_NONBLOCK`` (while
nobody reads it, ``ENXIO``: retried 4 times 80 ms apart, then the reply is dropped; a
missing name, ``ENOENT``, is dropped at once), checks it is a FIFO that is neither a
symbolic link nor hard-linked, writes the JSON reply and closes it. ``reply_name`` may not
hold ``.``, ``/`` or ``\\``; ``reply_dir`` is the module's parameter (default ``/tmp/``),
given here as ``?reply_dir=`` in the URL. ``reply_dir`` and the name together may not
exceed ``MAX_MI_FILENAME`` (128) bytes with their terminating NUL: a longer one is dropped
unrun and unanswered ("reply fifoname too long", 3.4.18 to 4.0.1; measured on 3.6.8), so a
``reply_dir`` too long for this client's names is refused when the transport is made.

A request that parses as JSON but has no string ``method`` (a batch array, a scalar, a
missing or non-string ``method``) crashes OpenSIPS 3.4.18 to 4.0.1: mi_fifo traces it with
``strlen(NULL)``, the MI FIFO process segfaults and the main process stops the whole server
(measured on 3.6.8 and 3.4.18). `opensips_mcp.mi.jsonrpc.encode_request` only frames a
``str`` method.

Reply FIFOs. Every call has its own unguessable name (128 random bits), mode 0600, in
``reply_dir``; the client opens it for reading before sending, reads the reply up to
end-of-file (OpenSIPS closing its end) and closes it. Creating and removing a FIFO per
call costs two metadata writes on the directory's file system (~30 µs of CPU per call
with ``/tmp`` on ext4, about a third of the call against a real OpenSIPS), so a FIFO
whose call ended with a whole reply to that very request is kept (at most
``max_in_flight`` of them) and *renamed* to the next call's fresh name (one metadata
write): a reply OpenSIPS might still try to send under an old name finds nothing
(``ENOENT``), and while no call holds a FIFO open nobody can open it for writing
(``ENXIO``), so no reply addressed to one call can reach another. A FIFO whose call
failed in any way (timeout, deadline, cancelled, malformed or foreign reply, error) is
removed at once, never reused. `close` removes the kept ones (so do the transport's
garbage collection and the interpreter's exit, if it was never closed). Point
``reply_dir`` at a directory only this service and OpenSIPS can enter
(``modparam("mi_fifo", "reply_dir", "/run/opensips-mcp/")``) to keep the replies private.

Waiting for replies: on Linux the reply FIFOs are watched through one ``epoll`` set of the
transport, which the event loop watches as a single descriptor; registering a descriptor
with the loop for every call costs more, above all on uvloop (a libuv poll handle per
call). Elsewhere, ``loop.add_reader`` per call.

A reply ends at end-of-file. OpenSIPS writes a synchronous command's reply through one
open of the FIFO; an asynchronous command's reply larger than 4 KiB would come through
several opens, and is then read as truncated (``malformed``): use ``mi_http`` for those.
Asynchronous commands that answer more than once (``t_uac_dlg``, ``pua_publish``: a
provisional reply, then the final one) get the first reply; their FIFO is never reused.

When a request counts as sent: when the single ``write`` of the whole request to
OpenSIPS's FIFO returns. A URL whose path is not a FIFO (a regular file, a directory) is
never opened for writing: cause ``not_a_fifo``, nothing sent. A request of at most
``PIPE_BUF`` (4096) bytes is written atomically or not at all, so a refused write (no
reader: OpenSIPS not running; pipe full) means nothing left; requests larger than that
are refused before anything is written (`MIRequestTooLarge`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import select
import stat
import weakref
from collections.abc import Callable
from urllib.parse import parse_qs, unquote, urlsplit

from opensips_mcp.mi.settings import MISettings
from opensips_mcp.mi.transport import (
    Answer,
    AttemptFailed,
    ExpiryWatch,
    Slots,
    decode_or_fail,
    take_slot,
)

__all__ = ["MAX_FIFO_REQUEST", "FIFOTransport"]

MAX_FIFO_REQUEST = min(4096, select.PIPE_BUF)
"""Bytes of one request, framing included: mi_fifo's buffer, and the atomic pipe write."""

_NAME_BYTES = 16
_PREFIX = "opensips_mcp_"
_FRAMING = len(b"::\n") + 2 * _NAME_BYTES + len(_PREFIX)
MAX_MI_FILENAME = 128
"""mi_fifo's bound on ``reply_dir`` + reply name + NUL, in bytes (``mi_fifo.h``)."""

_MULTI_REPLY = frozenset(
    (b"t_uac_dlg", b"uac_dlg", b"tm:uac_dlg", b"pua_publish", b"publish", b"pua_mi:publish")
)
"""Commands OpenSIPS may answer more than once, 3.4 to 4.0 names (``MI_ASYNC_RPL_FLAG``
handlers called with ``done`` 0: modules tm and pua_mi): their reply FIFO is never reused."""


def reply_dir_of(url: str) -> str:
    """The ``reply_dir`` of a ``fifo://`` URL (``/tmp/`` by default), ending in ``/``.

    Raises `ValueError` when it is too long for mi_fifo to open this client's reply FIFOs
    in (see the module docstring): OpenSIPS would drop every request unanswered.
    """
    reply_dir = parse_qs(urlsplit(url).query).get("reply_dir", ["/tmp/"])[-1]
    reply_dir = reply_dir if reply_dir.endswith("/") else reply_dir + "/"
    room = MAX_MI_FILENAME - 1 - len(_PREFIX) - 2 * _NAME_BYTES
    if len(os.fsencode(reply_dir)) > room:
        raise ValueError(
            f"fifo reply_dir {reply_dir!r} is too long: mi_fifo drops, unrun and unanswered, "
            f"a request whose reply path exceeds {MAX_MI_FILENAME - 1} bytes, which leaves "
            f"{room} bytes for the directory of this client's reply FIFOs; point mi_fifo's "
            "reply_dir (and ?reply_dir= in the URL) at a shorter path"
        )
    return reply_dir


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
        self._reply_dir = reply_dir_of(settings.url)
        self._slots = Slots(settings.max_in_flight)
        self._replies = ReplyFIFOs(self._reply_dir, keep=settings.max_in_flight)
        self._watcher = ReadWatcher()
        self._reading: set[_Reply] = set()
        self._watch = ExpiryWatch(self._reading, settings.read_timeout)
        self._fd: int | None = None  # write end of OpenSIPS's FIFO, kept open
        self._closed = False

    async def close(self) -> None:
        """Close the request FIFO, remove the kept reply FIFOs. Later sends raise
        `RuntimeError`."""
        self._closed = True
        self._close_fifo()
        self._replies.close()
        self._watcher.close()
        if not self._reading:
            self._watch.stop()

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
        replies = self._replies
        try:
            name, path = replies.take()
        except OSError as exc:  # reply_dir missing, not writable, full
            cause = "permission_denied" if isinstance(exc, PermissionError) else "connect_error"
            detail = f"reply FIFO in {self._reply_dir}: {exc.strerror or exc}"
            raise AttemptFailed(cause, sent=False, detail=detail) from exc
        whole = False  # a whole reply to this very request came: the FIFO may serve again
        try:
            try:
                reply_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as exc:
                raise AttemptFailed("connect_error", sent=False) from exc
            try:
                await self._write(loop, b":%s:%s\n" % (name.encode("ascii"), body), deadline)
            except BaseException:
                os.close(reply_fd)
                raise
            payload = await self._read(loop, reply_fd, deadline)
            answer = decode_or_fail(payload, request_id)
            whole = _method(body) not in _MULTI_REPLY
            return answer
        finally:
            if whole:
                replies.give_back(path)
            else:
                replies.remove(path)

    async def _read(self, loop: asyncio.AbstractEventLoop, fd: int, deadline: float) -> bytes:
        """The reply read from ``fd`` up to end-of-file; ``fd`` is closed whatever happens."""
        try:
            reply = _Reply(loop, self._watcher, fd, deadline)
            try:
                self._watcher.watch(loop, fd, reply.readable)
            except OSError as exc:
                raise AttemptFailed("reset", sent=True) from exc
            reading = self._reading
            reading.add(reply)
            try:
                expiry = min(reply.last + self._settings.read_timeout, deadline)
                self._watch.expect(loop, expiry)
                await reply.done
            finally:
                reading.discard(reply)
                self._watcher.forget(loop, fd)
        finally:
            os.close(fd)
        return b"".join(reply.chunks)

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
            # The path is checked before it is opened (opening some devices has effects of
            # its own) and the descriptor after (the path may change in between): a URL
            # naming a regular file, say opensips.cfg, would otherwise have every request
            # appended to that file and each call wait for a reply that never comes.
            try:
                if not stat.S_ISFIFO(os.stat(self._fifo).st_mode):
                    raise AttemptFailed("not_a_fifo", sent=False)
                fd = os.open(self._fifo, os.O_WRONLY | os.O_NONBLOCK)
            except PermissionError as exc:  # fifo_mode does not let this user write it
                detail = f"{self._fifo}: {exc.strerror}"
                raise AttemptFailed("permission_denied", sent=False, detail=detail) from exc
            except OSError as exc:
                cause = "refused" if exc.errno in (errno.ENXIO, errno.ENOENT) else "connect_error"
                raise AttemptFailed(
                    cause, sent=False, detail=f"{self._fifo}: {exc.strerror}"
                ) from exc
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.close(fd)
                raise AttemptFailed("not_a_fifo", sent=False)
            self._fd = fd
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


class ReplyFIFOs:
    """The reply FIFOs of one transport, in ``directory``: a fresh name for every call.

    `take` renames a kept FIFO to a new unguessable name (or creates one, mode 0600);
    `give_back` keeps it for a later call (at most ``keep``), only after a call that read
    a whole reply to its own request; `remove` removes it (any other end of a call).
    """

    def __init__(self, directory: str, keep: int) -> None:
        self._dir = directory
        self._keep = keep
        self._idle: list[str] = []
        self._closed = False
        # Kept FIFOs of a transport never closed go when it is collected or at exit.
        self._finalizer = weakref.finalize(self, _remove_all, self._idle, os.getpid())

    def take(self) -> tuple[str, str]:
        """A reply FIFO for one call: ``(name, path)``; raises `OSError` if none can be had."""
        name = _PREFIX + secrets.token_hex(_NAME_BYTES)
        path = self._dir + name
        while self._idle:
            old = self._idle.pop()
            try:
                os.rename(old, path)  # the old name is gone: nothing sent to it arrives
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(old)
                continue
            return name, path
        os.mkfifo(path, 0o600)
        return name, path

    def give_back(self, path: str) -> None:
        """Keep ``path`` for a later call (its call read a whole reply; nothing holds it)."""
        if self._closed or len(self._idle) >= self._keep:
            self.remove(path)
        else:
            self._idle.append(path)

    def remove(self, path: str) -> None:
        """Remove ``path``: it never serves another call."""
        with contextlib.suppress(OSError):
            os.unlink(path)

    @property
    def kept(self) -> list[str]:
        """Paths of the FIFOs kept for later calls."""
        return list(self._idle)

    def close(self) -> None:
        """Remove every kept FIFO; later `give_back` calls remove theirs."""
        self._closed = True
        self._finalizer()


def _remove_all(paths: list[str], owner: int) -> None:
    if os.getpid() != owner:
        return  # a forked child leaving: the FIFOs are its parent's
    while paths:
        with contextlib.suppress(OSError):
            os.unlink(paths.pop())


class ReadWatcher:
    """Calls a function when a descriptor is readable, through one ``epoll`` set that the
    event loop watches as a single descriptor (``loop.add_reader`` per descriptor where
    ``select.epoll`` does not exist).

    `watch` takes a descriptor, `forget` stops watching it (before it is closed). After
    `close`, the ``epoll`` set is released as soon as nothing is watched.
    """

    def __init__(self) -> None:
        self._epoll: select.epoll | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callbacks: dict[int, Callable[[int], None]] = {}
        self._closed = False

    def watch(
        self, loop: asyncio.AbstractEventLoop, fd: int, callback: Callable[[int], None]
    ) -> None:
        """Call ``callback(events)`` (in ``loop``) whenever ``fd`` is readable, until
        `forget`; ``events`` holds ``EPOLLHUP`` when no writer is left (0 without epoll)."""
        if not _HAS_EPOLL:
            loop.add_reader(fd, callback, 0)
            return
        if self._loop is not loop:
            self._callbacks.clear()  # of another event loop, which is gone
            self._release()
            self._epoll = select.epoll()
            self._loop = loop
            loop.add_reader(self._epoll.fileno(), self._ready)
        assert self._epoll is not None
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def forget(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        """Stop watching ``fd`` (it is still open); nothing if it is not watched."""
        if not _HAS_EPOLL:
            loop.remove_reader(fd)
            return
        if self._callbacks.pop(fd, None) is not None and self._epoll is not None:
            self._epoll.unregister(fd)
            if self._closed and not self._callbacks:
                self._release()

    def _ready(self) -> None:
        assert self._epoll is not None
        callbacks = self._callbacks
        for fd, events in self._epoll.poll(0):
            callback = callbacks.get(fd)
            if callback is not None:
                callback(events)

    def close(self) -> None:
        """Release the ``epoll`` set now, or when the replies still awaited are in."""
        self._closed = True
        if not self._callbacks:
            self._release()

    def _release(self) -> None:
        if self._epoll is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
        self._epoll = None
        self._loop = None


_HAS_EPOLL = hasattr(select, "epoll")
_HANGUP = getattr(select, "EPOLLHUP", 0)
_CHUNK = 65536


class _Reply:
    """One call's reply FIFO being read to end-of-file; the request has been sent.

    ``read_timeout`` runs from the write, then from the last chunk; the transport's one
    timer (`ExpiryWatch`) fails the reads that ran out of time.
    """

    __slots__ = ("chunks", "deadline", "done", "fd", "last", "loop", "watcher")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, watcher: ReadWatcher, fd: int, deadline: float
    ) -> None:
        self.loop = loop
        self.watcher = watcher
        self.fd = fd
        self.deadline = deadline
        self.chunks: list[bytes] = []
        self.done: asyncio.Future[None] = loop.create_future()
        self.last = loop.time()

    def readable(self, events: int) -> None:
        """Read what is there; end-of-file (or a hang-up seen with the last chunk) ends it."""
        if self.done.done():
            return
        try:
            while True:
                chunk = os.read(self.fd, _CHUNK)
                if not chunk:
                    break  # writer closed: the reply is whole
                self.chunks.append(chunk)
                self.last = self.loop.time()
                if events & _HANGUP and len(chunk) < _CHUNK:
                    break  # the writer had closed when polled, and the pipe is drained
        except BlockingIOError:
            return
        except OSError:
            self.finish(AttemptFailed("reset", sent=True))
            return
        self.finish(None)

    def finish(self, error: AttemptFailed | None) -> None:
        """End the read: the reply is whole (``error`` None) or failed."""
        self.watcher.forget(self.loop, self.fd)  # at once: the loop need not see it again
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)

    def expiry(self, read_timeout: float, now: float) -> float | None:
        """Fail the read if its time ran out; else when it will, None once done."""
        if self.done.done():
            return None
        if now >= self.deadline:
            self.finish(AttemptFailed("deadline", sent=True))
            return None
        if self.last + read_timeout <= now:
            self.finish(AttemptFailed("read_timeout", sent=True))
            return None
        return min(self.last + read_timeout, self.deadline)


def _method(body: bytes) -> bytes:
    """The method of a request as `encode_request` writes it (``"method":"NAME"``)."""
    start = body.find(b'"method":"') + len(b'"method":"')
    return body[start : body.find(b'"', start)]


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
