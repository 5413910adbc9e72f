"""A client for a real OpenSIPS mi_http endpoint that survives its quirks.

Real mi_http (captures/FACTS.md, "Quirks a client must survive"):

1. a request whose headers and body arrive in separate TCP writes may stall on a reused
   connection, so each request goes out in ONE write (head and body in one buffer);
2. replies without a body (202, 400, 405, 500) hold back the end of their chunked body until
   another request arrives, so the body of a non-200 answer is never waited for: its status
   is taken and the connection is dropped (the next request opens a new one);
3. MI runs one command at a time in one process: requests are sent one at a time over one
   keep-alive connection.

Used by the fault proxy (``proxy.py``), the snapshot (``snapshot.py``) and the differential
run. Standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: Seconds a kept-alive connection is reused after its last request (real idle close: 30 s).
IDLE_REUSE = 20.0


class UpstreamError(Exception):
    """The upstream could not be reached or answered something that is not HTTP."""


@dataclass
class UpstreamReply:
    """One HTTP answer of the upstream: its status and (for 200) its body."""

    status: int
    body: bytes
    content_type: str = "application/json"

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def _head(host: str, port: int, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode("latin-1")


class Upstream:
    """One keep-alive connection to ``url`` (``http://host:port/mi``), one request at a time."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {url!r}")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.path = parts.path or "/mi"
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = 0
        self._used = 0.0

    async def close(self) -> None:
        """Close the connection, if open."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def post(self, body: bytes) -> UpstreamReply:
        """Send one request body to the MI path (one write) and read its answer."""
        async with self._lock:
            try:
                return await asyncio.wait_for(self._exchange(body), self.timeout)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                await self.close()
                raise UpstreamError(f"{self.url}: {type(exc).__name__}: {exc}") from exc

    async def call(self, method: str, params: Any = None) -> Any:
        """One JSON-RPC call: the ``result``, or :class:`UpstreamCallError` for an ``error``."""
        self._ids += 1
        request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": self._ids}
        if params is not None:
            request["params"] = params
        reply = await self.post(json.dumps(request).encode())
        if reply.status != 200:
            raise UpstreamError(f"{method}: HTTP {reply.status}")
        answer = reply.json()
        if "error" in answer:
            error = answer["error"]
            raise UpstreamCallError(int(error.get("code", 0)), str(error.get("message", "")))
        return answer.get("result")

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        if self._writer is not None and loop.time() - self._used > IDLE_REUSE:
            # mi_http closes a connection after 30 s of silence: never send on one that may
            # be closing (a request must never be sent twice, so there is no retry).
            await self.close()
        if self._writer is None or self._writer.is_closing() or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._used = loop.time()
        return self._reader, self._writer

    async def _exchange(self, body: bytes) -> UpstreamReply:
        return await self._once(body)

    async def _once(self, body: bytes) -> UpstreamReply:
        reader, writer = await self._connect()
        writer.write(_head(self.host, self.port, self.path, body) + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].decode("latin-1").split("\r\n")
        status_parts = lines[0].split(" ", 2)
        if len(status_parts) < 2 or not status_parts[1].isdigit():
            raise ValueError(f"not an HTTP status line: {lines[0]!r}")
        status = int(status_parts[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        content_type = headers.get("content-type", "")
        if status != 200:
            # The end of a body-less answer is held back: never wait for it.
            await self.close()
            return UpstreamReply(status, b"", content_type)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            payload = await _read_chunked(reader)
        elif "content-length" in headers:
            payload = await reader.readexactly(int(headers["content-length"]))
        else:
            payload = await reader.read()
            await self.close()
            return UpstreamReply(status, payload, content_type)
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return UpstreamReply(status, payload, content_type)


class UpstreamCallError(Exception):
    """An MI error answer (``{"error": {"code", "message"}}``)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
