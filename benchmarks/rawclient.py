"""The floor: a raw asyncio socket loop, one pre-built request per write, kept alive.

No HTTP library, no JSON encoding per call, no retry logic: the least a client can do to
get an MI answer, so the speed of anything better-behaved is read as a ratio to it. Each
connection carries one request at a time (HTTP/1.1 without pipelining, as ``mi_http``
needs); N in flight means N connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
from typing import Any

__all__ = ["RawFIFO", "RawPool", "build_request"]


def build_request(
    host: str, port: int, method: str, params: Any = None, request_id: int = 1
) -> bytes:
    """The whole HTTP request (headers and JSON-RPC body) as the bytes of one write."""
    payload: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        payload["params"] = params
    body = json.dumps(payload, separators=(",", ":")).encode()
    head = (
        f"POST /mi HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    return head + body


class RawConnection:
    """One kept-alive connection that sends a request and reads its 200 reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> bytes:
        """Send ``request`` in one write; return the reply body (``Content-Length`` framed)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"unexpected reply {head[:40]!r}")
        lower = head.lower()
        start = lower.index(b"content-length:") + len(b"content-length:")
        length = int(lower[start : lower.index(b"\r\n", start)])
        return await self.reader.readexactly(length)

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


class RawPool:
    """``size`` raw connections to ``host:port``; worker ``i`` uses connection ``i``."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host = host
        self.port = port
        self.size = size
        self.connections: list[RawConnection] = []

    async def open(self) -> RawPool:
        """Connect every connection."""
        for _ in range(self.size):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.connections.append(RawConnection(reader, writer))
        return self

    async def close(self) -> None:
        """Close every connection."""
        for conn in self.connections:
            conn.close()
        for conn in self.connections:
            await conn.writer.wait_closed()
        self.connections.clear()

    async def __aenter__(self) -> RawPool:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class RawFIFO:
    """The floor of ``mi_fifo``: one reply FIFO for every call (same name), opened for
    reading, one pre-built request written to OpenSIPS's FIFO, read to end-of-file.

    No fresh name per call, no timeouts, no checks: the least a client can do per call
    over mi_fifo, on the running event loop (the reply FIFO watched through an ``epoll``
    set the loop watches once). 1 in flight.
    """

    def __init__(self, fifo: str, reply_dir: str, method: str = "uptime") -> None:
        self.fifo = fifo
        self.name = f"bench_raw_{os.getpid()}"
        self.path = os.path.join(reply_dir, self.name)
        body = json.dumps({"jsonrpc": "2.0", "method": method, "id": 1}, separators=(",", ":"))
        self.request = b":%s:%s\n" % (self.name.encode(), body.encode())
        self._fd = -1
        self._epoll = select.epoll()
        self._waiter: asyncio.Future[None] | None = None

    async def __aenter__(self) -> RawFIFO:
        with contextlib.suppress(FileExistsError):
            os.mkfifo(self.path, 0o600)
        self._fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        asyncio.get_running_loop().add_reader(self._epoll.fileno(), self._wake)
        return self

    async def __aexit__(self, *exc: object) -> None:
        asyncio.get_running_loop().remove_reader(self._epoll.fileno())
        self._epoll.close()
        os.close(self._fd)
        os.unlink(self.path)

    def _wake(self) -> None:
        self._epoll.poll(0)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def exchange(self) -> bytes:
        """One request, its whole reply (read once OpenSIPS has written: before that, a
        FIFO no writer ever opened reads as end-of-file)."""
        loop = asyncio.get_running_loop()
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._epoll.register(fd, select.EPOLLIN)
        try:
            os.write(self._fd, self.request)
            chunks = []
            while True:
                self._waiter = loop.create_future()
                await self._waiter
                try:
                    while True:
                        chunk = os.read(fd, 65536)
                        if not chunk:
                            return b"".join(chunks)
                        chunks.append(chunk)
                except BlockingIOError:
                    continue
        finally:
            self._epoll.unregister(fd)
            os.close(fd)
