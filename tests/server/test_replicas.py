"""Several server replicas behind a round-robin load balancer without sticky sessions
(``--stateless``): every request may land on another replica, and list cursors still
walk the whole list with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from opensips_mcp.gate import Role
from opensips_mcp.settings import Settings
from opensips_mcp.transport_http import build_http_app, make_uvicorn
from opensips_sim.runner import RunningSimulator, running_simulator
from opensips_sim.state.usrloc import UsrlocState

from .conftest import FAST_MI
from .helpers import error_code

CAPTURE_EPOCH = 1_795_689_764.0
USERS = 23


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with running_simulator("quiet", seed=1, frozen_at=CAPTURE_EPOCH) as running:
        usrloc = running.world.get(UsrlocState)
        for n in range(USERS):
            usrloc.add(
                f"user{n:02d}",
                f"sip:user{n:02d}@127.0.0.1:{6000 + n}",
                expires_in=3600,
                q=-1,
                flags=0,
                cflags="",
                methods=0xFFFFFFFF,
            )
        yield running


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


class RoundRobin:
    """A TCP load balancer on 127.0.0.1: each new connection goes to the next backend."""

    def __init__(self, ports: list[int]) -> None:
        self._next = itertools.cycle(ports)
        self.served: list[int] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = next(self._next)
        self.served.append(port)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        pipes = [
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        await asyncio.gather(*pipes)
        self._tasks.difference_update(pipes)

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.wait_closed()


@contextlib.asynccontextmanager
async def replica(settings: Settings) -> AsyncIterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = int(sock.getsockname()[1])
    app, _ = build_http_app(settings.with_changes(port=port), None)
    server = make_uvicorn(settings.with_changes(port=port), app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


def replica_settings(sim: RunningSimulator, audit: Path, stateless: bool = True) -> Settings:
    return Settings(
        transport="http",
        host="127.0.0.1",
        mi_url=sim.url,
        role=Role.VIEWER,
        stateless=stateless,
        audit_log=audit,
        log_level="WARNING",
        **FAST_MI,  # type: ignore[arg-type]
    )


def client_through(port: int) -> Client:
    # one connection per request, so the balancer's round robin alternates replicas
    http = httpx2.AsyncClient(timeout=20, limits=httpx2.Limits(max_keepalive_connections=0))
    return Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http))


async def walk(client: Client, limit: int) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    cursor: str | None = None
    for _ in range(100):
        args: dict[str, Any] = {"limit": limit}
        if cursor:
            args["cursor"] = cursor
        result = await client.call_tool("registrations_list", args)
        assert not result.is_error, result.content
        page = result.structured_content
        assert page is not None
        seen += [(c["aor"], c["contact"]) for c in page["contacts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the walk did not end")


async def test_two_stateless_replicas_walk_registration_pages_alternately(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    audits = [tmp_path / "replica-a.jsonl", tmp_path / "replica-b.jsonl"]
    async with (
        replica(replica_settings(sim, audits[0])) as port_a,
        replica(replica_settings(sim, audits[1])) as port_b,
    ):
        balancer = RoundRobin([port_a, port_b])
        port = await balancer.start()
        try:
            async with client_through(port) as client:
                seen = await walk(client, limit=5)
        finally:
            await balancer.close()
    expected = {
        (aor, c["contact"])
        for aor, contacts in sim.sim.state()["parts"]["usrloc"]["aors"].items()
        for c in contacts
    }
    assert len(seen) == len(set(seen)) == len(expected) >= USERS
    assert set(seen) == expected
    assert {port_a, port_b} <= set(balancer.served)
    pages_per_replica = [
        sum(
            1
            for line in path.read_text().splitlines()
            if json.loads(line).get("tool") == "registrations_list"  # not file records
        )
        for path in audits
    ]
    assert all(count >= 2 for count in pages_per_replica), pages_per_replica


async def test_a_snapshot_cursor_is_refused_by_a_stateless_replica_and_nothing_is_read(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    async with (
        replica(replica_settings(sim, tmp_path / "stateful.jsonl", stateless=False)) as stateful,
        replica(replica_settings(sim, tmp_path / "stateless.jsonl")) as stateless,
    ):
        async with client_through(stateful) as client:
            first = await client.call_tool("registrations_list", {"limit": 5})
        cursor = (first.structured_content or {})["next_cursor"]
        assert cursor
        before = len(sim.journal())
        async with client_through(stateless) as client:
            refused = await client.call_tool("registrations_list", {"limit": 5, "cursor": cursor})
    assert error_code(refused) == "invalid_params"
    assert len(sim.journal()) == before
