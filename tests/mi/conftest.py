"""Fixtures for MI client tests: raw servers on 127.0.0.1 port 0, and fast clients."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import pytest

from opensips_mcp.mi import MIClient, MISettings

from .rawserver import Handler, RawMIServer, answer_ok

FAST: dict[str, Any] = {
    "connect_timeout": 0.5,
    "read_timeout": 0.3,
    "total_timeout": 3.0,
    "max_attempts": 3,
    "backoff_base": 0.01,
    "backoff_max": 0.02,
}

ServerFactory = Callable[..., Awaitable[RawMIServer]]

MI_TEST_LOOP = os.environ.get("MI_TEST_LOOP", "asyncio")
"""Event loop of these tests: ``asyncio`` (default) or ``uvloop`` (``MI_TEST_LOOP=uvloop``)."""


def pytest_asyncio_loop_factories(config: Any, item: Any) -> Mapping[str, Any]:
    """Run the MI tests on uvloop when ``MI_TEST_LOOP=uvloop`` (pytest-asyncio hook)."""
    if MI_TEST_LOOP == "asyncio":
        return {"asyncio": asyncio.new_event_loop}
    if MI_TEST_LOOP != "uvloop":
        raise pytest.UsageError(f"MI_TEST_LOOP must be asyncio or uvloop, not {MI_TEST_LOOP!r}")
    uvloop = pytest.importorskip("uvloop")
    return {"uvloop": uvloop.new_event_loop}


ClientFactory = Callable[..., MIClient]


@pytest.fixture
async def make_server() -> AsyncIterator[ServerFactory]:
    """Start raw servers (handler given per test); all are stopped at the end."""
    servers: list[RawMIServer] = []

    async def make(
        handler: Handler = answer_ok,
        sock: socket.socket | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> RawMIServer:
        server = RawMIServer(handler)
        await server.start(sock, tls)
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """Clients with small timeouts (overridable); all are closed at the end."""
    clients: list[MIClient] = []

    def make(url: str, rng: Any = None, **overrides: Any) -> MIClient:
        client = MIClient(MISettings(url=url, **{**FAST, **overrides}), rng=rng)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
def threaded_server() -> Iterator[RawMIServer]:
    """A server answering every request, on its own event loop in its own thread.

    Sharing the test's loop, a server only reads after the client's writes of one loop
    iteration are all done, so it could not see a request split into two writes; from
    its own thread it sees most such splits as separate chunks.
    """
    ready = threading.Event()
    loop = asyncio.new_event_loop()  # the server's loop: plain asyncio, whatever the client's
    server = RawMIServer(answer_ok)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="raw-mi-server", daemon=True)
    thread.start()
    assert ready.wait(5), "threaded server did not start"
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
