"""mi_fifo's reading of its FIFO, and the requests that crash OpenSIPS, as real servers
showed them (3.6.8, 3.4.18 and 4.0.1 labs, 2026-12-05; ``modules/mi_fifo/fifo_fnc.c``):

* a request ends where its JSON value ends, not at a new line: a request written over
  several lines is one request, two requests in one write are two;
* an ``id`` mi_fifo cannot print gets the text ``failed to print response``;
* a reply path (``reply_dir`` + name) over 127 bytes: dropped, unrun, unanswered;
* a request that parses but has no string ``method`` segfaults mi_fifo (every version) and
  4.0's mi_datagram, and OpenSIPS stops; 3.4/3.6's mi_datagram answer it ``-32600``;
* duplicate param names count as params: one param given twice matches no one-param recipe.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opensips_sim.runner import RunningSimulator, serving_stream
from opensips_sim.streams import take_requests

from .conftest import StartSimulator
from .rawhttp import exchange, post, rpc
from .test_cli import TIMEOUT, start
from .test_streams import RawStream, short_dir  # noqa: F401  (fixture)

UPTIME = b'{"jsonrpc":"2.0","method":"uptime","id":1}'
DIR = len(b"/tmp/") + 1  # reply_dir and its NUL


def test_a_request_written_over_several_lines_is_one_request() -> None:
    chunk = b':r1:{\n  "jsonrpc": "2.0",\n  "method": "uptime",\n  "id": 1\n}\n'

    frames, kept = take_requests(b"", chunk, DIR)

    assert [name for name, _ in frames] == [b"r1"]
    assert json.loads(frames[0][1])["method"] == "uptime"
    assert kept == b""


def test_two_requests_in_one_read_run_in_order_with_or_without_a_new_line() -> None:
    frames, kept = take_requests(b"", b":a:%s:b:%s\n" % (UPTIME, UPTIME.replace(b"1}", b"2}")), DIR)

    assert [(name, json.loads(body)["id"]) for name, body in frames] == [(b"a", 1), (b"b", 2)]
    assert kept == b""


def test_a_request_cut_by_the_read_after_another_is_completed_by_the_next_read() -> None:
    whole = b":a:%s\n:b:%s\n" % (UPTIME, UPTIME)
    cut = len(whole) - 10

    first, kept = take_requests(b"", whole[:cut], DIR)
    second, kept_after = take_requests(kept, whole[cut:], DIR)

    assert [name for name, _ in first] == [b"a"]
    assert [name for name, _ in second] == [b"b"]
    assert kept_after == b""


@pytest.mark.parametrize(
    "chunk",
    [
        b":a:" + UPTIME[:-5],  # a fresh read holding half a request: "cannot parse command"
        b"junk:a:" + UPTIME,  # not starting with ':'
        b":a.b:" + UPTIME,  # forbidden name
        b":" + b"n" * 123 + b":" + UPTIME,  # /tmp/ + 123 + NUL > 128: "fifoname too long"
    ],
)
def test_what_mi_fifo_drops_runs_nothing_and_is_not_kept(chunk: bytes) -> None:
    assert take_requests(b"", chunk, DIR) == ([], b"")


def test_the_longest_reply_name_mi_fifo_takes_in_tmp_is_122_bytes() -> None:
    frames, _ = take_requests(b"", b":" + b"n" * 122 + b":" + UPTIME, DIR)
    assert len(frames) == 1


@pytest.fixture
async def fifo(
    start_simulator: StartSimulator,
    short_dir: Path,  # noqa: F811
) -> AsyncIterator[tuple[RunningSimulator, RawStream]]:
    sim = await start_simulator()
    async with serving_stream(sim, "fifo", str(short_dir)) as url:
        yield sim, RawStream(url, short_dir)


async def test_a_pretty_printed_request_is_answered_over_fifo(
    fifo: tuple[RunningSimulator, RawStream],
) -> None:
    _sim, raw = fifo
    reply = await raw.ask(b'  \n{\n "jsonrpc": "2.0",\n "method": "uptime",\n "id": 4\n}\n  ')
    assert reply is not None and json.loads(reply)["id"] == 4


@pytest.mark.parametrize("ident", [b'{"a":1}', b"[1]", b"true"])
async def test_an_id_mi_fifo_cannot_print_gets_failed_to_print_response(
    ident: bytes, fifo: tuple[RunningSimulator, RawStream]
) -> None:
    _sim, raw = fifo
    reply = await raw.ask(b'{"jsonrpc":"2.0","method":"uptime","id":%s}' % ident)
    assert reply == b"failed to print response"


CRASHING = [
    b'[{"jsonrpc":"2.0","method":"uptime","id":1}]',
    b'{"jsonrpc":"2.0","id":1}',
    b'{"jsonrpc":"2.0","method":5,"id":1}',
    b"{}",
    b"null",
]


@pytest.mark.parametrize("body", CRASHING)
async def test_a_request_without_a_string_method_crashes_the_server_over_fifo(
    body: bytes, fifo: tuple[RunningSimulator, RawStream]
) -> None:
    sim, raw = fifo
    reasons: list[str] = []
    sim.sim.crash_hooks.append(reasons.append)

    assert await raw.ask(body, timeout=0.5) is None

    assert len(reasons) == 1 and "mi_fifo" in reasons[0]
    assert sim.journal()[-1]["outcome"] == "crashed"
    # down on every transport until reset (a restart)
    assert await raw.ask(UPTIME, timeout=0.5) is None
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await exchange(sim.port, post(rpc("uptime")))
    sim.sim.reset()
    _head, answer = await exchange(sim.port, post(rpc("uptime")))
    assert "result" in json.loads(answer)


@pytest.mark.parametrize(
    ("version", "crashes"), [("3.4.18", False), ("3.6.8", False), ("4.0.1", True)]
)
async def test_mi_datagram_crashes_on_it_from_4_0_and_answers_invalid_request_before(
    version: str,
    crashes: bool,
    start_simulator: StartSimulator,
    short_dir: Path,  # noqa: F811
) -> None:
    sim = await start_simulator(opensips_version=version)
    async with serving_stream(sim, "udp", str(short_dir)) as url:
        reply = await RawStream(url, short_dir).ask(CRASHING[0], timeout=0.5)

    if crashes:
        assert reply is None
        assert sim.sim.crashed is not None and "mi_datagram" in sim.sim.crashed
    else:
        assert reply is not None and json.loads(reply)["error"]["code"] == -32600
        assert sim.sim.crashed is None


async def test_a_param_given_twice_is_two_params(sim: RunningSimulator) -> None:
    body = (
        b'{"jsonrpc":"2.0","method":"get_statistics",'
        b'"params":{"statistics":["rcv_requests"],"statistics":["x"]},"id":1}'
    )
    _head, answer = await exchange(sim.port, post(body))
    assert json.loads(answer)["error"]["code"] == -32602


async def test_opensips_sim_exits_when_a_request_crashes_it(short_dir: Path) -> None:  # noqa: F811
    fifo_path = short_dir / "mi.fifo"
    process, _http = await start("--fifo", str(fifo_path), "--fifo-reply-dir", f"{short_dir}/")
    try:
        assert process.stdout is not None
        await asyncio.wait_for(process.stdout.readline(), TIMEOUT)  # the FIFO's URL
        url = f"fifo://{fifo_path}?reply_dir={short_dir}/"
        assert await RawStream(url, short_dir).ask(CRASHING[1], timeout=0.5) is None
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 1
        assert process.stderr is not None
        assert await process.stderr.read()  # the reason
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
