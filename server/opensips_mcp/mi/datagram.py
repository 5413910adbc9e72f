"""``mi_datagram`` transport: one JSON-RPC request per datagram, over UDP or a unix socket.

Framing, from ``modules/mi_datagram/datagram_fnc.c`` (3.6): OpenSIPS reads one datagram
of at most ``DATAGRAM_SOCK_BUF_SIZE`` (65457) bytes, runs it and sends the reply as one
datagram to the sender's address. A reply that does not fit in 65457 bytes is not sent:
the plain-text datagram ``500 Internal error`` comes instead (`UNPRINTABLE`: the command
ran, its answer is lost; cause ``unprintable``). A request it cannot parse gets the
plain-text datagram ``400 Parse_error``.

Sockets: a pool of connected datagram sockets (at most ``pool_size``), each carrying one
request at a time, so a reply on a socket belongs to its request. A socket whose exchange
failed (timeout, unusable reply) is closed, never reused: a late reply cannot reach a
later request. A unix socket needs an address for the reply to come back to: each is
bound to a path in a private directory (mode 0700, made per client, removed on close),
and left unconnected: OpenSIPS replies from another socket than the one it reads on.

When a request counts as sent: when the one ``send`` of the datagram has returned. A
datagram is sent whole or not at all, so a refused send (``ECONNREFUSED``: nobody bound;
``EAGAIN`` until ``connect_timeout``: the server's queue is full) means nothing left.
Over UDP, an ICMP "port unreachable" reported on the socket after the send also counts as
not sent: it says no socket took the datagram.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from typing import Any
from urllib.parse import unquote, urlsplit

from opensips_mcp.mi.settings import MISettings
from opensips_mcp.mi.transport import Answer, AttemptFailed, Slots, decode_or_fail, take_slot

__all__ = ["MAX_DATAGRAM", "DatagramTransport"]

MAX_DATAGRAM = 65457
"""mi_datagram's ``DATAGRAM_SOCK_BUF_SIZE``: the largest request or reply datagram."""
UNPRINTABLE = b"500 Internal error"
"""mi_datagram's answer when it ran the command but could not print the reply into one
datagram: a reply over 65457 bytes (measured on real 3.6.8: a 139 KB ``ul_show_contact``),
or a reply it fails to build."""


