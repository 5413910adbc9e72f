"""The simulator over mi_fifo and mi_datagram framing: same state, faults and journal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from opensips_sim.runner import RunningSimulator, serving_stream

from .conftest import StartSimulator
from .rawhttp import exchange, post, rpc


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sim-s-", dir="/tmp"))  # unix paths are short
    yield path
    shutil.rmtree(path, ignore_errors=True)


class RawStream:
    """Sends one raw MI request over a simulator stream and returns the raw reply."""

    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.directory = directory
        self.serial = 0

    async def ask(self, payload: bytes, timeout: float = 2.0) -> bytes | None:
        """The reply bytes, or None when none came within ``timeout``."""
        self.serial += 1
        if self.url.startswith("fifo://"):
            return await self._fifo(payload, timeout)
        return await self._datagram(payload, timeout)

    async def _fifo(self, payload: bytes, timeout: float) -> bytes | None:
        fifo, _, reply_dir = self.url[len("fifo://") :].partition("?reply_dir=")
        name = f"reply{self.serial}"
        path = Path(reply_dir) / name
        os.mkfifo(path)
        reply_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b":%s:%s\n" % (name.encode(), payload))
        os.close(fd)
        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []
        done = loop.create_future()

        def readable() -> None:
            with contextlib.suppress(BlockingIOError):
                while chunk := os.read(reply_fd, 65536):
                    chunks.append(chunk)
                if not done.done():
                    done.set_result(None)

        loop.add_reader(reply_fd, readable)
        try:
            await asyncio.wait_for(done, timeout)
            return b"".join(chunks)
        except TimeoutError:
            return None
        finally:
            loop.remove_reader(reply_fd)
            os.close(reply_fd)
            path.unlink()

    async def _datagram(self, payload: bytes, timeout: float) -> bytes | None:
        loop = asyncio.get_running_loop()
        if self.url.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(str(self.directory / f"c{self.serial}.sock"))
            target: Any = self.url[len("unix://") :]
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            host, port = self.url[len("udp://") :].rsplit(":", 1)
            target = (host, int(port))
        sock.setblocking(False)
        try:
            sock.sendto(payload, target)
            return await asyncio.wait_for(loop.sock_recv(sock, 70000), timeout)
        except TimeoutError:
            return None
        finally:
            sock.close()


@pytest.fixture(params=["fifo", "udp", "unix"])
async def stream(
    request: pytest.FixtureRequest, start_simulator: StartSimulator, short_dir: Path
) -> AsyncIterator[tuple[RunningSimulator, RawStream]]:
    sim = await start_simulator()
    async with serving_stream(sim, request.param, str(short_dir)) as url:
        yield sim, RawStream(url, short_dir)


async def test_answers_and_journal_name_the_transport(
    stream: tuple[RunningSimulator, RawStream],
) -> None:
    sim, raw = stream

    reply = await raw.ask(rpc("uptime", ident=7))

    assert reply is not None
    assert json.loads(reply)["id"] == 7
    assert "Up time" in json.loads(reply)["result"]
    entry = sim.journal()[-1]
    assert entry["method"] == "uptime"
    assert entry["http_method"] == raw.url.split(":", 1)[0].upper()
    assert entry["outcome"] == "answered"


async def test_one_journal_and_state_with_the_http_endpoint(
    stream: tuple[RunningSimulator, RawStream],
) -> None:
    sim, raw = stream
    await exchange(sim.port, post(rpc("uptime")))

    reply = await raw.ask(rpc("reset_all_statistics"))

    assert reply is not None and "result" in json.loads(reply)
    methods = [(e["http_method"], e["method"]) for e in sim.journal()]
    assert methods[-2:] == [
        ("POST", "uptime"),
        (raw.url.split(":")[0].upper(), "reset_all_statistics"),
    ]
    assert sim.journal()[-1]["applied"] is True


async def test_a_stalled_write_gets_no_reply_and_is_journalled_once(
    stream: tuple[RunningSimulator, RawStream],
) -> None:
    sim, raw = stream
    sim.add_fault({"command": "reset_all_statistics", "action": "stall", "when": "after_apply"})

    reply = await raw.ask(rpc("reset_all_statistics"), timeout=0.3)

    assert reply is None
    entries = [e for e in sim.journal() if e["method"] == "reset_all_statistics"]
    assert len(entries) == 1
    assert entries[0]["applied"] is True
    assert entries[0]["outcome"] == "stalled"


async def test_a_lost_answer_is_no_json_rpc_reply(
    stream: tuple[RunningSimulator, RawStream],
) -> None:
    sim, raw = stream
    sim.add_fault({"command": "uptime", "action": "http_500", "when": "after_apply"})

    reply = await raw.ask(rpc("uptime"), timeout=0.5)

    if raw.url.startswith("fifo://"):
        assert reply == b"failed to build response"  # mi_fifo's mi_throw_error text
    else:
        assert reply == b"500 Internal error"  # mi_datagram's MI_INTERNAL_ERROR


async def test_datagram_that_does_not_parse_gets_parse_error(
    start_simulator: StartSimulator, short_dir: Path
) -> None:
    sim = await start_simulator()
    async with serving_stream(sim, "udp", str(short_dir)) as url:
        reply = await RawStream(url, short_dir).ask(b"not json")

    assert reply == b"400 Parse_error"


@pytest.mark.parametrize("kind", ["udp", "unix"])
async def test_an_answer_larger_than_a_datagram_is_500_internal_error(
    kind: str, start_simulator: StartSimulator, short_dir: Path
) -> None:
    """As a real 3.6.8 did for a 139 KB ul_show_contact: mi_datagram cannot print it into
    one datagram and sends ``500 Internal error`` instead (the command ran)."""
    sim = await start_simulator()
    for i in range(250):
        contact = f"sip:bulk{i}-{'p' * 300}@127.0.0.1:5999"
        params = {
            "table_name": "location",
            "aor": "bulk",
            "contact": contact,
            "expires": 3600,
            "q": "1",
            "flags": 0,
            "cflags": "0",
            "methods": 0,
        }
        head, _ = await exchange(sim.port, post(rpc("ul_add", params)))
        assert head.status == 200
    async with serving_stream(sim, kind, str(short_dir)) as url:
        raw = RawStream(url, short_dir)
        big = await raw.ask(rpc("ul_show_contact", {"table_name": "location", "aor": "bulk"}))
        small = await raw.ask(rpc("ul_show_contact", {"table_name": "location", "aor": "alice"}))

    assert big == b"500 Internal error"
    assert small is not None and json.loads(small)["result"]["Contacts"]
    assert sim.journal()[-2]["method"] == "ul_show_contact"
