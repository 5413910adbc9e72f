"""A raw HTTP/1.1 client over asyncio streams: sends exact bytes, reads exactly what the
server sends (heads, chunked or sized bodies, held-back chunk ends, closed connections).
Every read is bounded by a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 5.0


@dataclass
class Head:
    """Status line and headers of one response."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    raw: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class RawClient:
    """One TCP connection to the simulator."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), DEFAULT_TIMEOUT
        )
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_head(self, timeout: float = DEFAULT_TIMEOUT) -> Head:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = raw[:-4].decode("latin-1").split("\r\n")
        _version, status, reason = lines[0].split(" ", 2)
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
        return Head(int(status), reason, [(k, v) for k, v in headers], raw)

    async def read_exactly(self, size: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(size), timeout)

    async def read_body(self, head: Head, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        length = head.header("Content-Length")
        if length is not None:
            return await self.read_exactly(int(length), timeout)
        body = b""
        while True:
            size_line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), timeout)
            size = int(size_line.strip(), 16)
            if size == 0:
                await self.read_exactly(2, timeout)
                return body
            body += await self.read_exactly(size + 2, timeout)
            body = body[:-2]

    async def read_to_eof(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        return await asyncio.wait_for(self.reader.read(), timeout)

    async def silent_for(self, seconds: float) -> bool:
        """True when nothing (no byte, no close) arrives within ``seconds``."""
        try:
            await asyncio.wait_for(self.reader.read(1), seconds)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), DEFAULT_TIMEOUT)


def post(
    body: bytes | str,
    path: str = "/mi",
    extra: str = "",
    content_type: str | None = "application/json",
) -> bytes:
    """A POST request with ``body`` as exact bytes."""
    data = body.encode() if isinstance(body, str) else body
    ctype = f"Content-Type: {content_type}\r\n" if content_type else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{ctype}Content-Length: {len(data)}\r\n"
        f"{extra}\r\n"
    ).encode() + data


def rpc(method: str, params: Any = None, ident: Any = 1) -> bytes:
    """A JSON-RPC request body."""
    doc: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": ident}
    if params is not None:
        doc["params"] = params
    return json.dumps(doc).encode()


async def exchange(port: int, request: bytes) -> tuple[Head, bytes]:
    """One request on a new connection: the head and the complete body."""
    client = await RawClient.connect(port)
    try:
        await client.send(request)
        head = await client.read_head()
        return head, await client.read_body(head)
    finally:
        await client.close()


async def call(port: int, method: str, params: Any = None) -> dict[str, Any]:
    """One MI call; the decoded JSON-RPC answer (``result`` or ``error``)."""
    head, body = await exchange(port, post(rpc(method, params)))
    assert head.status == 200, head
    answer: dict[str, Any] = json.loads(body)
    return answer
