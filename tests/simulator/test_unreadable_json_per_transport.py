"""A request OpenSIPS's JSON parser (cJSON) cannot read, per transport, as a real 3.6.8 lab
answered it (2026-12-04; mi_http the same on 3.4.18 and 4.0.1):

* strings or names holding ``\\u0000`` or a lone UTF-16 surrogate are parse errors, as is
  broken JSON; a surrogate pair and any other escape are read;
* mi_http: ``{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}``;
* mi_datagram: the text ``400 Parse_error``;
* mi_fifo: nothing at all (OpenSIPS logs "cannot parse command").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opensips_sim.runner import RunningSimulator, serving_stream

from .conftest import StartSimulator
from .rawhttp import exchange, post
from .test_streams import RawStream, short_dir  # noqa: F401  (fixture)

UNREADABLE = [
    b'{"jsonrpc":"2.0","method":"uptime","params":{"x":"a\\u0000b"},"id":7}',
    b'{"jsonrpc":"2.0","method":"uptime","params":{"x":"\\ud800"},"id":7}',
    b'{"jsonrpc":"2.0","method":"uptime","params":{"x":"\\udc00"},"id":7}',
    b'{"jsonrpc":"2.0","method":"uptime","params":{"a\\u0000":1},"id":7}',
    b'{"jsonrpc":"2.0","method":"uptime","params":["\\u0000"],"id":7}',
    b"{bad json",
]
READABLE = [  # answered -32602: uptime takes no params
    b'{"jsonrpc":"2.0","method":"uptime","params":{"x":"\\ud83d\\ude00"},"id":7}',
    b'{"jsonrpc":"2.0","method":"uptime","params":{"x":"\\u0001\\u00e9"},"id":7}',
]
PARSE_ERROR = {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}


@pytest.mark.parametrize("body", UNREADABLE)
async def test_mi_http_answers_a_parse_error_with_id_null(
    body: bytes, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator()
    head, answer = await exchange(sim.port, post(body))
    assert head.status == 200
    assert json.loads(answer) == PARSE_ERROR
    assert [e["method"] for e in sim.journal()] == [None]


@pytest.mark.parametrize("body", READABLE)
async def test_a_surrogate_pair_and_other_escapes_are_read(
    body: bytes, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator()
    _head, answer = await exchange(sim.port, post(body))
    assert json.loads(answer)["error"]["code"] == -32602
    assert json.loads(answer)["id"] == 7


@pytest.fixture(params=["fifo", "udp", "unix"])
async def stream(
    request: pytest.FixtureRequest,
    start_simulator: StartSimulator,
    short_dir: Path,  # noqa: F811
) -> AsyncIterator[tuple[RunningSimulator, RawStream]]:
    sim = await start_simulator()
    async with serving_stream(sim, request.param, str(short_dir)) as url:
        yield sim, RawStream(url, short_dir)


@pytest.mark.parametrize("body", UNREADABLE)
async def test_datagram_says_400_parse_error_and_fifo_says_nothing(
    body: bytes, stream: tuple[RunningSimulator, RawStream]
) -> None:
    _sim, raw = stream

    reply = await raw.ask(body, timeout=0.5 if raw.url.startswith("fifo") else 2.0)

    assert reply == (None if raw.url.startswith("fifo://") else b"400 Parse_error")
    ok = await raw.ask(b'{"jsonrpc":"2.0","method":"uptime","id":8}')
    assert ok is not None and json.loads(ok)["id"] == 8
