"""Async client for the OpenSIPS Management Interface: JSON-RPC 2.0 over ``mi_http``,
``mi_fifo`` or ``mi_datagram`` (UDP or a unix socket), chosen by the URL scheme.

Usage::

    settings = MISettings(url="http://127.0.0.1:8888/mi")
    async with MIClient(settings) as mi:
        resp = await mi.call("uptime", None, level=AccessLevel.READ)
        resp.result, resp.attempts, resp.elapsed

Every call ends in one of three outcomes: **ok** (`MIResponse`), **failed** (an answer
saying no, or nothing sent), or **unknown** (`MIOutcomeUnknown`: a write reached the
server and no usable answer came back, so it may have been applied).

Retry policy: **retry only what did not run.** OpenSIPS runs MI commands one at a time
in one process, so a request whose answer is late is usually still running, and a copy
sent after it queues behind it and runs again (measured on 3.6.8: ``t_hash`` takes 24 s;
a read re-sent twice after 10 s read timeouts kept the MI busy for every client for
~72 s). Hence, whatever the ``level`` given to `MIClient.call`:

* not sent (connection refused, connect timeout, no local slot in time, a pooled
  connection that refused the write): retried, at any level; the command did not run;
* sent, then no usable answer (read timeout, reset, HTTP 5xx, truncated or non-JSON
  body, not JSON-RPC, wrong ``id``): never sent again. The command may have run or may
  still be running; no such outcome proves it did not (``mi_http`` can answer HTTP 500
  after running the command). A read raises the error of what went wrong; any other
  level raises `MIOutcomeUnknown`;
* an answer (JSON-RPC ``error`` object, HTTP 3xx/4xx): never retried;
* retries wait with exponential backoff and full jitter, within ``max_attempts`` and
  the ``total_timeout`` deadline (which bounds the sleeps too).

The one function deciding this is `opensips_mcp.mi.client.may_resend`. Per transport:
over ``mi_http`` "sent" starts when the request's first byte may be written on a
connection (one write carries headers and body); a stream or datagram transport
(``mi_fifo``, ``mi_datagram``) counts as sent once its write or ``sendto`` started, since
OpenSIPS reads a request as soon as it is whole and no reply says "not run". Heavy
commands get their own timeout and budget instead of retries.

Errors::

    MIError                      .method, .attempts (HTTP requests sent: may have reached server)
     ├── MIConnectionError       nothing changed: not sent (refused, connect or slot timeout),
     │                           or, for reads only, the connection broke after sending  .cause
     ├── MITimeoutError          out of time: read timeout (reads) or total deadline;
     │                           for a write only when nothing was sent  .cause
     ├── MIOutcomeUnknown        a write was sent once, no usable answer: may have been
     │                           applied; check state before retrying  .cause, .status
     ├── MIProtocolError         a read's reply was not JSON / not JSON-RPC / wrong id  .cause
     ├── MIRequestTooLarge       larger than the transport carries (fifo, datagram: not sent)
     │                           or mi_http reads (400, unrun)  .size, .limit, .transport
     ├── MIHTTPError             HTTP status other than 200: 3xx/4xx at any level (an answer,
     │                           not retried); 5xx for reads (not re-sent)  .status
     └── MICommandError          JSON-RPC error object (an answer)  .code, .message, .data
          ├── MICommandNotFound  -32601: no such command on this server
          └── MIInvalidParams    -32602: parameters match none of the command's recipes

For a call whose level is not ``read``, `MIOutcomeUnknown` is the only error that may
follow an applied change; every other error means the server refused it or nothing was
sent.

Wire details OpenSIPS needs: each request is one TCP write (headers and body together);
replies other than 200 are judged on status line and headers alone, their connection
closed without reading the body (OpenSIPS holds back the end of such bodies); request
ids are increasing integers below 2**31, wrapping around.

Logs go to the ``opensips_mcp.mi`` logger: method names, causes and timings at DEBUG,
unknown outcomes at WARNING; parameter values are never logged.
"""

from opensips_mcp.mi.client import MIClient, MIResponse
from opensips_mcp.mi.errors import (
    MICommandError,
    MICommandNotFound,
    MIConnectionError,
    MIError,
    MIHTTPError,
    MIInvalidParams,
    MIOutcomeUnknown,
    MIProtocolError,
    MIRequestTooLarge,
    MITimeoutError,
)
from opensips_mcp.mi.jsonrpc import Params
from opensips_mcp.mi.settings import MISettings

__all__ = [
    "MIClient",
    "MICommandError",
    "MICommandNotFound",
    "MIConnectionError",
    "MIError",
    "MIHTTPError",
    "MIInvalidParams",
    "MIOutcomeUnknown",
    "MIProtocolError",
    "MIRequestTooLarge",
    "MIResponse",
    "MISettings",
    "MITimeoutError",
    "Params",
]
