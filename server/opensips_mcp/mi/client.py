"""`MIClient`: MI calls with the retry policy of their access level."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from opensips_mcp.catalog.levels import AccessLevel
from opensips_mcp.mi.backoff import UniformSource, backoff_delay
from opensips_mcp.mi.errors import (
    MIConnectionError,
    MIError,
    MIHTTPError,
    MIOutcomeUnknown,
    MIProtocolError,
    MIRequestTooLarge,
    MITimeoutError,
    command_error,
)
from opensips_mcp.mi.jsonrpc import IdSequence, Params, ReplyError, encode_request
from opensips_mcp.mi.settings import MISettings
from opensips_mcp.mi.transport import AttemptFailed, StatusAnswer, open_transport

__all__ = ["MIClient", "MIResponse"]

logger = logging.getLogger("opensips_mcp.mi")

HTTPD_RECEIVE_BUF_SIZE = 1024
"""OpenSIPS 3.5+'s default ``modparam("httpd", "receive_buf_size")``: the largest request
body mi_http reads (a larger one is dropped and answered 400, unrun)."""


@dataclass(frozen=True, slots=True)
class MIResponse:
    """A successful MI call."""

    result: Any
    """The JSON-RPC ``result`` value."""
    attempts: int
    """HTTP requests sent for this call (each may have reached the server)."""
    elapsed: float
    """Seconds from the call to its answer, backoff included."""
    tries: int = 1
    """Tries made, the answered one included; those before it were never sent (a read or
    write is re-tried only then), so ``tries`` > ``attempts`` means a retry."""


class MIClient:
    """Async JSON-RPC client for the OpenSIPS MI (``mi_http``, ``mi_fifo``, ``mi_datagram``).

    The transport is chosen by the scheme of ``settings.url`` (see `MISettings`); the
    retry and outcome rules below are the same for every transport.

    Safe to share between tasks. Use as ``async with MIClient(settings) as mi`` or call
    `close` when done. ``rng`` is the random source of the backoff jitter.
    """

    def __init__(self, settings: MISettings, *, rng: UniformSource | None = None) -> None:
        self.settings = settings
        self._rng: UniformSource = rng if rng is not None else random.Random()
        self._ids = IdSequence()
        self._exchange = open_transport(settings)
        self._scheme = settings.url.split(":", 1)[0]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool. The client cannot be used afterwards."""
        await self._exchange.close()

    async def call(self, method: str, params: Params = None, *, level: AccessLevel) -> MIResponse:
        """Run MI command ``method`` and return its result.

        ``params``: a mapping (named), a sequence (positional) or None (no ``params``).
        ``level``: the access level of this (command, recipe); it decides the error of a
        request that was sent and got no usable answer (see `may_resend`).

        Raises a `MIError` subclass (see the package docstring). A request that was not
        sent is retried at any level; a JSON-RPC error or 3xx/4xx status is an answer and
        is never retried; a request that reached the server and got no usable answer is
        never sent again: a write raises `MIOutcomeUnknown`, a read the error of what
        went wrong (`MITimeoutError`, `MIHTTPError`, `MIProtocolError`,
        `MIConnectionError`), both after that single request.
        """
        settings = self.settings
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + settings.total_timeout
        sent = 0
        last: AttemptFailed | None = None
        if type(level) is not AccessLevel:
            level = AccessLevel(level)
        for retry in range(settings.max_attempts):
            if retry and last is not None:  # every failed attempt sets last
                delay = backoff_delay(
                    retry - 1, base=settings.backoff_base, cap=settings.backoff_max, rng=self._rng
                )
                if loop.time() + delay >= deadline:
                    break
                logger.debug(
                    "mi %s: attempt %d failed (%s), retry in %.3fs",
                    method,
                    retry,
                    last.cause,
                    delay,
                )
                await asyncio.sleep(delay)
            request_id = self._ids.next()
            body = encode_request(method, params, request_id)
            limit = self._exchange.max_request_size
            if limit is not None and len(body) > limit:
                raise MIRequestTooLarge(
                    f"{method}: request of {len(body)} bytes exceeds the {limit}-byte limit "
                    f"of the MI transport ({self._scheme}); nothing was sent",
                    method=method,
                    attempts=sent,
                    size=len(body),
                    limit=limit,
                    transport=self._scheme,
                )
            try:
                answer = await self._exchange.send(body, request_id, deadline)
            except AttemptFailed as failure:
                if failure.sent:
                    sent += 1
                if not may_resend(failure):
                    if not level.is_read:
                        logger.warning(
                            "mi %s (%s): outcome unknown (%s)", method, level, failure.cause
                        )
                        raise _unknown(method, failure, sent) from failure
                    logger.debug("mi %s: not re-sent (%s): it may have run", method, failure)
                    raise _exhausted(method, failure, sent, self._scheme) from failure
                last = failure
                if failure.cause == "deadline":
                    break
                continue
            sent += 1
            elapsed = loop.time() - started
            if isinstance(answer, StatusAnswer):
                if answer.status == 400 and not answer.page and body:
                    # mi_http's bodyless 400 to a non-empty request: httpd dropped the body
                    # (larger than its receive_buf_size) and nothing ran.
                    raise MIRequestTooLarge(
                        f"{method}: OpenSIPS refused the {len(body)}-byte request unread "
                        "(HTTP 400: larger than httpd's receive_buf_size)",
                        method=method,
                        attempts=sent,
                        size=len(body),
                        limit=HTTPD_RECEIVE_BUF_SIZE,
                        transport=self._scheme,
                    )
                raise MIHTTPError(
                    f"{method}: HTTP {answer.status} from the MI endpoint",
                    method=method,
                    attempts=sent,
                    status=answer.status,
                )
            if isinstance(answer, ReplyError):
                raise command_error(
                    answer.code, answer.message, answer.data, method=method, attempts=sent
                )
            logger.debug("mi %s: ok in %.3fs after %d request(s)", method, elapsed, sent)
            return MIResponse(result=answer.result, attempts=sent, elapsed=elapsed, tries=retry + 1)
        if last is None:
            # max_attempts >= 1 and every loop pass either returns, raises or sets last.
            raise AssertionError("no attempt was made")
        raise _exhausted(method, last, sent, self._scheme)


