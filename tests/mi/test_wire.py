"""What the client puts on the wire, as the raw test server sees it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest

from opensips_mcp.catalog.levels import AccessLevel
from opensips_mcp.mi import MIHTTPError, MIOutcomeUnknown, MIProtocolError, MIRequestTooLarge

from .conftest import ClientFactory, ServerFactory
from .failures import Failure, failing_first, not_json, wrong_id
from .rawserver import RawMIServer, Received, Reply


@pytest.mark.parametrize("body_size", [0, 1_000, 16_000])
async def test_each_request_is_handed_to_the_socket_in_one_write(
    body_size: int,
    make_server: ServerFactory,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server below cannot see two writes made back to back (the kernel merges them
    # before it reads), so count the client's writes to the socket transport itself.
    if not isinstance(asyncio.get_running_loop(), asyncio.SelectorEventLoop):
        pytest.skip("counts writes of asyncio's own socket transport (uvloop: next test)")
    server = await make_server()
    port = int(server.url.split(":")[2].split("/")[0])
    writes: list[bytes] = []
    transport_class = asyncio.selector_events._SelectorSocketTransport
    original_write = transport_class.write
    original_writelines = transport_class.writelines

    def write(self: asyncio.Transport, data: Any) -> None:
        if self.get_extra_info("peername")[1] == port:
            writes.append(bytes(data))
        original_write(self, data)

    def writelines(self: asyncio.Transport, chunks: Any) -> None:
        chunks = [bytes(chunk) for chunk in chunks]
        if self.get_extra_info("peername")[1] == port:
            writes.append(b"".join(chunks))  # one sendmsg() where writelines is native
        original_writelines(self, chunks)

    monkeypatch.setattr(transport_class, "write", write)
    monkeypatch.setattr(transport_class, "writelines", writelines)
    mi = make_client(server.url)
    params = {"blob": "x" * body_size} if body_size else None

    for _ in range(3):
        await mi.call("uptime", params, level=AccessLevel.READ)

    assert writes == [request.raw for request in server.requests]


# Sizes well under the loopback MTU (64 KiB): a larger single write may still be read in
# pieces by a loaded receiver. The socket-write test above covers large bodies exactly.
@pytest.mark.parametrize("body_size", [0, 4_000, 16_000])
async def test_each_request_reaches_the_server_in_one_tcp_chunk(
    body_size: int, threaded_server: RawMIServer, make_client: ClientFactory
) -> None:
    mi = make_client(threaded_server.url)
    params = {"blob": "x" * body_size} if body_size else None

    for _ in range(20):  # on a reused connection, where split writes stall OpenSIPS
        await mi.call("uptime", params, level=AccessLevel.READ)

    requests = list(threaded_server.requests)
    assert threaded_server.connections == 1
    assert len(requests) == 20
    for request in requests:
        assert request.chunks == [request.raw]
        assert len(request.body) >= body_size


async def test_request_is_json_rpc_with_an_id_and_json_content_type(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = await make_server()
    mi = make_client(server.url)

    await mi.call("ds_set_state", {"state": "i", "group": 1}, level=AccessLevel.WRITE)
    await mi.call("which", ["uptime"], level=AccessLevel.READ)
    await mi.call("uptime", None, level=AccessLevel.READ)

    named, positional, bare = (r.payload for r in server.requests)
    assert named == {
        "jsonrpc": "2.0",
        "method": "ds_set_state",
        "params": {"state": "i", "group": 1},
        "id": named["id"],
    }
    assert positional["params"] == ["uptime"]
    assert "params" not in bare
    assert named["id"] < positional["id"] < bare["id"]
    for request in server.requests:
        assert request.head.startswith(b"POST /mi HTTP/1.1\r\n")
        assert b"\r\ncontent-type: application/json\r\n" in request.head.lower()


async def test_sequential_calls_share_one_keep_alive_connection(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = await make_server()
    mi = make_client(server.url)

    for _ in range(10):
        await mi.call("uptime", level=AccessLevel.READ)

    assert len(server.requests) == 10
    assert server.connections == 1


@pytest.mark.parametrize(
    ("status", "level", "error"),
    [
        (500, AccessLevel.READ, MIHTTPError),
        (404, AccessLevel.READ, MIHTTPError),
        (202, AccessLevel.WRITE, MIOutcomeUnknown),
        (500, AccessLevel.WRITE, MIOutcomeUnknown),
    ],
)
async def test_reply_other_than_200_is_judged_without_waiting_for_its_body(
    status: int,
    level: AccessLevel,
    error: type[Exception],
    make_server: ServerFactory,
    make_client: ClientFactory,
) -> None:
    async def headers_then_silence(request: Received, reply: Reply) -> None:
        reply.chunked_headers(status)  # the body's end never comes, as with OpenSIPS
        await reply.hang()

    server = await make_server(headers_then_silence)
    read_timeout = 0.5
    mi = make_client(server.url, read_timeout=read_timeout, total_timeout=5.0)

    with pytest.raises(error) as caught:
        # All attempts together must take far less than one read timeout.
        await asyncio.wait_for(mi.call("uptime", level=level), read_timeout)

    assert getattr(caught.value, "status", None) == status


async def test_connection_of_a_reply_without_body_end_is_not_reused(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    async def refuse_first(request: Received, reply: Reply) -> None:
        if len(server.requests) == 1:
            reply.chunked_headers(400)
            await reply.hang()
        else:
            reply.result(request)

    server = await make_server(refuse_first)
    mi = make_client(server.url)
    with pytest.raises(MIRequestTooLarge):  # a page-less 400: mi_http's dropped body
        await mi.call("uptime", level=AccessLevel.READ)

    resp = await asyncio.wait_for(mi.call("uptime", level=AccessLevel.READ), 1)

    assert resp.result == "OK"
    assert [r.connection for r in server.requests] == [1, 2]


async def test_no_more_than_max_in_flight_requests_reach_the_server_at_once(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    max_in_flight = 2
    too_many = asyncio.Event()

    async def hold_until_overlap(request: Received, reply: Reply) -> None:
        if server.active > max_in_flight:
            too_many.set()
        # Hold each request a moment so that a third one, if let through, would overlap.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(too_many.wait(), 0.05)
        reply.result(request)

    server = await make_server(hold_until_overlap)
    mi = make_client(server.url, max_in_flight=max_in_flight, pool_size=8)

    calls = [mi.call("uptime", level=AccessLevel.READ) for _ in range(8)]
    results = await asyncio.wait_for(asyncio.gather(*calls), 3)

    assert len(results) == 8
    assert len(server.requests) == 8
    assert server.max_active == max_in_flight
    assert not too_many.is_set()


async def test_large_reply_is_read_whole(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    entries = [{"index": i, "entry": "x" * 30} for i in range(65_536)]  # about 3 MB, like t_hash

    async def big(request: Received, reply: Reply) -> None:
        reply.result(request, entries)

    server = await make_server(big)
    mi = make_client(server.url, read_timeout=2.0)

    resp = await mi.call("t_hash", level=AccessLevel.READ)

    assert resp.result == entries


@pytest.mark.parametrize("failure", [wrong_id, not_json])
async def test_connection_that_carried_an_unusable_reply_is_not_reused(
    failure: Failure, make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = await make_server(failing_first(failure, times=1))
    mi = make_client(server.url)

    with pytest.raises(MIProtocolError):
        await mi.call("uptime", level=AccessLevel.READ)
    resp = await mi.call("uptime", level=AccessLevel.READ)

    assert resp.attempts == 1
    assert [r.connection for r in server.requests] == [1, 2]


async def test_parameter_values_never_reach_the_logs(
    make_server: ServerFactory, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-value"

    async def ok_then_fail(request: Received, reply: Reply) -> None:
        if request.method == "uptime":
            reply.result(request)
        else:
            reply.reset()

    server = await make_server(ok_then_fail)
    mi = make_client(server.url)

    with caplog.at_level(logging.DEBUG):
        await mi.call("uptime", {"password": secret}, level=AccessLevel.READ)
        with pytest.raises(MIOutcomeUnknown):
            await mi.call("reg_enable", {"password": secret}, level=AccessLevel.WRITE)

    assert any(record.name == "opensips_mcp.mi" for record in caplog.records)
    assert all(secret not in record.getMessage() for record in caplog.records)
