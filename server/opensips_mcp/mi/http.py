"""``mi_http`` transport: a purpose-built HTTP/1.1 client for one narrow protocol.

OpenSIPS's ``mi_http`` (libmicrohttpd behind ``httpd``) takes ``POST <path>`` with a JSON
body and answers with a JSON body and a ``Content-Length``. This client does only that,
over a keep-alive pool of asyncio connections, with ``httptools`` (llhttp) parsing the
replies. No general HTTP client sits in between, so a call costs one write, one parse
and one JSON decode.

When a request counts as sent: from the moment its bytes are handed to the socket
(``transport.write``), which happens in one call for head and body together. Before that
(waiting for a slot, connecting, a pooled connection found closed) nothing left.

Quirks of ``mi_http`` it keeps:

* each request is one write (OpenSIPS can stall on a request split over writes on a
  reused connection);
* a reply other than 200 is judged on its status line and headers alone, and its
  connection closed at once: OpenSIPS holds back the end of such (chunked) bodies;
* a connection that carried an unusable reply (garbage, wrong id) is closed, so no later
  request reads a stale reply;
* idle connections older than ``keepalive_timeout`` are closed instead of reused;
* a request larger than httpd ever answers (`MHD_READ_BUFFER`) is not sent
  (``max_request_size``); a body larger than httpd's ``receive_buf_size`` (1024 bytes
  unless raised, OpenSIPS 3.5+) is answered 400 without a page, unrun, which `MIClient`
  tells apart from other 400s.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections import deque
from typing import Any, cast
from urllib.parse import SplitResult, unquote, urlsplit

import httptools

from opensips_mcp.mi.settings import MISettings
from opensips_mcp.mi.transport import (
    Answer,
    AttemptFailed,
    ExpiryWatch,
    Slots,
    StatusAnswer,
    decode_or_fail,
    take_slot,
)

__all__ = ["HTTPTransport"]

_PEEK = int(socket.MSG_PEEK | socket.MSG_DONTWAIT)

MHD_READ_BUFFER = 16384
"""The largest request (request line, headers and body) OpenSIPS's httpd answers, whatever
its ``receive_buf_size``: libmicrohttpd's read buffer. Measured with a raw socket on real
3.4.18, 3.6.8 (also with ``receive_buf_size`` raised to 65536) and 4.0.1: 16,384 bytes are
answered; one more is closed unanswered by 3.4 and left unanswered (no byte, no FIN, 70 s)
by 3.6 and 4.0. So a larger request is refused here, unsent."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; carries one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        self.loop = loop
        self.sock = sock
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        # the request in flight
        self.waiter: asyncio.Future[bytes | StatusAnswer] | None = None
        self.body: list[bytes] = []
        self.headers_done = False
        self.has_length = False
        self.last_data = 0.0
        self.deadline = 0.0

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:
            # Bytes nobody asked for: this connection is out of step with the server.
            self.close()
            return
        self.last_data = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.fail("malformed")

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None:
            self.fail("truncated" if self.headers_done else "reset")

    # --- httptools callbacks ------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) == 14 and name.lower() == b"content-length":
            self.has_length = True

    def on_headers_complete(self) -> None:
        self.headers_done = True
        status = self.parser.get_status_code()
        if status == 200:
            return
        # Judged on status line and headers alone; the body's end may never come.
        if 300 <= status < 500:
            self._resolve(StatusAnswer(status, page=self.has_length))
        else:
            self.fail("http_5xx" if status >= 500 else "http_status", status=status)
        self.close()

    def on_body(self, body: bytes) -> None:
        if self.waiter is not None:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is None:
            return
        payload = b"".join(self.body)
        if not self.parser.should_keep_alive():
            self.closed = True  # returned to nobody; closed once the reply is taken
        self._resolve(payload)

    # --- the exchange -------------------------------------------------------------------

    def start(self, data: bytes, deadline: float) -> asyncio.Future[bytes | StatusAnswer]:
        """Write one request (one write) and return the future of its reply.

        Its time limits are watched by `ExpiryWatch` (one timer for all).
        """
        assert self.transport is not None
        waiter: asyncio.Future[bytes | StatusAnswer] = self.loop.create_future()
        self.waiter = waiter
        self.body = []
        self.headers_done = False
        self.has_length = False
        self.deadline = deadline
        self.transport.write(data)
        self.last_data = self.loop.time()
        return waiter

    def stale(self) -> bool:
        """True if the server closed this idle connection or sent on it unasked.

        A peek at the socket: the loop may not have read the server's FIN yet when a
        call takes the connection right after the previous reply.
        """
        if self.closed or self.transport is None or self.transport.is_closing():
            return True
        try:
            self.sock.recv(1, _PEEK)  # b"": the server's FIN; anything else: unasked bytes
        except BlockingIOError:
            return False  # nothing to read: open and in step
        except OSError:
            return True
        return True

    def expiry(self, read_timeout: float, now: float) -> float | None:
        """When the request in flight runs out of time; None once it has (it then failed)."""
        if self.waiter is None:
            return None
        if now >= self.deadline:
            self.fail("deadline")
            return None
        when = self.last_data + read_timeout  # from the write, then from the last chunk
        if when <= now:
            self.fail("read_timeout")
            return None
        return min(when, self.deadline)

    def _resolve(self, result: bytes | StatusAnswer) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    def fail(self, cause: str, status: int | None = None) -> None:
        """End the request in flight with `AttemptFailed` (sent) and close the connection."""
        waiter, self.waiter = self.waiter, None
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(AttemptFailed(cause, sent=True, status=status))

    def close(self) -> None:
        """Close the connection (abort: nothing more is read or written on it)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _authority(parts: SplitResult) -> str:
    """The ``Host`` header of a URL: its host and port, never its ``user:password@``."""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return host if parts.port is None else f"{host}:{parts.port}"


def _basic_auth(parts: SplitResult) -> str:
    """An ``Authorization`` header line for a URL's ``user:password@`` (percent-decoded),
    else nothing. OpenSIPS's httpd checks no credentials; a reverse proxy in front of it
    (the usual way to protect mi_http beyond loopback) may."""
    if parts.username is None:
        return ""
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return f"Authorization: Basic {base64.b64encode(pair.encode()).decode('ascii')}\r\n"


class HTTPTransport:
    """``http://`` and ``https://`` URLs: JSON-RPC over ``mi_http``.

    Sent: from the single ``transport.write`` of the request's head and body. Connecting
    (``connect_timeout``), waiting for an in-flight slot (``pool_timeout``) and finding a
    pooled connection closed all happen before it, so they count as not sent.
    At most ``min(max_in_flight, pool_size)`` requests are in flight, each on its own
    connection; waiters are served first come, first served.
    """

    def __init__(self, settings: MISettings) -> None:
        self._settings = settings
        parts = urlsplit(settings.url)
        if parts.hostname is None:
            raise ValueError(f"MI url has no host: {settings.url!r}")
        self._host = parts.hostname
        self._tls = parts.scheme.lower() == "https"
        self._port = parts.port or (443 if self._tls else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {_authority(parts)}\r\n{_basic_auth(parts)}"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            "Content-Length: "
        ).encode("latin-1")
        # the head of a request at the limit ends with a 5-digit Content-Length
        at_limit = len(self._head) + len(b"16384\r\n\r\n")
        self.max_request_size: int | None = MHD_READ_BUFFER - at_limit
        self._ssl: ssl.SSLContext | None = (
            ssl.create_default_context(cafile=settings.ca_file) if self._tls else None
        )
        self._slots = Slots(min(settings.max_in_flight, settings.pool_size))
        self._idle: deque[_Connection] = deque()
        self._busy: set[_Connection] = set()
        self._closed = False
        self._watch = ExpiryWatch(self._busy, settings.read_timeout)
        self._resolved: tuple[socket.AddressFamily, tuple[Any, ...]] | None = None

    async def close(self) -> None:
        """Close every connection. Later sends raise `RuntimeError`."""
        self._closed = True
        self._watch.stop()
        for conn in (*self._idle, *self._busy):
            conn.close()
        self._idle.clear()

    async def send(self, body: bytes, request_id: int, deadline: float) -> Answer:
        """Send one request and return its answer, or raise `AttemptFailed`."""
        if self._closed:
            raise RuntimeError("MI client is closed")
        loop = asyncio.get_running_loop()
        slots = self._slots
        if not slots.try_take():  # the common case takes a free slot without an await
            await take_slot(slots, self._settings.pool_timeout, deadline)
        try:
            conn = self._take_idle(loop.time())
            if conn is None:
                conn = await self._connect(loop, deadline)
            data = b"%s%d\r\n\r\n%s" % (self._head, len(body), body)
            busy = self._busy
            busy.add(conn)
            try:
                waiter = conn.start(data, deadline)  # sent
                expiry = min(conn.last_data + self._settings.read_timeout, deadline)
                self._watch.expect(loop, expiry)
                try:
                    reply = await waiter
                except asyncio.CancelledError:
                    conn.close()  # its reply would come to the next request
                    raise
            finally:
                busy.discard(conn)
        finally:
            slots.release()
        if type(reply) is StatusAnswer:
            return reply
        assert isinstance(reply, bytes)
        try:
            answer = decode_or_fail(reply, request_id)
        except AttemptFailed:
            conn.close()  # out of step with the server: no later request may read from it
            raise
        if conn.closed or self._closed:
            conn.close()
        else:
            conn.idle_since = conn.last_data
            self._idle.append(conn)
        return answer

    def _take_idle(self, now: float) -> _Connection | None:
        idle = self._idle
        keepalive = self._settings.keepalive_timeout
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to be stale
            if conn.stale():
                conn.close()
                continue
            if now - conn.idle_since >= keepalive:
                conn.close()
                continue
            return conn
        return None

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        wait = min(self._settings.connect_timeout, deadline - loop.time())
        if wait <= 0:
            raise AttemptFailed("deadline", sent=False)
        sock: socket.socket | None = None
        try:
            async with asyncio.timeout(wait):
                family, address = await self._address(loop)
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await loop.sock_connect(sock, address)
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, sock),
                    sock=sock,
                    ssl=self._ssl,
                    server_hostname=self._host if self._tls else None,
                )
                sock = None
        except TimeoutError:
            cause = "deadline" if loop.time() >= deadline else "connect_timeout"
            raise AttemptFailed(cause, sent=False) from None
        except ConnectionRefusedError as exc:
            raise AttemptFailed("refused", sent=False) from exc
        except socket.gaierror as exc:
            detail = f"{self._host}: {exc.strerror or exc}"
            raise AttemptFailed("unresolved", sent=False, detail=detail) from exc
        except ssl.SSLCertVerificationError as exc:
            detail = exc.verify_message or str(exc.reason or exc)
            raise AttemptFailed("tls_untrusted", sent=False, detail=detail) from exc
        except ssl.SSLError as exc:
            raise AttemptFailed("tls_error", sent=False, detail=str(exc.reason or exc)) from exc
        except OSError as exc:
            raise AttemptFailed("connect_error", sent=False) from exc
        finally:
            if sock is not None:
                sock.close()
        return conn

    async def _address(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[socket.AddressFamily, tuple[Any, ...]]:
        if self._resolved is None:
            infos = await loop.getaddrinfo(
                self._host, self._port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
            if not infos:
                raise OSError(f"cannot resolve {self._host!r}")
            family, _, _, _, address = infos[0]
            self._resolved = (family, address)
        return self._resolved
