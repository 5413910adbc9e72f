"""The syslog sink: every chained audit line, as RFC 5424 messages, to a collector.

Configured by a URL (setting ``audit_syslog``):

* ``udp://HOST:PORT``: one datagram per record (RFC 5426);
* ``tcp://HOST:PORT``: a stream with octet-counting framing, ``LEN SP MESSAGE``
  (RFC 6587 section 3.4.1);
* ``unix:///PATH``: a local datagram socket (``/dev/log`` style); a stream socket at
  that path gets octet-counting framing.

A message is ``<PRI>1 TIMESTAMP HOSTNAME opensips-mcp PROCID KIND - LINE``: facility 13
(log audit), severity notice for ``pending`` and ``closing`` records and informational
otherwise; MSGID is the record's ``kind``; MSG is the stored line byte for byte (without
its newline), so a collector checks the hash chain with
:func:`opensips_mcp.audit.chain.verify_lines` exactly as ``opensips-mcp audit verify``
checks the file.

The audit writer thread hands the lines over once they are fsynced and their callers
answered; a thread of the sink's own sends them, so a slow or absent collector never
delays a tool call. It never fails one either: a message that cannot be sent (collector
unreachable, more than ``QUEUE_LIMIT`` lines waiting, a datagram too large) is counted in
:attr:`SyslogSink.dropped` and logged, and the socket is reopened for the next records
(the collector sees the gap as a break in the chain; the file stays complete).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

logger = logging.getLogger("opensips_mcp.audit")

FACILITY_AUDIT = 13
SEVERITY_NOTICE = 5
SEVERITY_INFO = 6
APP_NAME = "opensips-mcp"
SEND_TIMEOUT = 2.0
"""Seconds a TCP connect or send may take before the message is dropped."""
QUEUE_LIMIT = 10_000
"""Lines waiting to be sent at most; more are dropped (and counted)."""
IDLE_SECONDS = 10.0
"""The sender thread ends after this long without lines (started again when needed)."""


class SyslogURLError(ValueError):
    """The ``audit_syslog`` setting is not a usable syslog URL."""


def parse_syslog_url(url: str) -> tuple[str, str | tuple[str, int]]:
    """``(scheme, address)`` of ``udp://h:p``, ``tcp://h:p`` or ``unix:///path``."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        path = parts.path
        if parts.netloc or not path.startswith("/"):
            raise SyslogURLError(f"must be unix:///absolute/path, got {url!r}")
        return "unix", path
    if parts.scheme in ("udp", "tcp"):
        try:
            port = parts.port
        except ValueError:
            raise SyslogURLError(f"has a bad port: {url!r}") from None
        if not parts.hostname or port is None or parts.path not in ("", "/"):
            raise SyslogURLError(f"must be {parts.scheme}://HOST:PORT, got {url!r}")
        return parts.scheme, (parts.hostname, port)
    raise SyslogURLError(f"must start with udp://, tcp:// or unix://, got {url!r}")


class SyslogSink:
    """Sends chained audit lines to one syslog collector (see the module docstring)."""

    def __init__(self, url: str, *, hostname: str | None = None) -> None:
        self.url = url
        self.scheme, self.address = parse_syslog_url(url)
        self.hostname = (hostname or socket.gethostname() or "-").split(".")[0][:255] or "-"
        self.sent = 0
        self.dropped = 0
        self._sock: socket.socket | None = None
        self._stream = self.scheme == "tcp"
        self._cond = threading.Condition()
        self._queue: deque[tuple[str, bytes]] = deque()
        self._thread: threading.Thread | None = None

    def message(self, kind: str, line: bytes) -> bytes:
        """The RFC 5424 message carrying one stored line."""
        severity = SEVERITY_NOTICE if kind in ("pending", "closing") else SEVERITY_INFO
        stamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        header = (
            f"<{FACILITY_AUDIT * 8 + severity}>1 {stamp} {self.hostname} {APP_NAME} "
            f"{os.getpid()} {kind or '-'} - "
        )
        return header.encode("ascii") + line.rstrip(b"\n")

    def send(self, lines: Sequence[tuple[str, bytes]]) -> None:
        """Queue each ``(kind, line)`` for the sender thread; never blocks, never raises."""
        with self._cond:
            room = QUEUE_LIMIT - len(self._queue)
            if len(lines) > room:
                self.dropped += len(lines) - max(room, 0)
                logger.error(
                    "audit syslog %s: %d record(s) not sent: %d already waiting",
                    self.url,
                    len(lines) - max(room, 0),
                    len(self._queue),
                )
            self._queue.extend(lines[: max(room, 0)])
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"audit-syslog {self.url}", daemon=True
                )
                self._thread.start()
            else:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    if not self._cond.wait(IDLE_SECONDS) and not self._queue:
                        self._thread = None
                        self._drop_socket()
                        return
                batch = list(self._queue)
                self._queue.clear()
            self._deliver(batch)

    def _deliver(self, lines: Sequence[tuple[str, bytes]]) -> None:
        for index, (kind, line) in enumerate(lines):
            message = self.message(kind, line)
            try:
                self._send_one(message)
            except OSError as exc:
                self._drop_socket()
                if exc.errno == errno.EMSGSIZE:  # this one only: too large for a datagram
                    self.dropped += 1
                    logger.error(
                        "audit syslog %s: a %d-byte record not sent: too large for a datagram "
                        "(use tcp://)",
                        self.url,
                        len(message),
                    )
                    continue
                try:  # one fresh connection, then give up on the rest of this batch
                    self._send_one(message)
                except OSError:
                    self._drop_socket()
                    lost = len(lines) - index
                    self.dropped += lost
                    logger.error("audit syslog %s: %d record(s) not sent: %s", self.url, lost, exc)
                    return
            self.sent += 1

    def _send_one(self, message: bytes) -> None:
        sock = self._sock if self._sock is not None else self._connect()
        if self._stream:
            sock.sendall(b"%d " % len(message) + message)
        else:
            sock.send(message)

    def _connect(self) -> socket.socket:
        if self.scheme == "unix":
            assert isinstance(self.address, str)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.settimeout(SEND_TIMEOUT)
            try:
                sock.connect(self.address)
                self._stream = False
            except OSError as exc:
                sock.close()
                if exc.errno != errno.EPROTOTYPE:
                    raise
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(SEND_TIMEOUT)
                try:
                    sock.connect(self.address)
                except OSError:
                    sock.close()
                    raise
                self._stream = True
        else:
            assert isinstance(self.address, tuple)
            host, port = self.address
            kind = socket.SOCK_STREAM if self.scheme == "tcp" else socket.SOCK_DGRAM
            info = socket.getaddrinfo(host, port, type=kind)
            family, socktype, proto, _, addr = info[0]
            sock = socket.socket(family, socktype, proto)
            sock.settimeout(SEND_TIMEOUT)
            try:
                sock.connect(addr)
            except OSError:
                sock.close()
                raise
        self._sock = sock
        return sock

    def _drop_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """Drop the lines still waiting (the sender thread closes its socket when idle)."""
        with self._cond:
            self._queue.clear()
