"""The floor: a raw asyncio socket loop, one pre-built request per write, kept alive.

No HTTP library, no JSON encoding per call, no retry logic: the least a client can do to
get an MI answer, so the speed of anything better-behaved is read as a ratio to it. Each
connection carries one request at a time (HTTP/1.1 without pipelining, as ``mi_http``
needs); N in flight means N connections.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

__all__ = ["RawPool", "build_request"]


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
