"""HTTP/1.x transport answering exactly as OpenSIPS httpd (libmicrohttpd) + mi_http do.

Raw asyncio streams rather than aiohttp's server: the real endpoint closes connections
without answering, holds back the end of empty chunked bodies, and sends no ``Server``
header; all of that must be reproducible byte for byte.

What the real server does, and so this one (``errors-3.6.json`` is the evidence):

* ``POST`` with a body: the ``Content-Type`` is checked first. ``application/json...`` and
  ``text/xml`` are read; form types (``application/x-www-form-urlencoded``,
  ``multipart/form-data``) reach mi_http without a JSON body (400); no or any other type:
  the connection is closed without an answer.
* Then the path: ``/mi``, ``/mi/...`` (query strings ignored) go to MI; anything else is
  ``400`` with ``<html><body>Unable to parse URL!</body></html>``.
* ``GET /mi`` -> ``405``; ``GET`` elsewhere -> the 400 page; every other method -> ``406``
  with ``<html><body>Unsupported HTTP request!</body></html>`` and ``Connection: close``.
* Replies without a body (202 notification, 400 empty body, 405, 500 unprintable id) are
  sent as ``Transfer-Encoding: chunked`` and, with quirks on (the default), the closing
  ``0\\r\\n\\r\\n`` is held back until another request reaches the server (or the idle
  timeout closes the connection).
* ``HTTP/1.0`` closes after the answer (``Connection: close``) unless it asked for
  ``keep-alive`` (answered ``Connection: Keep-Alive``); ``Connection: close`` is honoured.

Requests under ``/sim`` go to the control API (``control.py``); they are not MI requests:
they are not journaled and do not release held-back replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from dataclasses import dataclass

from . import control
from .persona import MHD_READ_BUFFER
from .simulator import MIReply, Simulator
from .timefmt import http_date

REASONS = {
    100: "Continue",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
URL_ERROR_PAGE = b"<html><body>Unable to parse URL!</body></html>"
METHOD_ERROR_PAGE = b"<html><body>Unsupported HTTP request!</body></html>"
CHUNK_END = b"0\r\n\r\n"
MAX_BODY = 16 * 1024 * 1024


class BadRequest(Exception):
    """A request that cannot be parsed as HTTP: the connection is closed."""


@dataclass
class HttpRequest:
    """One HTTP request as read from the socket."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    head_size: int = 0
    """Bytes of the request line and headers, the blank line included."""

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.split("?", 1)[0]

    @property
    def chunked(self) -> bool:
        """True when the body came as ``Transfer-Encoding: chunked``."""
        return "chunked" in (self.header("transfer-encoding") or "").lower()

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the answer (HTTP/1.0 must ask)."""
        tokens = {t.strip().lower() for t in (self.header("connection") or "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens

    @property
    def is_control(self) -> bool:
        """A control API request (``/sim``, ``/sim/...``)."""
        return self.path == "/sim" or self.path.startswith("/sim/")


def is_mi_path(path: str) -> bool:
    """``get_httpd_cb``: ``/mi`` exactly or followed by ``/``."""
    return path == "/mi" or path.startswith("/mi/")


def content_kind(content_type: str | None) -> str | None:
    """``json`` (read), ``form`` (post-processor, no JSON body) or None (connection closed)."""
    if content_type is None:
        return None
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "text/xml" or mime[:16] == "application/json":
        return "json"
    if mime == "application/x-www-form-urlencoded" or mime.startswith("multipart/form-data"):
        return "form"
    return None


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> HttpRequest | None:
    """Read one request; ``None`` at a clean end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise BadRequest("connection closed inside the request head") from None
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large") from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        raise BadRequest("empty request")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise BadRequest(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))
    request = HttpRequest(parts[0], parts[1], parts[2], headers, b"", len(head))
    expect = request.header("expect")
    if expect and expect.lower() == "100-continue" and request.version == "HTTP/1.1":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        request.body = await _read_body(reader, request)
    except asyncio.LimitOverrunError:
        raise BadRequest("chunk line too long") from None
    return request


async def _read_body(reader: asyncio.StreamReader, request: HttpRequest) -> bytes:
    encoding = (request.header("transfer-encoding") or "").lower()
    if "chunked" in encoding:
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size") from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise BadRequest("body too large")
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    length = request.header("content-length")
    if length is None:
        return b""
    if not length.isdigit() or int(length) > MAX_BODY:
        raise BadRequest(f"bad Content-Length {length!r}")
    return await reader.readexactly(int(length))


