"""The MI client's errors (the tree is drawn in the package docstring).

Every error says which MI ``method`` it concerns and how many HTTP requests were
``attempts`` (sent, so they may have reached the server). For a call at a level other
than ``read``, exactly one error means "it may have been applied": `MIOutcomeUnknown`.
Every other error of such a call means the server answered with an error, or nothing
was sent at all.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MICommandError",
    "MICommandNotFound",
    "MIConnectionError",
    "MIError",
    "MIHTTPError",
    "MIInvalidParams",
    "MIOutcomeUnknown",
    "MIProtocolError",
    "MIRequestTooLarge",
    "MITimeoutError",
]


class MIError(Exception):
    """Root of every error the MI client raises. ``transport``: the URL scheme of the MI
    endpoint (``http``, ``fifo``, ``udp``, ``unix``) where the error names it (empty:
    not given), so the agent's error can name the OpenSIPS module to check."""

    def __init__(self, message: str, *, method: str, attempts: int, transport: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.attempts = attempts
        self.transport = transport


class MIConnectionError(MIError):
    """Nothing was changed: no request reached the server, or a read lost its connection.

    ``cause`` is one of ``"refused"``, ``"connect_error"`` (could not connect),
    ``"connect_timeout"``, ``"pool_timeout"`` (no free in-flight slot in time),
    ``"stale_connection"`` (a pooled connection closed by the server refused the write),
    ``"not_a_fifo"`` (a ``fifo://`` URL whose path is a regular file or a directory),
    ``"unresolved"`` (the URL's host name does not resolve; ``detail`` says why),
    ``"permission_denied"`` (this user may not open the FIFO, the reply FIFO or the unix
    socket; ``detail`` names it),
    ``"tls_untrusted"`` (``https://``: OpenSIPS's certificate failed verification;
    ``detail`` says why), ``"tls_error"`` (``https://``: no TLS handshake, e.g. the port
    serves plain HTTP): nothing was sent. For ``read`` calls only, ``"reset"`` means the
    connection broke after the request was sent and before a reply (a read changes
    nothing; it is not re-sent).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        attempts: int,
        cause: str,
        transport: str = "",
        detail: str = "",
    ) -> None:
        super().__init__(message, method=method, attempts=attempts, transport=transport)
        self.cause = cause
        self.detail = detail
        """What the system said, when it helps: a path and its error, the TLS verification
        error, the host that did not resolve."""


class MITimeoutError(MIError):
    """The call ran out of time.

    ``cause`` is ``"read_timeout"`` (no reply within ``read_timeout``; the read is not
    re-sent, since it may still be running) or ``"deadline"`` (``total_timeout``
    passed). Raised for a write only when none of its requests was sent
    (``attempts == 0``): once a write is sent, running out of time makes it
    `MIOutcomeUnknown`.
    """

    def __init__(
        self, message: str, *, method: str, attempts: int, cause: str, transport: str = ""
    ) -> None:
        super().__init__(message, method=method, attempts=attempts, transport=transport)
        self.cause = cause


class MIOutcomeUnknown(MIError):
    """A write (``write``/``destructive``/``admin``) was sent once and got no usable answer.

    It may or may not have been applied: check the state before trying again. The
    client never re-sends such a request, so ``attempts`` is always 1.

    ``cause`` says what went wrong after sending: ``"read_timeout"``, ``"deadline"``,
    ``"reset"`` (connection closed or reset before a whole reply), ``"http_5xx"``,
    ``"http_status"`` (another non-200, non-error status such as 202), ``"truncated"``
    (body shorter than announced), ``"malformed"`` (not JSON), ``"not_jsonrpc"``,
    ``"wrong_id"``.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        attempts: int,
        cause: str,
        status: int | None = None,
    ) -> None:
        super().__init__(message, method=method, attempts=attempts)
        self.cause = cause
        self.status = status


class MIProtocolError(MIError):
    """A read's reply could not be understood (the read is not re-sent: it ran).

    ``cause`` is ``"truncated"``, ``"malformed"`` (body is not JSON), ``"not_jsonrpc"``
    (JSON, but not a JSON-RPC 2.0 response), ``"wrong_id"`` (answer to another request) or
    ``"unprintable"`` (mi_datagram's ``500 Internal error``: the answer did not fit in a
    datagram).
    """

    def __init__(self, message: str, *, method: str, attempts: int, cause: str) -> None:
        super().__init__(message, method=method, attempts=attempts)
        self.cause = cause


class MIRequestTooLarge(MIError):
    """The request is larger than the transport or OpenSIPS takes; it did not run.

    Unsent (``attempts`` 0) when the transport's own limit is known: ``mi_fifo`` reads at
    most 4096 bytes per request, ``mi_datagram`` one datagram of at most 65457 bytes,
    ``mi_http`` never answers a request (head and body) over 16,384 bytes. Sent and
    refused unread (``attempts`` 1) over ``mi_http``: OpenSIPS 3.5+'s httpd drops a
    request body larger than its ``receive_buf_size`` (1024 bytes unless raised) and
    mi_http answers 400 without running anything (measured on 3.6.8 and 4.0.1).
    ``size``: the request body's bytes; ``limit``: the limit in bytes (for mi_http the
    default ``receive_buf_size``, the server's may be larger).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        attempts: int,
        size: int,
        limit: int,
        transport: str,
    ) -> None:
        super().__init__(message, method=method, attempts=attempts, transport=transport)
        self.size = size
        self.limit = limit


class MIHTTPError(MIError):
    """The server replied with an HTTP status other than 200 and no JSON-RPC answer.

    A 3xx/4xx status is an answer (the request was refused, not run) and is never
    retried, at any level. A 5xx (or other 2xx) status is raised only for reads (not
    re-sent: OpenSIPS may answer 500 after running the command); for a write it is
    `MIOutcomeUnknown`.
    """

    def __init__(self, message: str, *, method: str, attempts: int, status: int) -> None:
        super().__init__(message, method=method, attempts=attempts)
        self.status = status


class MICommandError(MIError):
    """OpenSIPS answered with a JSON-RPC ``error`` object: an answer, never retried.

    ``code``, ``message`` and ``data`` are the error object's members. Module failures
    use HTTP-like codes (``404`` "Requested Dialog not found", ``500`` ...).
    """

    def __init__(
        self,
        code: int,
        message: str,
        data: Any = None,
        *,
        method: str,
        attempts: int,
    ) -> None:
        text = f"{method}: error {code}: {message}"
        if data is not None:
            text = f"{text} ({data})"
        super().__init__(text, method=method, attempts=attempts)
        self.code = code
        self.message = message
        self.data = data


class MICommandNotFound(MICommandError):
    """JSON-RPC ``-32601``: the server does not offer this MI command."""


class MIInvalidParams(MICommandError):
    """JSON-RPC ``-32602``: the parameter names or values match none of the command's recipes."""


def command_error(
    code: int, message: str, data: Any, *, method: str, attempts: int
) -> MICommandError:
    """The `MICommandError` subclass for a JSON-RPC error ``code``."""
    cls: type[MICommandError] = _BY_CODE.get(code, MICommandError)
    return cls(code, message, data, method=method, attempts=attempts)


_BY_CODE: dict[int, type[MICommandError]] = {
    -32601: MICommandNotFound,
    -32602: MIInvalidParams,
}
