"""Retry rules, counted at the server: only what was not sent is sent again, at any level."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import pytest

from opensips_mcp.catalog.levels import AccessLevel
from opensips_mcp.mi import (
    MICommandError,
    MICommandNotFound,
    MIConnectionError,
    MIHTTPError,
    MIInvalidParams,
    MIOutcomeUnknown,
    MIProtocolError,
    MIRequestTooLarge,
    MITimeoutError,
)

from .conftest import ClientFactory, ServerFactory
from .failures import NO_GOOD_ANSWER, failing_first, no_answer
from .rawserver import RawMIServer, Received, Reply

WRITE_LEVELS = [AccessLevel.WRITE, AccessLevel.DESTRUCTIVE, AccessLevel.ADMIN]


class CountingRandom:
    """A backoff random source that records its calls and returns a fixed fraction."""

    def __init__(self, fraction: float = 0.5) -> None:
        self.fraction = fraction
        self.calls: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.calls.append((a, b))
        return a + (b - a) * self.fraction


# failure -> the error a read that met it raises (it is never re-sent)
READ_ERRORS: dict[str, type[Exception]] = {
    "http_500": MIHTTPError,
    "reset": MIConnectionError,
    "close_without_answer": MIConnectionError,
    "read_timeout": MITimeoutError,
    "truncated_body": MIProtocolError,
    "not_json": MIProtocolError,
    "wrong_id": MIProtocolError,
    "not_jsonrpc": MIProtocolError,
}


@pytest.mark.parametrize("failure", sorted(NO_GOOD_ANSWER))
async def test_read_that_reached_the_server_is_not_resent_after_no_good_answer(
    failure: str, make_server: ServerFactory, make_client: ClientFactory
) -> None:
    # OpenSIPS runs MI commands one at a time: a sent read may have run or still be
    # running, and a second copy would run (again) behind it.
    handler, cause = NO_GOOD_ANSWER[failure]
    server = await make_server(failing_first(handler, times=1))
    mi = make_client(server.url, read_timeout=0.3, max_attempts=3)

    with pytest.raises(READ_ERRORS[failure]) as caught:
        await asyncio.wait_for(mi.call("uptime", level=AccessLevel.READ), 3)

    assert len(server.requests) == 1
    assert caught.value.attempts == 1  # type: ignore[attr-defined]
    if READ_ERRORS[failure] is MIHTTPError:
        assert getattr(caught.value, "status", None) == 500
    else:
        assert getattr(caught.value, "cause", None) == cause


@pytest.mark.parametrize("level", WRITE_LEVELS)
@pytest.mark.parametrize("failure", sorted(NO_GOOD_ANSWER))
async def test_write_is_not_resent_after_a_failed_attempt(
    failure: str, level: AccessLevel, make_server: ServerFactory, make_client: ClientFactory
) -> None:
    handler, cause = NO_GOOD_ANSWER[failure]
    server = await make_server(failing_first(handler, times=1))
    mi = make_client(server.url)

    with pytest.raises(MIOutcomeUnknown) as caught:
        await asyncio.wait_for(mi.call("ds_set_state", {"state": "i"}, level=level), 3)

    assert len(server.requests) == 1
    assert caught.value.attempts == 1
    assert caught.value.cause == cause
    assert caught.value.method == "ds_set_state"


async def test_read_whose_answer_is_late_is_sent_once_whatever_max_attempts(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = await make_server(no_answer)
    mi = make_client(server.url, read_timeout=0.2, total_timeout=2.0, max_attempts=10)

    with pytest.raises(MITimeoutError) as caught:
        await asyncio.wait_for(mi.call("t_hash", level=AccessLevel.READ), 1)

    assert caught.value.cause == "read_timeout"
    assert caught.value.attempts == 1
    assert len(server.requests) == 1


@pytest.mark.parametrize("level", [AccessLevel.READ, *WRITE_LEVELS])
@pytest.mark.parametrize(
    ("code", "error"),
    [(-32601, MICommandNotFound), (-32602, MIInvalidParams), (404, MICommandError)],
)
async def test_jsonrpc_error_is_an_answer_and_is_not_resent(
    level: AccessLevel,
    code: int,
    error: type[MICommandError],
    make_server: ServerFactory,
    make_client: ClientFactory,
) -> None:
    async def answer_error(request: Received, reply: Reply) -> None:
        reply.error(request, code, "Failed", data="Named parameters do not match")

    server = await make_server(answer_error)
    mi = make_client(server.url)

    with pytest.raises(error) as caught:
        await mi.call("dlg_end_dlg", {"dialog_id": "1.2"}, level=level)

    assert type(caught.value) is error
    assert len(server.requests) == 1
    assert (caught.value.code, caught.value.data) == (code, "Named parameters do not match")
    assert caught.value.attempts == 1


async def test_jsonrpc_error_with_null_id_is_an_answer(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    async def parse_error(request: Received, reply: Reply) -> None:
        reply.json(
            {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}
        )

    server = await make_server(parse_error)
    mi = make_client(server.url)

    with pytest.raises(MICommandError) as caught:
        await mi.call("uptime", level=AccessLevel.READ)

    assert caught.value.code == -32700
    assert len(server.requests) == 1


@pytest.mark.parametrize("level", [AccessLevel.READ, AccessLevel.WRITE])
@pytest.mark.parametrize("status", [400, 404, 405])
async def test_http_4xx_is_an_answer_and_is_not_resent(
    level: AccessLevel, status: int, make_server: ServerFactory, make_client: ClientFactory
) -> None:
    async def refuse(request: Received, reply: Reply) -> None:
        reply.chunked_headers(status)
        await reply.hang()

    server = await make_server(refuse)
    mi = make_client(server.url)

    expected = MIRequestTooLarge if status == 400 else MIHTTPError
    with pytest.raises(expected) as caught:
        await asyncio.wait_for(mi.call("uptime", level=level), 1)

    # mi_http answers a page-less 400 only when httpd dropped the body (too large)
    assert getattr(caught.value, "status", 400) == status
    assert caught.value.attempts == 1
    assert len(server.requests) == 1


def closed_port() -> int:
    """A 127.0.0.1 port that was just closed: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("level", [AccessLevel.READ, *WRITE_LEVELS])