class DatagramTransport:
    """``udp://host:port`` or ``unix:///path/to/socket``: MI over ``mi_datagram``.

    Sent: when the ``send`` of the request datagram has returned (see the module
    docstring); opening a socket and waiting for room to send (up to
    ``connect_timeout``) come before, and count as not sent. At most
    ``min(max_in_flight, pool_size)`` requests are in flight, one per socket.
    """

    max_request_size: int | None = MAX_DATAGRAM

    def __init__(self, settings: MISettings) -> None:
        self._settings = settings
        parts = urlsplit(settings.url)
        self._unix = parts.scheme.lower() == "unix"
        if self._unix:
            self._path = unquote(parts.path)
            if not self._path or parts.netloc not in ("", "localhost"):
                raise ValueError(f"unix url must be unix:///absolute/path, got {settings.url!r}")
        else:
            if parts.hostname is None or parts.port is None:
                raise ValueError(f"udp url must be udp://host:port, got {settings.url!r}")
            self._host, self._port = parts.hostname, parts.port
        self._slots = Slots(min(settings.max_in_flight, settings.pool_size))
        self._idle: list[socket.socket] = []
        self._busy: set[socket.socket] = set()
        self._private_dir: str | None = None
        self._serial = 0
        self._address: tuple[int, Any] | None = None
        self._closed = False

    async def close(self) -> None:
        """Close every socket and remove the private directory. Later sends raise."""
        self._closed = True
        for sock in (*self._idle, *self._busy):
            sock.close()
        self._idle.clear()
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)
            self._private_dir = None

    async def send(self, body: bytes, request_id: int, deadline: float) -> Answer:
        """Send one request and return its answer, or raise `AttemptFailed`."""
        if self._closed:
            raise RuntimeError("MI client is closed")
        loop = asyncio.get_running_loop()
        slots = self._slots
        if not slots.try_take():  # the common case takes a free slot without an await
            await take_slot(slots, self._settings.pool_timeout, deadline)
        try:
            sock = self._idle.pop() if self._idle else await self._open(loop)
            self._busy.add(sock)
            ok = False
            try:
                answer = await self._exchange(loop, sock, body, request_id, deadline)
                ok = True
                return answer
            finally:
                self._busy.discard(sock)
                if ok and not self._closed:
                    self._idle.append(sock)
                else:
                    _close(sock)
        finally:
            slots.release()

    async def _open(self, loop: asyncio.AbstractEventLoop) -> socket.socket:
        try:
            if self._unix:
                if self._private_dir is None:
                    self._private_dir = tempfile.mkdtemp(prefix="opensips-mcp-")
                self._serial += 1
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                try:
                    sock.bind(os.path.join(self._private_dir, f"{self._serial}.sock"))
                    sock.setblocking(False)
                except BaseException:
                    _close(sock)
                    raise
                return sock
            if self._address is None:
                infos = await loop.getaddrinfo(self._host, self._port, type=socket.SOCK_DGRAM)
                if not infos:
                    raise OSError(f"cannot resolve {self._host!r}")
                self._address = (infos[0][0], infos[0][4])
            family, address = self._address
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect(address)  # a local operation for UDP: sets the peer only
            return sock
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise AttemptFailed("refused", sent=False) from exc
        except PermissionError as exc:
            raise self._denied(exc) from exc
        except socket.gaierror as exc:
            detail = f"{self._host}: {exc.strerror or exc}"
            raise AttemptFailed("unresolved", sent=False, detail=detail) from exc
        except OSError as exc:
            raise AttemptFailed("connect_error", sent=False) from exc

    async def _exchange(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        body: bytes,
        request_id: int,
        deadline: float,
    ) -> Answer:
        await self._send(loop, sock, body, deadline)
        settings = self._settings
        reply: asyncio.Future[bytes] = loop.create_future()

        def readable() -> None:
            if reply.done():
                return
            try:
                reply.set_result(sock.recv(MAX_DATAGRAM + 1))
            except BlockingIOError:
                return
            except ConnectionRefusedError:  # ICMP port unreachable: nobody took it
                reply.set_exception(AttemptFailed("refused", sent=False))
            except OSError:
                reply.set_exception(AttemptFailed("reset", sent=True))

        fd = sock.fileno()
        loop.add_reader(fd, readable)
        try:
            wait = min(settings.read_timeout, deadline - loop.time())
            try:
                async with asyncio.timeout(max(wait, 0)):
                    payload = await reply
            except TimeoutError:
                cause = "deadline" if loop.time() >= deadline else "read_timeout"
                raise AttemptFailed(cause, sent=True) from None
        finally:
            loop.remove_reader(fd)
        if payload == UNPRINTABLE:
            raise AttemptFailed("unprintable", sent=True)
        return decode_or_fail(payload, request_id)

    async def _send(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, data: bytes, deadline: float
    ) -> None:
        """Send one datagram; raise `AttemptFailed` (not sent) if it cannot go."""
        try:
            self._send_once(sock, data)
            return
        except BlockingIOError:
            pass
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            raise AttemptFailed("refused", sent=False) from exc
        except PermissionError as exc:
            raise self._denied(exc) from exc
        except OSError as exc:
            raise AttemptFailed("connect_error", sent=False) from exc
        writable: asyncio.Future[None] = loop.create_future()
        fd = sock.fileno()
        loop.add_writer(fd, _wake, writable)
        wait = min(self._settings.connect_timeout, deadline - loop.time())
        try:
            async with asyncio.timeout(max(wait, 0)):
                await writable
            self._send_once(sock, data)
        except TimeoutError:
            cause = "deadline" if loop.time() >= deadline else "connect_timeout"
            raise AttemptFailed(cause, sent=False) from None
        except BlockingIOError:
            raise AttemptFailed("connect_timeout", sent=False) from None
        except ConnectionRefusedError as exc:
            raise AttemptFailed("refused", sent=False) from exc
        except OSError as exc:
            raise AttemptFailed("connect_error", sent=False) from exc
        finally:
            loop.remove_writer(fd)

    def _denied(self, exc: PermissionError) -> AttemptFailed:
        where = self._path if self._unix else f"{self._host}:{self._port}"
        return AttemptFailed("permission_denied", sent=False, detail=f"{where}: {exc.strerror}")

    def _send_once(self, sock: socket.socket, data: bytes) -> None:
        # A unix socket stays unconnected: OpenSIPS replies from another socket than the
        # one it reads on, and a connected datagram socket takes datagrams from its peer only.
        if self._unix:
            sock.sendto(data, self._path)
        else:
            sock.send(data)


def _close(sock: socket.socket) -> None:
    """Close a socket, removing the path a unix socket was bound to."""
    with contextlib.suppress(OSError):
        name = sock.getsockname()
        if isinstance(name, str) and name:
            os.unlink(name)
    sock.close()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
