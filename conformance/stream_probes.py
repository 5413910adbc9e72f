"""Raw mi_fifo and mi_datagram probes for the differential: the same bytes written to the
real server's FIFO or datagram socket and to the simulator's, and what came back compared
(see `conformance.wire_probes` for the bodies and what is never sent).

FIFO probes frame ``:<reply name>:<body>`` themselves: a request written over several
lines, two requests in one write, reply names of exactly the longest length mi_fifo takes
in the server's ``reply_dir`` and one byte more, an ``id`` it cannot print. Datagram
probes add a UDP datagram larger than mi_datagram reads (65,457 bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.wire_probes import ENVELOPES, NO_METHOD, SILENCE_SECONDS, answer
from opensips_sim.simulator import Settings as SimSettings
from opensips_sim.simulator import Simulator
from opensips_sim.streams import MAX_MI_FILENAME, DatagramServer, FIFOServer

Frame = Callable[[list[bytes]], bytes]
"""Reply names -> the bytes written to the FIFO."""
OVERSIZED_DATAGRAM = 65_500
"""Bytes of the oversized UDP probe: over mi_datagram's 65,457, under UDP's 65,507."""


@dataclass(frozen=True)
class FIFOProbe:
    """``replies`` reply FIFOs (names of ``name_size`` bytes, else random ones), and the
    bytes written to the server's FIFO."""

    frame: Frame
    replies: int = 1
    name_size: int | None = None


def _one(body: bytes) -> Frame:
    return lambda names: b":%s:%s\n" % (names[0], body)


def fifo_probes(reply_dir: str) -> dict[str, FIFOProbe]:
    """Name -> probe, for a server whose mi_fifo ``reply_dir`` is ``reply_dir``."""
    longest = MAX_MI_FILENAME - 1 - len(os.fsencode(reply_dir))
    pretty = b'  \n{\n  "jsonrpc": "2.0",\n  "method": "uptime",\n  "id": 3\n}\n'
    found = {f"fifo {name}": FIFOProbe(_one(body)) for name, body in ENVELOPES.items()}
    found["fifo over several lines"] = FIFOProbe(_one(pretty))
    found["fifo two in one write"] = FIFOProbe(
        lambda n: b":%s:%s:%s:%s\n" % (n[0], ENVELOPES["ok"], n[1], ENVELOPES["id string"]),
        replies=2,
    )
    found["fifo longest reply name"] = FIFOProbe(_one(ENVELOPES["ok"]), name_size=longest)
    found["fifo reply name one byte longer"] = FIFOProbe(
        _one(ENVELOPES["ok"]), name_size=longest + 1
    )
    return found


def _names(count: int, size: int | None) -> list[bytes]:
    names = []
    for _ in range(count):
        name = "probe" + secrets.token_hex(8)
        if size is not None:
            name = (name + "x" * size)[:size]
        names.append(name.encode())
    return names


async def fifo_outcome(fifo: str, reply_dir: str, probe: FIFOProbe) -> str:
    """What came back to each reply FIFO of ``probe``, ``|``-joined: `answer` or ``no reply``."""
    names = _names(probe.replies, probe.name_size)
    paths = [Path(reply_dir) / name.decode() for name in names]
    fds: list[int] = []
    loop = asyncio.get_running_loop()
    try:
        for path in paths:
            os.mkfifo(path, 0o600)
            fds.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, probe.frame(names))
        finally:
            os.close(fd)
        return " | ".join([await _read_reply(loop, reply_fd) for reply_fd in fds])
    finally:
        for reply_fd in fds:
            os.close(reply_fd)
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


async def _read_reply(loop: asyncio.AbstractEventLoop, fd: int) -> str:
    """The reply on ``fd``, read to its writer's close; ``no reply`` after a silence."""
    chunks: list[bytes] = []
    opened = False
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        nonlocal opened
        try:
            while chunk := os.read(fd, 65536):
                opened = True
                chunks.append(chunk)
        except BlockingIOError:
            opened = True
            return
        if opened and not done.done():
            done.set_result(None)  # end of file after the writer came and went

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(asyncio.shield(done), SILENCE_SECONDS)
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(fd)
    return answer(b"".join(chunks)) if chunks else "no reply"


def datagram_probes(version: str, udp: bool) -> dict[str, bytes]:
    """Name -> datagram; the method-less bodies only where they are answered (3.x)."""
    found = {f"datagram {name}": body for name, body in ENVELOPES.items()}
    if not version.startswith("4."):
        found |= {f"datagram {name}": body for name, body in NO_METHOD.items()}
    if udp:
        pad = b"z" * (OVERSIZED_DATAGRAM - len(ENVELOPES["ok"]) - 20)
        found["datagram oversized"] = (
            b'{"jsonrpc":"2.0","method":"uptime","params":{"pad":"%s"},"id":1}' % pad
        )[:OVERSIZED_DATAGRAM]
    return found


async def datagram_outcome(address: Any, body: bytes, directory: str) -> str:
    """`answer` to ``body`` sent to ``address`` ((host, port) or a unix path), or ``no reply``."""
    loop = asyncio.get_running_loop()
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(directory, "p" + secrets.token_hex(6)))
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sock.sendto(body, address)
        try:
            return answer(await asyncio.wait_for(loop.sock_recv(sock, 70_000), SILENCE_SECONDS))
        except TimeoutError:
            return "no reply"
    finally:
        sock.close()


def datagram_address(text: str) -> Any:
    """``host:port`` -> (host, port); a path stays a path (a unix socket)."""
    if text.startswith("/"):
        return text
    host, port = text.rsplit(":", 1)
    return host, int(port)


async def compare(
    version: str, fifo: str | None, reply_dir: str, datagram: str | None
) -> dict[str, str]:
    """Probe name -> ``real ... | sim ...`` for every FIFO or datagram probe answered
    differently by the real server and by a simulator impersonating ``version``."""
    differences: dict[str, str] = {}
    sim = Simulator("quiet", seed=1, settings=SimSettings(opensips_version=version))
    with tempfile.TemporaryDirectory(prefix="probe-", dir="/tmp") as directory:
        if fifo:
            server = FIFOServer(sim, os.path.join(directory, "mi.fifo"), reply_dir)
            await server.start()
            try:
                for name, probe in fifo_probes(reply_dir).items():
                    real = await fifo_outcome(fifo, reply_dir, probe)
                    mine = await fifo_outcome(str(server.path), reply_dir, probe)
                    if real != mine:
                        differences[name] = f"real {real} | sim {mine}"
            finally:
                await server.close()
        if datagram:
            address = datagram_address(datagram)
            unix = isinstance(address, str)
            sim_server = (
                DatagramServer(sim, unix_path=os.path.join(directory, "mi.sock"))
                if unix
                else DatagramServer(sim, host="127.0.0.1", port=0)
            )
            port = await sim_server.start()
            mine_at: Any = str(sim_server.unix_path) if unix else ("127.0.0.1", port)
            try:
                for name, body in datagram_probes(version, udp=not unix).items():
                    real = await datagram_outcome(address, body, directory)
                    mine = await datagram_outcome(mine_at, body, directory)
                    if real != mine:
                        differences[name] = f"real {real} | sim {mine}"
            finally:
                await sim_server.close()
    return differences