async def test_refused_connection_is_retried_at_any_level_until_max_attempts(
    level: AccessLevel, make_client: ClientFactory
) -> None:
    rng = CountingRandom()
    mi = make_client(f"http://127.0.0.1:{closed_port()}/mi", rng=rng, max_attempts=4)

    with pytest.raises(MIConnectionError) as caught:
        await asyncio.wait_for(mi.call("ds_set_state", {}, level=level), 2)

    assert caught.value.cause == "refused"
    assert caught.value.attempts == 0
    assert len(rng.calls) == 3  # a backoff before each of the 3 retries, then it gave up


@pytest.mark.parametrize("level", WRITE_LEVELS)
async def test_write_refused_once_is_sent_once_when_the_server_comes_up(
    level: AccessLevel, make_server: ServerFactory, make_client: ClientFactory
) -> None:
    port = closed_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server_up: list[asyncio.Task[RawMIServer]] = []

    class StartServerOnFirstBackoff(CountingRandom):
        def uniform(self, a: float, b: float) -> float:
            if not server_up:
                listener.bind(("127.0.0.1", port))
                listener.listen()
                server_up.append(asyncio.create_task(make_server(sock=listener)))
            return super().uniform(a, b)

    rng = StartServerOnFirstBackoff(fraction=1.0)
    mi = make_client(f"http://127.0.0.1:{port}/mi", rng=rng, backoff_base=0.05, backoff_max=0.05)

    resp = await asyncio.wait_for(mi.call("ds_set_state", {}, level=level), 2)

    server = await asyncio.wait_for(server_up[0], 1)
    assert resp.attempts == 1
    assert len(rng.calls) == 1  # refused once, then sent once
    assert len(server.requests) == 1


