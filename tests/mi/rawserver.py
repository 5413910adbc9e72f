"""A raw asyncio HTTP/1.1 server for MI client tests: it counts what it receives.

Each received request is recorded with the connection it came on and the TCP chunks
(``data_received`` calls) that carried it, so tests count at the server. A handler
decides how to answer each request: a JSON reply, raw bytes, a close, a reset (RST),
or nothing at all.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 500: "Server Error"}


@dataclass
class Received:
    """One request as the server received it."""

    connection: int
    head: bytes
    body: bytes
    chunks: list[bytes] = field(default_factory=list)

    @property
    def raw(self) -> bytes:
        return self.head + self.body

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> Any:
        return self.payload.get("id")

    @property
    def method(self) -> str:
        return str(self.payload.get("method"))


class Reply:
    """What a handler can do with the connection a request came on."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn

    def raw(self, data: bytes) -> None:
        self._conn.transport.write(data)

    def json(self, obj: Any, status: int = 200) -> None:
        body = json.dumps(obj).encode()
        self.raw(_head(status, [("Content-Type", "application/json")], len(body)) + body)

    def result(self, request: Received, result: Any = "OK") -> None:
        self.json({"jsonrpc": "2.0", "result": result, "id": request.id})

    def error(self, request: Received, code: int, message: str, data: Any = None) -> None:
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        self.json({"jsonrpc": "2.0", "error": error, "id": request.id})

    def body(self, body: bytes, status: int = 200, content_length: int | None = None) -> None:
        length = len(body) if content_length is None else content_length
        self.raw(_head(status, [("Content-Type", "application/json")], length) + body)

    def chunked_headers(self, status: int) -> None:
        """Headers of a chunked reply whose body never ends, as OpenSIPS sends 500/202/400."""
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        self.raw(head.encode())

    def close(self) -> None:
        self._conn.transport.close()

    def reset(self) -> None:
        sock = self._conn.transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._conn.transport.abort()

    async def hang(self) -> None:
        """Answer nothing until the client closes the connection or the server stops."""
        await self._conn.gone.wait()


Handler = Callable[[Received, Reply], Awaitable[None]]


async def answer_ok(request: Received, reply: Reply) -> None:
    reply.result(request, {"method": request.method})


def _head(status: int, headers: list[tuple[str, str]], length: int) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class _Connection(asyncio.Protocol):
    def __init__(self, server: RawMIServer, number: int) -> None:
        self.server = server
        self.number = number
        self.transport: asyncio.Transport
        self.gone = asyncio.Event()
        self._buffer = bytearray()
        self._offset = 0  # stream offset of _buffer[0]
        self._chunks: list[tuple[int, bytes]] = []  # (stream offset, data) not yet consumed
        self._queue: asyncio.Queue[Received | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self._worker = asyncio.get_running_loop().create_task(self._serve())
        self.server._tasks.add(self._worker)

    def data_received(self, data: bytes) -> None:
        self._chunks.append((self._offset + len(self._buffer), data))
        self._buffer += data
        while (request := self._take_request()) is not None:
            self.server.requests.append(request)
            self.server._changed.set()
            self._queue.put_nowait(request)

    def _take_request(self) -> Received | None:
        end_of_head = self._buffer.find(b"\r\n\r\n")
        if end_of_head < 0:
            return None
        head = bytes(self._buffer[: end_of_head + 4])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        total = len(head) + length
        if len(self._buffer) < total:
            return None
        start, end = self._offset, self._offset + total
        chunks = [
            data for offset, data in self._chunks if offset < end and offset + len(data) > start
        ]
        request = Received(self.number, head, bytes(self._buffer[len(head) : total]), chunks)
        del self._buffer[:total]
        self._offset = end
        self._chunks = [(o, d) for o, d in self._chunks if o + len(d) > end]
        return request

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone.set()
        self._queue.put_nowait(None)

    async def _serve(self) -> None:
        while (request := await self._queue.get()) is not None:
            self.server.active += 1
            self.server.max_active = max(self.server.max_active, self.server.active)
            self.server._changed.set()
            try:
                await self.server.handler(request, Reply(self))
            finally:
                self.server.active -= 1


class RawMIServer:
    """Listens on 127.0.0.1, port 0; every request goes to ``handler``."""

    def __init__(self, handler: Handler = answer_ok) -> None:
        self.handler = handler
        self.requests: list[Received] = []
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self._changed = asyncio.Event()
        self._conns: list[_Connection] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._tls = False

    async def start(
        self, sock: socket.socket | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        """Listen on 127.0.0.1 port 0, or on ``sock`` (already bound and listening); with
        ``tls``, as httpd with ``tls_cert_file`` (its `url` is then ``https://``)."""
        loop = asyncio.get_running_loop()
        self._tls = tls is not None
        if sock is None:
            self._server = await loop.create_server(self._new_connection, "127.0.0.1", 0, ssl=tls)
        else:
            self._server = await loop.create_server(self._new_connection, sock=sock, ssl=tls)

    def _new_connection(self) -> _Connection:
        self.connections += 1
        conn = _Connection(self, self.connections)
        self._conns.append(conn)
        return conn

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{port}/mi"

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 2.0) -> None:
        """Wait until ``condition()`` holds (checked whenever a request arrives)."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self._conns:
            conn.gone.set()
            transport = getattr(conn, "transport", None)  # none: its TLS handshake failed
            if transport is not None and not transport.is_closing():
                transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
