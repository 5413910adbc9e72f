"""One HTTP request/reply exchange with the MI endpoint, over an aiohttp keep-alive pool.

Its one job is to tell apart three results, because the retry rules depend on them:

* an answer (JSON-RPC result or error, or a 3xx/4xx status): returned;
* not sent (no slot, no connection): `AttemptFailed` with ``sent=False``;
* sent, then no usable answer: `AttemptFailed` with ``sent=True``.

"Sent" is decided conservatively: from the moment aiohttp has a connection for the
request and starts writing it, the request may have reached the server.
"""

from __future__ import annotations

import asyncio
import types
from dataclasses import dataclass

import aiohttp
from aiohttp.client_proto import ResponseHandler

from opensips_mcp.mi.jsonrpc import ReplyError, ReplyProblem, ReplyResult, decode_reply
from opensips_mcp.mi.settings import MISettings

__all__ = ["AttemptFailed", "Exchange", "StatusAnswer"]

# aiohttp's message when a write meets a closing transport (nothing is written then).
_CLOSING_TRANSPORT = "Cannot write to closing transport"

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """A 3xx/4xx reply: the server refused the request (it did not run it)."""

    status: int


class AttemptFailed(Exception):
    """One attempt got no answer.

    ``sent`` tells whether the request may have reached the server; ``cause`` says what
    happened (the names used by the public errors); ``status`` is the HTTP status for
    ``http_5xx``/``http_status``.
    """

    def __init__(self, cause: str, *, sent: bool, status: int | None = None) -> None:
        super().__init__(cause if status is None else f"{cause} ({status})")
        self.cause = cause
        self.sent = sent
        self.status = status