async def test_waiting_too_long_for_an_in_flight_slot_counts_as_not_sent(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = await make_server(no_answer)
    mi = make_client(
        server.url, max_in_flight=1, pool_timeout=0.1, read_timeout=2.0, total_timeout=2.0
    )
    holder = asyncio.create_task(mi.call("dlg_list", level=AccessLevel.READ))
    await server.wait_for(lambda: len(server.requests) == 1)

    with pytest.raises(MIConnectionError) as caught:
        await asyncio.wait_for(mi.call("ds_set_state", {}, level=AccessLevel.WRITE), 1)

    assert caught.value.cause == "pool_timeout"
    assert caught.value.attempts == 0
    assert len(server.requests) == 1
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder


async def test_read_sent_once_stops_at_the_total_deadline(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = await make_server(no_answer)
    mi = make_client(server.url, read_timeout=5.0, total_timeout=0.3, max_attempts=10)
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(MITimeoutError) as caught:
        await asyncio.wait_for(mi.call("uptime", level=AccessLevel.READ), 0.3 + 0.25)

    assert loop.time() - started >= 0.25
    assert caught.value.cause == "deadline"
    assert len(server.requests) == 1


async def test_sent_write_that_meets_the_deadline_is_unknown(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = await make_server(no_answer)
    mi = make_client(server.url, read_timeout=5.0, total_timeout=0.3)

    with pytest.raises(MIOutcomeUnknown) as caught:
        await asyncio.wait_for(mi.call("ds_set_state", {}, level=AccessLevel.WRITE), 0.3 + 0.25)

    assert caught.value.cause == "deadline"
    assert len(server.requests) == 1


async def test_backoff_that_would_pass_the_deadline_is_not_slept(
    make_client: ClientFactory,
) -> None:
    rng = CountingRandom(fraction=1.0)
    mi = make_client(
        f"http://127.0.0.1:{closed_port()}/mi",
        rng=rng,
        backoff_base=10.0,
        backoff_max=10.0,
        total_timeout=0.5,
    )

    with pytest.raises(MIConnectionError) as caught:
        await asyncio.wait_for(mi.call("uptime", level=AccessLevel.READ), 0.5)

    assert caught.value.cause == "refused"
    assert rng.calls == [(0.0, 10.0)]


async def test_write_on_a_connection_the_server_closed_after_its_request_is_not_resent(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    async def close_on_write(request: Received, reply: Reply) -> None:
        if request.method == "uptime":
            reply.result(request)
        else:
            reply.close()

    server = await make_server(close_on_write)
    mi = make_client(server.url)
    await mi.call("uptime", level=AccessLevel.READ)

    with pytest.raises(MIOutcomeUnknown) as caught:
        await mi.call("ds_set_state", {}, level=AccessLevel.WRITE)

    assert caught.value.cause == "reset"
    assert [r.method for r in server.requests] == ["uptime", "ds_set_state"]
    assert server.connections == 1


async def test_write_on_a_pooled_connection_already_closed_by_the_server_goes_on_a_new_one(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    async def close_after_reply(request: Received, reply: Reply) -> None:
        reply.result(request)
        reply.close()

    server = await make_server(close_after_reply)
    mi = make_client(server.url)
    await mi.call("uptime", level=AccessLevel.READ)

    resp = await mi.call("ds_set_state", {}, level=AccessLevel.WRITE)

    assert resp.result == "OK"
    assert [r.method for r in server.requests] == ["uptime", "ds_set_state"]
    assert server.connections == 2


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A 127.0.0.1 port whose listen queue is full: new connections hang in connect."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


@pytest.mark.parametrize("level", [AccessLevel.READ, AccessLevel.WRITE])
async def test_connect_timeout_counts_as_not_sent_and_is_retried_at_any_level(
    level: AccessLevel, unanswered_port: int, make_client: ClientFactory
) -> None:
    rng = CountingRandom()
    mi = make_client(
        f"http://127.0.0.1:{unanswered_port}/mi", rng=rng, connect_timeout=0.1, max_attempts=3
    )

    with pytest.raises(MIConnectionError) as caught:
        await asyncio.wait_for(mi.call("ds_set_state", {}, level=level), 1)

    assert caught.value.cause == "connect_timeout"
    assert caught.value.attempts == 0
    assert len(rng.calls) == 2


async def test_callers_queued_behind_others_longer_than_connect_timeout_all_succeed_once(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    # Regression: waiting on this side for a slot is local queueing, not a network failure;
    # bounding it by connect_timeout made healthy calls fail under load.
    release = asyncio.Event()

    async def held(request: Received, reply: Reply) -> None:
        await release.wait()
        reply.result(request, "OK")

    server = await make_server(held)
    mi = make_client(
        server.url, max_in_flight=2, pool_size=2, connect_timeout=0.01, pool_timeout=5.0
    )
    calls = [asyncio.create_task(mi.call("uptime", level=AccessLevel.READ)) for _ in range(6)]
    await server.wait_for(lambda: len(server.requests) == 2)
    # Let the queued callers wait well past connect_timeout before anything is answered.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.Event().wait(), 0.1)
    release.set()

    answers = await asyncio.wait_for(asyncio.gather(*calls), 5)

    assert [a.attempts for a in answers] == [1] * 6
    assert len(server.requests) == 6
