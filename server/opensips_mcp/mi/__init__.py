"""Async client for the OpenSIPS Management Interface (JSON-RPC 2.0 over HTTP, ``mi_http``).

Usage::

    settings = MISettings(url="http://127.0.0.1:8888/mi")
    async with MIClient(settings) as mi:
        resp = await mi.call("uptime", None, level=AccessLevel.READ)
        resp.result, resp.attempts, resp.elapsed

Every call ends in one of three outcomes: **ok** (`MIResponse`), **failed** (an answer
saying no, or nothing sent), or **unknown** (`MIOutcomeUnknown`: a write reached the
server and no usable answer came back, so it may have been applied).

Retry policy, by the ``level`` given to `MIClient.call`:

* not sent (connection refused, connect timeout, no free slot in time): retried at any
  level;
* sent, then no usable answer (read timeout, reset, HTTP 5xx, truncated or non-JSON
  body, not JSON-RPC, wrong ``id``): retried for ``read`` only; any other level raises
  `MIOutcomeUnknown` after that single request, never sending a second one;
* an answer (JSON-RPC ``error`` object, HTTP 3xx/4xx): never retried;
* retries wait with exponential backoff and full jitter, within ``max_attempts`` and
  the ``total_timeout`` deadline (which bounds the sleeps too).

Errors::

    MIError                      .method, .attempts (HTTP requests sent: may have reached server)
     ├── MIConnectionError       nothing changed: not sent (refused, connect or slot timeout),
     │                           or, for reads only, the connection broke every time  .cause
     ├── MITimeoutError          out of time: read timeout (reads) or total deadline;
     │                           for a write only when nothing was sent  .cause
     ├── MIOutcomeUnknown        a write was sent once, no usable answer: may have been
     │                           applied; check state before retrying  .cause, .status
     ├── MIProtocolError         a read's replies were not JSON / not JSON-RPC / wrong id  .cause
     ├── MIHTTPError             HTTP status other than 200: 3xx/4xx at any level (an answer,
     │                           not retried); 5xx for reads once retries are used up  .status
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
    "MIResponse",
    "MISettings",
    "MITimeoutError",
    "Params",
]
