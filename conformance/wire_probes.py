"""Raw HTTP probes for the differential: requests at the edges of what mi_http reads, sent
byte for byte to the real server and to the simulator's own wire, each on a fresh
connection, and their outcomes compared.

The edges (measured first on real 3.4.18, 3.6.8 and 4.0.1; ``opensips_sim.persona``):
a body of 1,024 and 1,025 bytes (httpd's default ``receive_buf_size`` on 3.5+), a whole
request of 16,384 and 16,385 bytes (libmicrohttpd's read buffer), and JSON cJSON cannot
read (``\\u0000``, a lone surrogate, broken JSON), and JSON-RPC envelopes at the edges of
what ``parse_mi_request`` accepts (a batch, ``id`` and ``params`` of every type, a missing
``jsonrpc``, duplicate names, trailing bytes). Every probe is ``uptime``, ``which`` or a
read with wrong params, so whatever runs changes nothing.

With the lab's FIFO and datagram socket (``OPENSIPS_MI_FIFO``, ``OPENSIPS_MI_DATAGRAM``),
the same kind of probes go over mi_fifo (framing: a request over several lines, two in one
write, reply names at mi_fifo's length bound, an ``id`` it cannot print) and mi_datagram
(an oversized UDP datagram). Never sent: a request without a string ``method`` over
mi_fifo, or over 4.x's mi_datagram; it crashes the real server (``opensips_sim.streams``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from urllib.parse import urlsplit

from opensips_sim.simulator import Settings as SimSettings
from opensips_sim.simulator import Simulator
from opensips_sim.wire import WireServer

SILENCE_SECONDS = 0.5
"""How long a probe waits for a first byte before calling the server silent."""
HEAD = (
    b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
)
FRAME = b'{"jsonrpc":"2.0","method":"uptime","params":{"pad":"%s"},"id":1}'


def padded(path: bytes, body_size: int) -> bytes:
    """A request whose body is ``body_size`` bytes."""
    body = FRAME % (b"z" * (body_size - len(FRAME % b"")))
    return HEAD % (path, len(body)) + body


def whole(path: bytes, request_size: int) -> bytes:
    """A request of ``request_size`` bytes in all (head and body; a 5-digit body size)."""
    request = padded(path, request_size - len(HEAD % (path, 10_000)))
    assert len(request) == request_size
    return request


def raw(path: bytes, body: bytes) -> bytes:
    return HEAD % (path, len(body)) + body


ENVELOPES: dict[str, bytes] = {
    "ok": b'{"jsonrpc":"2.0","method":"uptime","id":1}',
    "nul": b'{"jsonrpc":"2.0","method":"uptime","params":{"x":"a\\u0000"},"id":1}',
    "surrogate": b'{"jsonrpc":"2.0","method":"uptime","params":{"x":"\\ud800"},"id":1}',
    "broken json": b'{"jsonrpc":"2.0","method":"uptime","id":1',
    "no jsonrpc": b'{"method":"uptime","id":1}',
    "jsonrpc 1.0": b'{"jsonrpc":"1.0","method":"uptime","id":1}',
    "id string": b'{"jsonrpc":"2.0","method":"uptime","id":"abc"}',
    "id null": b'{"jsonrpc":"2.0","method":"uptime","id":null}',
    "id float": b'{"jsonrpc":"2.0","method":"uptime","id":1.5}',
    "id over int": b'{"jsonrpc":"2.0","method":"uptime","id":12345678901234567890}',
    "id object": b'{"jsonrpc":"2.0","method":"uptime","id":{"a":1}}',
    "id bool": b'{"jsonrpc":"2.0","method":"uptime","id":true}',
    "method empty": b'{"jsonrpc":"2.0","method":"","id":1}',
    "method case": b'{"jsonrpc":"2.0","method":"UPTIME","id":1}',
    "params array": b'{"jsonrpc":"2.0","method":"uptime","params":[],"id":1}',
    "params string": b'{"jsonrpc":"2.0","method":"uptime","params":"x","id":1}',
    "params null": b'{"jsonrpc":"2.0","method":"uptime","params":null,"id":1}',
    "param twice": b'{"jsonrpc":"2.0","method":"get_statistics",'
    b'"params":{"statistics":["rcv_requests"],"statistics":["x"]},"id":1}',
    "param unknown": b'{"jsonrpc":"2.0","method":"get_statistics","params":{"nope":1},"id":1}',
    "param type": b'{"jsonrpc":"2.0","method":"get_statistics","params":{"statistics":"x"},"id":1}',
    "member twice": b'{"jsonrpc":"2.0","method":"nosuch","method":"uptime","id":1}',
    "trailing bytes": b'{"jsonrpc":"2.0","method":"uptime","id":1}xyz',
}
"""Bodies every transport may carry (each has a string ``method``)."""
NO_METHOD: dict[str, bytes] = {
    "batch": b'[{"jsonrpc":"2.0","method":"uptime","id":1}]',
    "no method": b'{"jsonrpc":"2.0","id":1}',
    "method number": b'{"jsonrpc":"2.0","method":5,"id":1}',
    "empty object": b"{}",
    "scalar": b"1",
}
"""Bodies without a string method: mi_http and 3.x's mi_datagram answer ``-32600``."""


def probes(path: bytes) -> dict[str, bytes]:
    """Name -> request bytes."""
    return {
        "body 1024": padded(path, 1024),
        "body 1025": padded(path, 1025),
        "request 16384": whole(path, 16384),
        "request 16385": whole(path, 16385),
        **{name: raw(path, body) for name, body in (ENVELOPES | NO_METHOD).items()},
    }


def answer(body: bytes) -> str:
    """``error <code> id=<id>``, ``result id=<id>``, or ``text <text>`` for what is not JSON."""
    try:
        document = json.loads(body)
    except ValueError:
        return "text " + body[:40].decode("latin-1")
    if not isinstance(document, dict):
        return "json " + type(document).__name__
    error = document.get("error")
    ident = json.dumps(document.get("id"))
    if isinstance(error, dict):
        return f"error {error.get('code')} id={ident}"
    return f"result id={ident}"


async def outcome(host: str, port: int, request: bytes) -> str:
    """``<status> <page|no page> <json error code|result>``, ``closed`` or ``silent``."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    try:
        writer.write(request)
        await writer.drain()
        try:
            first = await asyncio.wait_for(reader.read(1), SILENCE_SECONDS)
        except TimeoutError:
            return "silent"
        if not first:
            return "closed"
        head = (first + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
        status = head.split(" ", 2)[1]
        length = next(
            (
                int(line.split(":", 1)[1])
                for line in head.split("\r\n")
                if line.lower().startswith("content-length:")
            ),
            None,
        )
        if length is None:
            return f"{status} no page"
        if length == 0:
            return f"{status} empty"
        return f"{status} {answer(await asyncio.wait_for(reader.readexactly(length), 5))}"
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 5)


async def compare(real_url: str, version: str) -> dict[str, str]:
    """Probe name -> ``real ... | sim ...`` for every probe answered differently."""
    parts = urlsplit(real_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = (parts.path or "/mi").encode()
    settings = SimSettings(opensips_version=version, idle_timeout=2.0)
    sim = Simulator("quiet", seed=1, settings=settings)
    wire = WireServer(sim)
    sim_port = await wire.start("127.0.0.1", 0)
    differences: dict[str, str] = {}
    try:
        for name, request in probes(path).items():
            real = await outcome(host, port, request)
            mine = await outcome("127.0.0.1", sim_port, request)
            if real != mine:
                differences[name] = f"real {real} | sim {mine}"
    finally:
        await wire.close()
    return differences