class _SendMark:
    """Per-request flag set by the tracing hook once aiohttp starts sending the request."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False


async def _on_request_headers_sent(
    session: aiohttp.ClientSession,
    context: types.SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    # aiohttp calls this with a connection in hand, just before any byte of the request
    # is written: from here on the request counts as sent.
    mark = context.trace_request_ctx
    if isinstance(mark, _SendMark):
        mark.sent = True


class Exchange:
    """Sends request bodies to ``settings.url``, at most ``max_in_flight`` at a time."""

    def __init__(self, settings: MISettings) -> None:
        self._settings = settings
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    async def close(self) -> None:
        """Close every pooled connection. Later exchanges raise `RuntimeError`."""
        self._closed = True
        if self._session is not None:
            await self._session.close()

    def _open_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("MI client is closed")
        if self._session is None:
            settings = self._settings
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_on_request_headers_sent)
            connector = aiohttp.TCPConnector(
                limit=settings.pool_size,
                limit_per_host=0,
                keepalive_timeout=settings.keepalive_timeout,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trace_configs=[trace],
                trust_env=False,
                raise_for_status=False,
            )
        return self._session

    async def send(
        self, body: bytes, request_id: int, deadline: float
    ) -> ReplyResult | ReplyError | StatusAnswer:
        """Send one request and return its answer, or raise `AttemptFailed`.

        ``deadline`` is a `loop.time()` value; nothing runs past it.
        """
        loop = asyncio.get_running_loop()
        session = self._open_session()
        slot_wait = min(self._settings.pool_timeout, deadline - loop.time())
        if slot_wait <= 0:
            raise AttemptFailed("deadline", sent=False)
        try:
            async with asyncio.timeout(slot_wait):
                await self._slots.acquire()
        except TimeoutError:
            cause = "deadline" if loop.time() >= deadline else "pool_timeout"
            raise AttemptFailed(cause, sent=False) from None
        mark = _SendMark()
        try:
            async with asyncio.timeout_at(deadline):
                return await self._post(session, body, request_id, mark, deadline - loop.time())
        except TimeoutError:
            # _post turns aiohttp's own timeouts into AttemptFailed: this is the deadline.
            raise AttemptFailed("deadline", sent=mark.sent) from None
        finally:
            self._slots.release()

    async def _post(
        self,
        session: aiohttp.ClientSession,
        body: bytes,
        request_id: int,
        mark: _SendMark,
        remaining: float,
    ) -> ReplyResult | ReplyError | StatusAnswer:
        settings = self._settings
        # aiohttp's ``connect`` covers waiting for a pooled connection plus connecting;
        # only ``sock_connect`` is the network's part.
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=min(settings.pool_timeout + settings.connect_timeout, remaining),
            sock_connect=min(settings.connect_timeout, remaining),
            sock_read=min(settings.read_timeout, remaining),
        )
        try:
            # Body as bytes: aiohttp then writes headers and body in one write, which
            # OpenSIPS needs (split writes can stall on reused connections).
            response = await session.post(
                settings.url,
                data=body,
                headers=_HEADERS,
                timeout=timeout,
                allow_redirects=False,
                trace_request_ctx=mark,
            )
        except (aiohttp.ClientError, OSError) as exc:
            if _refused_before_writing(exc):
                raise AttemptFailed("stale_connection", sent=False) from exc
            raise _failure(exc, sent=mark.sent) from exc
        try:
            status = response.status
            if status != 200:
                # Judged on status line and headers alone: OpenSIPS holds back the end of
                # such (empty, chunked) bodies, so never wait for it, and never reuse the
                # connection either.
                response.close()
                if 300 <= status < 500:
                    return StatusAnswer(status)
                cause = "http_5xx" if status >= 500 else "http_status"
                raise AttemptFailed(cause, sent=True, status=status)
            try:
                payload = await response.read()
            except (aiohttp.ClientError, OSError) as exc:
                raise _failure(exc, sent=True) from exc
        except BaseException:
            response.close()
            raise
        try:
            return decode_reply(payload, request_id)
        except ReplyProblem as exc:
            # A reply to some other request (or garbage) means this connection is out of
            # step with the server: close it so no later request reads a stale reply.
            _close_connection_of(response)
            raise AttemptFailed(exc.kind, sent=True) from exc


def _close_connection_of(response: aiohttp.ClientResponse) -> None:
    """Close the connection a fully read reply came on (it is back in the pool by now).

    aiohttp returns a connection to the pool as soon as the body is complete and offers
    no public handle to it afterwards; ``_protocol`` is its private one. Should it go
    away, the connection stays pooled (the test for this behaviour then fails).
    """
    protocol = getattr(response, "_protocol", None)
    if isinstance(protocol, ResponseHandler):
        protocol.close()


def _refused_before_writing(exc: BaseException) -> bool:
    """True if aiohttp refused to write the request because the connection was closing.

    This happens when a pooled keep-alive connection is closed by the server between
    being taken from the pool and being written to. The whole request (headers and
    body) goes out in one write, so when that write is refused no byte has left. Any
    other failure after sending started counts as sent.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, aiohttp.ClientConnectionResetError) and (
            str(seen) == _CLOSING_TRANSPORT
        ):
            return True
        seen = seen.__cause__
    return False


def _failure(exc: BaseException, *, sent: bool) -> AttemptFailed:
    """Name what went wrong, from the exception and whether the request was sent."""
    if isinstance(exc, aiohttp.ClientPayloadError):
        sent_cause, unsent_cause = "truncated", "connect_error"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        # Connect errors come before anything is written; "reset" only guards the
        # impossible sent case, so that it still counts as sent.
        refused = isinstance(exc.os_error, ConnectionRefusedError)
        sent_cause, unsent_cause = "reset", "refused" if refused else "connect_error"
    elif isinstance(exc, TimeoutError):
        sent_cause, unsent_cause = "read_timeout", "connect_timeout"
    elif isinstance(exc, aiohttp.ClientResponseError):
        # The reply's status line or headers could not be parsed.
        sent_cause, unsent_cause = "malformed", "connect_error"
    else:
        sent_cause, unsent_cause = "reset", "connect_error"
    return AttemptFailed(sent_cause if sent else unsent_cause, sent=sent)
