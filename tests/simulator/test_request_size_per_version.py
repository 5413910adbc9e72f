"""How large a request each version's mi_http answers, as measured on real servers with a
raw socket (one write per request, a fresh connection each; 2026-12-04):

* 3.6.8 and 4.0.1: a body of 1,024 bytes is run, 1,025 is answered ``400`` without a page
  (chunked, its end held back) and not run (httpd's ``receive_buf_size``, 1024 by default;
  OpenSIPS logs "Received too big HTTP request"). With ``receive_buf_size`` raised to 65536
  (3.6.8) a 16,000-byte body is run.
* 3.4.18 has no such bound: every body up to 16 KB is run.
* Every version: a request of 16,384 bytes (request line, headers and body) is answered;
  one byte more is not (libmicrohttpd's read buffer): 3.4.18 closes the connection at once
  without a byte, 3.6.8 (also with ``receive_buf_size`` 65536) and 4.0.1 send nothing and
  keep the connection open (70 s observed). Measured with two head sizes on 3.4.18.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from .conftest import StartSimulator
from .rawhttp import RawClient, exchange, post

HEAD = (
    b"POST /mi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
)
PAD_FRAME = len(b'{"jsonrpc":"2.0","method":"uptime","params":{"pad":""},"id":1}')


def request_of(body_size: int) -> bytes:
    """A ``uptime`` request (with one unknown ``pad`` param) whose body is ``body_size``."""
    pad = b"z" * (body_size - PAD_FRAME)
    body = b'{"jsonrpc":"2.0","method":"uptime","params":{"pad":"%s"},"id":1}' % pad
    assert len(body) == body_size
    return HEAD % body_size + body


def total_of(body_size: int) -> int:
    return len(request_of(body_size))


# body size -> what each version did (the real servers' answers)
MEASURED = {
    1024: {"3.4.18": "run", "3.6.8": "run", "4.0.1": "run"},
    1025: {"3.4.18": "run", "3.6.8": "400", "4.0.1": "400"},
    16384 - len(HEAD % 16299): {"3.4.18": "run", "3.6.8": "400", "4.0.1": "400"},
    16384 - len(HEAD % 16299) + 1: {"3.4.18": "closed", "3.6.8": "silent", "4.0.1": "silent"},
    20000: {"3.4.18": "closed", "3.6.8": "silent", "4.0.1": "silent"},
}


async def outcome(port: int, request: bytes) -> str:
    """``run`` (200 with the command's JSON-RPC answer), ``400`` (no page, end held back),
    ``closed`` (end of stream without a byte) or ``silent`` (nothing in 0.3 s, connection
    open)."""
    client = await RawClient.connect(port)
    try:
        await client.send(request)
        try:
            first = await asyncio.wait_for(client.reader.read(1), 0.3)
        except TimeoutError:
            return "silent"
        if not first:
            return "closed"
        head = (first + await client.reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status = head.split(" ", 2)[1]
        if status == "200":
            return "run"
        assert status == "400", head
        assert "Transfer-Encoding: chunked" in head and "Content-Length" not in head
        return "400"
    finally:
        await client.close()


def test_the_measured_boundaries_are_where_they_were_measured() -> None:
    assert total_of(16299) == 16384  # the largest request answered: 16,384 bytes in all


@pytest.mark.parametrize("version", ["3.4.18", "3.6.8", "4.0.1"])
@pytest.mark.parametrize("body_size", sorted(MEASURED))
async def test_each_version_answers_a_request_by_its_size_as_the_real_one_did(
    version: str, body_size: int, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator(opensips_version=version)

    assert await outcome(sim.port, request_of(body_size)) == MEASURED[body_size][version]
    head, body = await exchange(sim.port, post(b'{"jsonrpc":"2.0","method":"uptime","id":2}'))
    assert head.status == 200 and "Up time" in json.loads(body)["result"]


async def test_a_raised_receive_buf_size_runs_larger_bodies_up_to_the_read_buffer(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(opensips_version="3.6.8", receive_buf_size=65536)

    assert await outcome(sim.port, request_of(16000)) == "run"
    assert await outcome(sim.port, request_of(16300)) == "silent"


async def test_a_dropped_body_runs_nothing_and_is_journaled_as_such(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(opensips_version="4.0.1")

    assert await outcome(sim.port, request_of(2000)) == "400"
    entries = sim.journal()
    assert [(e["method"], e["http_status"], e["applied"]) for e in entries] == [(None, 400, False)]


async def test_an_answer_larger_than_buf_size_is_500_without_a_body_after_running(
    start_simulator: StartSimulator,
) -> None:
    """As a real 3.6.8 answered a 13 MB ul_dump (httpd's buf_size, a quarter of pkg
    memory): 500, chunked, its end held back ("failed to print json response")."""
    sim = await start_simulator(buf_size=300)
    client = await RawClient.connect(sim.port)
    try:
        await client.send(post(b'{"jsonrpc":"2.0","method":"ul_dump","id":1}'))
        head = await client.read_head()
        assert head.status == 500 and head.header("Transfer-Encoding") == "chunked"
        assert await client.silent_for(0.15), "the body end is held back"
    finally:
        await client.close()
    _head, small = await exchange(sim.port, post(b'{"jsonrpc":"2.0","method":"uptime","id":2}'))
    assert json.loads(small)["id"] == 2
    assert [e["method"] for e in sim.journal()] == ["ul_dump", "uptime"]