class Connection:
    """One client connection: its streams and a possibly held-back reply end."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.held = False
        self.close_after_release = False
        self.released = asyncio.Event()

    def release(self) -> None:
        """Send the held-back end of the chunked body (and close if the reply said so)."""
        if not self.held:
            return
        self.held = False
        if not self.writer.is_closing():
            self.writer.write(CHUNK_END)
            if self.close_after_release:
                self.writer.close()
        self.released.set()


class WireServer:
    """The listening socket and every connection's task."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._server: asyncio.Server | None = None
        self._held: list[Connection] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0 picks a free port); returns the port."""
        self._server = await asyncio.start_server(self._accept, host, port, reuse_address=True)
        sockname = self._server.sockets[0].getsockname()
        return int(sockname[1])

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    def release_held(self) -> None:
        """Another request arrived: send every held-back reply end."""
        held, self._held = self._held, []
        for conn in held:
            conn.release()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Connection(reader, writer)
        try:
            await self._serve(conn)
        except (ConnectionError, asyncio.IncompleteReadError, BadRequest):
            pass
        except asyncio.CancelledError:
            # Server shutdown: end quietly so the stream protocol does not log the cancel.
            pass
        finally:
            self._tasks.discard(task)
            if conn in self._held:
                self._held.remove(conn)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, conn: Connection) -> None:
        idle = self.sim.settings.idle_timeout
        while True:
            try:
                request = await asyncio.wait_for(read_request(conn.reader, conn.writer), idle)
            except TimeoutError:
                return
            if request is None:
                return
            if not request.is_control:
                self.release_held()
            elif conn.held:
                conn.release()  # never interleave a control answer with an open chunked body
            keep = await self._respond(conn, request)
            await conn.writer.drain()
            if conn.held and conn.close_after_release:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.released.wait(), idle)
                return
            if not keep:
                return

    # ---- answers -------------------------------------------------------------------------

    def _head(self, status: int, connection: str | None, fields: list[tuple[str, str]]) -> bytes:
        lines = [
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
            f"Date: {http_date(self.sim.clock.now())}",
        ]
        if connection:
            lines.append(f"Connection: {connection}")
        lines.extend(f"{k}: {v}" for k, v in fields)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @staticmethod
    def _connection_field(request: HttpRequest, force_close: bool = False) -> str | None:
        if force_close or not request.keep_alive:
            return "close"
        if request.version == "HTTP/1.0":
            return "Keep-Alive"
        return None

    def _send_page(
        self,
        conn: Connection,
        request: HttpRequest,
        status: int,
        page: bytes,
        content_type: str,
        force_close: bool = False,
    ) -> bool:
        connection = self._connection_field(request, force_close)
        head = self._head(
            status, connection, [("Content-Type", content_type), ("Content-Length", str(len(page)))]
        )
        conn.writer.write(head if request.method == "HEAD" else head + page)
        return connection != "close"

    def _send_empty(
        self, conn: Connection, request: HttpRequest, status: int, force_close: bool = False
    ) -> bool:
        """A reply with no body, chunked, whose end may be held back (quirk 2)."""
        connection = self._connection_field(request, force_close)
        if request.version == "HTTP/1.0":
            conn.writer.write(self._head(status, "close", [("Content-Type", "application/json")]))
            return False
        conn.writer.write(
            self._head(
                status,
                connection,
                [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
            )
        )
        closing = connection == "close"
        if self.sim.settings.quirks:
            conn.held = True
            conn.close_after_release = closing
            conn.released.clear()
            self._held.append(conn)
        else:
            conn.writer.write(CHUNK_END)
        return not closing

    async def _respond(self, conn: Connection, request: HttpRequest) -> bool:
        """Answer one request; False when the connection must close afterwards."""
        if request.is_control:
            return await self._control(conn, request)
        method = request.method
        path = request.path
        if method.startswith("POST"):
            body = request.body
            if body:
                kind = content_kind(request.header("content-type"))
                if kind is None:
                    self.sim.record_http(method, path, None, "closed")
                    return False
                if kind == "form":
                    body = b""
                persona = self.sim.persona
                oversize = request.head_size + len(body) > MHD_READ_BUFFER
                if (persona.closes_chunked_body and request.chunked) or (
                    oversize and not persona.bounds_body
                ):
                    self.sim.record_http(method, path, None, "closed")
                    return False  # 3.4: "got a truncated POST request" (persona.py)
                if oversize:
                    self.sim.record_http(method, path, None, "no_answer")
                    return await self._hold_unanswered(conn)
                if persona.bounds_body and len(body) > self.sim.settings.receive_buf_size:
                    body = b""  # 3.5+: "Received too big HTTP request": mi_http gets none
            if not is_mi_path(path):
                self.sim.record_http(method, path, 400, "answered")
                return self._send_page(conn, request, 400, URL_ERROR_PAGE, "text/html")
            if not body:
                self.sim.record_http(method, path, 400, "no_answer")
                return self._send_empty(conn, request, 400)
            reply = await self.sim.handle_mi(body, http_method=method, path=path)
            return await self._send_reply(conn, request, reply)
        if method.startswith("GET"):
            if is_mi_path(path):
                self.sim.record_http(method, path, 405, "no_answer")
                return self._send_empty(conn, request, 405, force_close=True)
            self.sim.record_http(method, path, 400, "answered")
            return self._send_page(conn, request, 400, URL_ERROR_PAGE, "text/html")
        self.sim.record_http(method, path, 406, "answered")
        return self._send_page(conn, request, 406, METHOD_ERROR_PAGE, "text/html", force_close=True)

    async def _hold_unanswered(self, conn: Connection) -> bool:
        """Say nothing until the idle timeout, then close (3.5+'s oversize request)."""
        await conn.writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), self.sim.settings.idle_timeout)
        return False

    async def _send_reply(self, conn: Connection, request: HttpRequest, reply: MIReply) -> bool:
        writer = conn.writer
        if reply.kind == "json":
            limit = self.sim.settings.buf_size
            if limit is not None and len(reply.body) > limit:
                return self._send_empty(conn, request, 500)  # "failed to print json response"
            return self._send_page(conn, request, reply.status, reply.body, "application/json")
        if reply.kind == "empty":
            return self._send_empty(conn, request, reply.status)
        if reply.kind == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if reply.kind == "truncate":
            head = self._head(
                200,
                self._connection_field(request),
                [("Content-Type", "application/json"), ("Content-Length", str(len(reply.body)))],
            )
            writer.write(head + reply.body[: len(reply.body) // 2])
            return False
        if reply.kind == "malformed":
            return self._send_page(conn, request, 200, reply.body, "application/json")
        if reply.kind == "stall":
            return await self._hold_unanswered(conn)
        return False

    async def _control(self, conn: Connection, request: HttpRequest) -> bool:
        status, payload = await control.handle(
            self.sim, request.method, request.target, request.body
        )
        body = json.dumps(payload, ensure_ascii=False).encode()
        return self._send_page(conn, request, status, body, "application/json")