def may_resend(failure: AttemptFailed) -> bool:
    """The one retry decision: may a request that got no answer be sent again?

    Only when the command certainly did not run: the request was never sent (refused,
    connect timeout, no local slot in time, a pooled connection that refused the write).
    Once sent, OpenSIPS may have run it, or may still be running it (it runs MI commands
    one at a time, so a late answer usually means a slow command, and a second copy
    would queue behind the first): not re-sent, whatever the level. No answer short of
    a reply proves a sent command did not run: OpenSIPS's ``mi_http`` can return HTTP
    500 after the command ran, and a reset or broken reply says nothing either way;
    3xx/4xx statuses and JSON-RPC errors are answers and never reach this function.
    """
    return not failure.sent


def _unknown(method: str, failure: AttemptFailed, sent: int) -> MIOutcomeUnknown:
    return MIOutcomeUnknown(
        f"{method} was sent but no usable answer came back ({failure}): it may or may not "
        "have been applied. Check the current state before trying again.",
        method=method,
        attempts=sent,
        cause=failure.cause,
        status=failure.status,
    )


def _exhausted(method: str, last: AttemptFailed, sent: int, scheme: str) -> MIError:
    """The error for a call that ran out of attempts or time; ``last`` is its last failure,
    ``scheme`` the transport's URL scheme."""
    cause = last.cause
    text = f"{method}: no answer from the MI endpoint ({last}) after {sent} request(s) sent"
    if cause in ("read_timeout", "deadline"):
        return MITimeoutError(text, method=method, attempts=sent, cause=cause, transport=scheme)
    if last.status is not None:
        return MIHTTPError(text, method=method, attempts=sent, status=last.status)
    if cause in ("truncated", "malformed", "not_jsonrpc", "wrong_id", "unprintable"):
        return MIProtocolError(text, method=method, attempts=sent, cause=cause)
    return MIConnectionError(
        text, method=method, attempts=sent, cause=cause, transport=scheme, detail=last.detail
    )
