"""The simulator over ``mi_fifo`` and ``mi_datagram``: same state, faults and journal as HTTP.

Framing as OpenSIPS 3.6 does it (modules/mi_fifo/fifo_fnc.c, modules/mi_datagram/
datagram_fnc.c):

* FIFO: requests ``:<reply_name>:<JSON>`` arrive on the FIFO, read at most 4096 bytes at
  a time; a request ends where its JSON value ends (white space, new lines included, may
  come before it; what follows is the next request), not at a new line (`take_requests`).
  The reply is written to ``<reply_dir><reply_name>``, opened non-blocking (retried four
  times, 80 ms apart, while nobody reads it), then closed. A name holding ``.``, ``/``
  or ``\\``, or making ``reply_dir`` + name longer than 127 bytes, is refused (not run, no
  reply; measured on 3.6.8). An empty name means "no reply wanted". A request whose JSON
  does not parse gets no reply at all ("cannot parse command", measured on 3.6.8); one
  whose ``id`` cannot be printed gets the text ``failed to print response``.
* A request that parses but has no string ``method`` (a batch, a scalar, ``{}``) crashes
  OpenSIPS: its mi_fifo traces it with ``strlen(NULL)`` (3.4.18 to 4.0.1), 4.0's
  mi_datagram builds a profiling name from it; the process segfaults and OpenSIPS stops
  (measured on 3.6.8 and 3.4.18 over FIFO, on 4.0.1 over UDP; 3.4/3.6's mi_datagram answer
  ``-32600``). The simulator then crashes too (in `Simulator.handle_mi`, as
  `Persona.segfaults_without_method` says).
* Datagram (UDP or a unix socket): one request per datagram of at most 65457 bytes; the
  reply is one datagram to the sender; a reply longer than 65457 bytes is replaced by the
  text ``500 Internal error`` (measured on 3.6.8: a 139 KB ``ul_show_contact``); a request
  whose JSON does not parse (``{bad``, a ``\\u0000``) gets the text ``400 Parse_error``
  (measured on 3.6.8).

Each request goes through `Simulator.handle_mi` (journal ``http_method`` is ``"FIFO"``,
``"UDP"`` or ``"UNIX"``, ``path`` the FIFO or socket). What the HTTP wire would turn into
a status or a broken connection becomes, here:

=============  ============================================  ==============================
reply kind     FIFO                                          datagram
=============  ============================================  ==============================
json           the JSON reply                                the JSON reply
empty 202      nothing (a notification)                      nothing
empty (other)  ``failed to build response`` (mi_throw_error)  ``500 Internal error``
unprintable    ``failed to print response``                  ``500 Internal error``
reset/close    reply FIFO opened and closed, nothing written  nothing
truncate       first half of the reply                       first half of the reply
malformed      the malformed body                            the malformed body
stall          nothing                                       nothing
=============  ============================================  ==============================
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from . import jsonrpc
from .simulator import MIReply, Simulator

__all__ = [
    "MAX_DATAGRAM",
    "MAX_FIFO_REQUEST",
    "DatagramServer",
    "FIFOServer",
    "start_streams",
    "take_requests",
]

MAX_FIFO_REQUEST = 4096
MAX_DATAGRAM = 65457
MAX_MI_FILENAME = 128
_FIFO_ERROR = b"failed to build response"
_FIFO_PRINT_ERROR = b"failed to print response"
_WHITE_SPACE = b" \t\r\n"  # OpenSIPS's is_ws
_DATAGRAM_ERROR = b"500 Internal error"
_PARSE_ERROR = b"400 Parse_error"
_REPLY_TRIES = 5
_REPLY_WAIT = 0.08


def _wire_bytes(reply: MIReply, error_text: bytes, print_error: bytes) -> bytes | None:
    """The bytes to send back for ``reply``; None sends nothing, b"" closes at once."""
    kind = reply.kind
    if kind in ("json", "malformed"):
        return reply.body
    if kind == "truncate":
        return reply.body[: len(reply.body) // 2]
    if kind == "empty":
        if reply.status == 202:
            return None
        return print_error if reply.unprintable else error_text
    if kind in ("reset", "close"):
        return b""
    return None  # stall


class FIFOServer:
    """Serve MI on a FIFO at ``path``; replies go to FIFOs in ``reply_dir``."""

    def __init__(self, sim: Simulator, path: str | Path, reply_dir: str | Path = "/tmp/") -> None:
        self.sim = sim
        self.path = Path(path)
        self.reply_dir = Path(reply_dir)
        # mi_fifo bounds reply_dir + name + NUL, reply_dir as configured ("/tmp/": 5 bytes)
        self._reply_dir_size = len(os.fsencode(str(reply_dir))) + 1
        self._fds: list[int] = []
        self._buffer = b""
        self._queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Create the FIFO (replacing a stale one) and start reading it."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.mkfifo(self.path, 0o600)
        read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        # Keep a writer open, as OpenSIPS does, so the FIFO never reads end-of-file.
        self._fds = [read_fd, os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)]
        loop = asyncio.get_running_loop()
        loop.add_reader(read_fd, self._readable, read_fd)
        self._worker = loop.create_task(self._serve())

    async def close(self) -> None:
        """Stop reading and remove the FIFO."""
        if self._fds:
            asyncio.get_running_loop().remove_reader(self._fds[0])
            for fd in self._fds:
                os.close(fd)
            self._fds = []
        for task in [self._worker, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _readable(self, fd: int) -> None:
        room = MAX_FIFO_REQUEST - len(self._buffer)
        if room <= 0:
            # mi_fifo would read nothing and spin on this request forever; start over
            self._buffer = b""
            room = MAX_FIFO_REQUEST
        try:
            chunk = os.read(fd, room)
        except BlockingIOError:
            return
        frames, self._buffer = take_requests(self._buffer, chunk, self._reply_dir_size)
        for frame in frames:
            self._queue.put_nowait(frame)

    async def _serve(self) -> None:
        # A task per request, as the HTTP wire: `Simulator.handle_mi` runs commands one at a
        # time (its lock), delays and stalls included, as the single MI process does.
        loop = asyncio.get_running_loop()
        while True:
            frame = await self._queue.get()
            task = loop.create_task(self._one(frame))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _one(self, frame: tuple[bytes, bytes]) -> None:
        name, body = frame
        reply = await self.sim.handle_mi(body, http_method="FIFO", path=str(self.path))
        if not name or self.sim.crashed is not None:
            return  # no reply wanted; or the server is down
        data = _wire_bytes(reply, _FIFO_ERROR, _FIFO_PRINT_ERROR)
        if data is None:
            return
        await self._reply(self.reply_dir / name.decode("latin-1"), data)

    @staticmethod
    async def _reply(target: Path, data: bytes) -> None:
        for attempt in range(_REPLY_TRIES):
            try:
                fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if attempt + 1 < _REPLY_TRIES:
                    await asyncio.sleep(_REPLY_WAIT)  # mi_fifo's FIFO_REPLY_WAIT
                continue
            try:
                written = 0
                with contextlib.suppress(BlockingIOError):
                    written = os.write(fd, data)  # most replies fit the pipe at once
                if written < len(data):
                    os.set_blocking(fd, True)  # as mi_fifo: blocking for big replies
                    await asyncio.to_thread(_write_all, fd, data[written:])
            except OSError:
                pass
            finally:
                os.close(fd)
            return


def take_requests(
    kept: bytes, chunk: bytes, reply_dir_size: int
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """mi_fifo_callback's reading of one ``chunk`` after the bytes it ``kept`` from the last
    read: the ``(reply name, JSON body)`` requests it runs, in order, and the bytes it keeps
    for the next read. ``reply_dir_size``: the bytes of ``reply_dir`` plus one (the NUL).

    As ``modules/mi_fifo/fifo_fnc.c`` (3.4.18 to 4.0.1): white space is skipped; a request
    not starting with ``:``, or whose name is forbidden or too long, drops everything read
    so far; one whose JSON is incomplete or unreadable is dropped, except that what was
    left after an earlier request of the same read is kept, to be completed by the next
    read (a request split across two reads); after a request, the rest is read the same way.
    """
    data = kept + chunk
    keep = len(kept)  # what a failed first pass keeps: mi_fifo's remain_len is unchanged
    frames: list[tuple[bytes, bytes]] = []
    while True:
        rest = data.lstrip(_WHITE_SPACE)
        if not rest:
            return frames, b""  # "command file is empty"
        if len(rest) < 3:
            return frames, data[:keep]
        if rest[:1] != b":":
            return frames, b""  # "command must begin with ':'"
        sep = rest.find(b":", 1)
        if sep < 0 or sep >= len(rest) - 1:
            return frames, data[:keep]  # "file separator missing", "no command specified"
        name = rest[1:sep]
        if any(c in name for c in b"./\\") or reply_dir_size + len(name) > MAX_MI_FILENAME:
            return frames, b""  # "forbidden filename", "reply fifoname too long"
        body = rest[sep + 1 :]
        end = jsonrpc.value_end(body)
        if end is None:
            return frames, data[:keep]  # "cannot parse command": no reply
        frames.append((name, body[:end]))
        data = body[end:]
        keep = len(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: DatagramServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.received(data, addr)


class DatagramServer:
    """Serve MI on UDP ``(host, port)`` or a unix datagram socket at ``unix_path``."""

    def __init__(
        self,
        sim: Simulator,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        unix_path: str | Path | None = None,
    ) -> None:
        if (port is None) == (unix_path is None):
            raise ValueError("give one of port and unix_path")
        self.sim = sim
        self.host = host
        self.port = port
        self.unix_path = Path(unix_path) if unix_path is not None else None
        self._transport: asyncio.DatagramTransport | None = None
        self._tx: socket.socket | None = None
        self._queue: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def label(self) -> str:
        return "UNIX" if self.unix_path is not None else "UDP"

    async def start(self) -> int | None:
        """Bind and start serving; returns the UDP port (None for a unix socket)."""
        loop = asyncio.get_running_loop()
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.unix_path.unlink()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(str(self.unix_path))
            os.chmod(self.unix_path, 0o600)
            # OpenSIPS replies from a second socket on unix sockets.
            self._tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._tx.setblocking(False)
            transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), sock=sock)
        else:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=(self.host, self.port or 0)
            )
            self.port = int(transport.get_extra_info("sockname")[1])
        self._transport = transport
        self._worker = loop.create_task(self._serve())
        return self.port

    async def close(self) -> None:
        """Stop serving; remove the unix socket."""
        for task in [self._worker, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._transport is not None:
            self._transport.close()
        if self._tx is not None:
            self._tx.close()
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.unix_path.unlink()

    def received(self, data: bytes, addr: Any) -> None:
        self._queue.put_nowait((data[:MAX_DATAGRAM], addr))

    async def _serve(self) -> None:
        # A task per request, as in FIFOServer._serve.
        loop = asyncio.get_running_loop()
        while True:
            data, addr = await self._queue.get()
            task = loop.create_task(self._one(data, addr))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _one(self, data: bytes, addr: Any) -> None:
        if self.sim.crashed is None and not jsonrpc.parse(data).parsed:
            self._send(_PARSE_ERROR, addr)  # for any parse error (measured on 3.6.8)
            return
        path = str(self.unix_path) if self.unix_path is not None else f"{self.host}:{self.port}"
        reply = await self.sim.handle_mi(data, http_method=self.label, path=path)
        out = _wire_bytes(reply, _DATAGRAM_ERROR, _DATAGRAM_ERROR)
        if out:
            # a reply that does not fit is not printed: "500 Internal error" (real 3.6.8)
            self._send(out if len(out) <= MAX_DATAGRAM else _DATAGRAM_ERROR, addr)

    def _send(self, data: bytes, addr: Any) -> None:
        with contextlib.suppress(OSError):  # the client went away: as mi_send_dgram, ignored
            if self._tx is not None:
                self._tx.sendto(data, addr)
            elif self._transport is not None:
                self._transport.sendto(data, addr)


async def start_streams(
    sim: Simulator, args: argparse.Namespace
) -> list[FIFOServer | DatagramServer]:
    """Start the servers ``--fifo``, ``--udp`` and ``--unix`` ask for; print their URLs."""
    started: list[Stream] = []
    if args.fifo:
        fifo = FIFOServer(sim, args.fifo, args.fifo_reply_dir)
        await fifo.start()
        started.append(fifo)
        print(
            f"opensips-sim listening on fifo://{_absolute(args.fifo)}"
            f"?reply_dir={args.fifo_reply_dir}",
            flush=True,
        )
    if args.udp is not None:
        udp = DatagramServer(sim, host=args.host, port=args.udp)
        port = await udp.start()
        started.append(udp)
        print(f"opensips-sim listening on udp://{args.host}:{port}", flush=True)
    if args.unix:
        unix = DatagramServer(sim, unix_path=args.unix)
        await unix.start()
        started.append(unix)
        print(f"opensips-sim listening on unix://{_absolute(args.unix)}", flush=True)
    return started


Stream = FIFOServer | DatagramServer


def _absolute(path: str) -> str:
    return os.path.abspath(path)
