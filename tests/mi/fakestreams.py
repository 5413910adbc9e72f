"""Fake ``mi_fifo`` and ``mi_datagram`` servers for the MI client tests.

Both frame requests and replies as OpenSIPS 3.6 does (modules/mi_fifo/fifo_fnc.c,
modules/mi_datagram/datagram_fnc.c) and record every request they receive. A handler
returns the reply bytes, or None to stay silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

FakeHandler = Callable[[dict[str, Any]], bytes | None]


def answer_ok(request: dict[str, Any]) -> bytes | None:
    """Reply ``"OK"`` to every request."""
    return json.dumps({"jsonrpc": "2.0", "result": "OK", "id": request.get("id")}).encode()


def silent(request: dict[str, Any]) -> bytes | None:
    """Never reply."""
    return None


class FakeFIFOServer:
    """``mi_fifo``: reads ``:<reply_name>:<json>`` from its FIFO, replies into reply_dir."""

    def __init__(self, directory: Path, handler: FakeHandler = answer_ok) -> None:
        self.fifo = directory / "opensips_fifo"
        self.reply_dir = directory / "replies"
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        self.frames: list[bytes] = []
        self.reply_names: list[str] = []
        self._buffer = b""
        self._fds: list[int] = []

    @property
    def url(self) -> str:
        return f"fifo://{self.fifo}?reply_dir={self.reply_dir}/"

    def start(self) -> FakeFIFOServer:
        self.reply_dir.mkdir()
        os.mkfifo(self.fifo, 0o600)
        read_fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        self._fds = [read_fd, os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)]  # as OpenSIPS
        asyncio.get_running_loop().add_reader(read_fd, self._readable, read_fd)
        return self

    def stop(self) -> None:
        if self._fds:
            asyncio.get_running_loop().remove_reader(self._fds[0])
            for fd in self._fds:
                os.close(fd)
            self._fds = []
        with contextlib.suppress(FileNotFoundError):
            self.fifo.unlink()

    def _readable(self, fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            self._buffer += os.read(fd, 65536)
        while b"\n" in self._buffer:
            frame, self._buffer = self._buffer.split(b"\n", 1)
            self.frames.append(frame)
            _, name, body = frame.split(b":", 2)
            request = json.loads(body)
            self.requests.append(request)
            self.reply_names.append(name.decode())
            reply = self.handler(request)
            if reply is not None:
                out = os.open(self.reply_dir / name.decode(), os.O_WRONLY | os.O_NONBLOCK)
                try:
                    os.write(out, reply)
                finally:
                    os.close(out)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: FakeDatagramServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.server.received(data, addr)


class FakeDatagramServer:
    """``mi_datagram``: one request per datagram, the reply to the sender's address.

    On a unix socket it replies from a second, unbound socket, as OpenSIPS does.
    """

    def __init__(self, handler: FakeHandler = answer_ok, unix_path: Path | None = None) -> None:
        self.handler = handler
        self.unix_path = unix_path
        self.requests: list[dict[str, Any]] = []
        self.senders: list[Any] = []
        self.held: list[tuple[bytes, Any]] = []  # replies the test sends later by hand
        self._transport: asyncio.DatagramTransport | None = None
        self._tx: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if self.unix_path is not None:
            return f"unix://{self.unix_path}"
        return f"udp://127.0.0.1:{self.port}"

    async def start(self) -> FakeDatagramServer:
        loop = asyncio.get_running_loop()
        if self.unix_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(str(self.unix_path))
            self._tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self), sock=sock)
        else:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self), local_addr=("127.0.0.1", 0)
            )
            self.port = transport.get_extra_info("sockname")[1]
        self._transport = transport
        return self

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._tx is not None:
            self._tx.close()
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.unix_path.unlink()

    def received(self, data: bytes, addr: Any) -> None:
        try:
            request = json.loads(data)
        except ValueError:
            self.send(b"400 Parse_error", addr)
            return
        self.requests.append(request)
        self.senders.append(addr)
        reply = self.handler(request)
        if reply is not None:
            self.send(reply, addr)

    def send(self, data: bytes, addr: Any) -> None:
        """Send ``data`` to ``addr``; a vanished unix peer is ignored, as OpenSIPS does."""
        if self._tx is not None:
            with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
                self._tx.sendto(data, addr)
        elif self._transport is not None:
            self._transport.sendto(data, addr)
