"""A chunked POST body, per impersonated version, as measured on real servers: 3.4.18's
httpd closes the connection at once without a byte ("got a truncated POST request"); 3.6.8
and 4.0.1 answer it. An empty chunked body is an empty body on every version (400, the
end held back). The server keeps serving other connections afterwards."""

from __future__ import annotations

import json

import pytest

from .conftest import StartSimulator
from .rawhttp import RawClient, exchange, post, rpc

HEAD = (
    b"POST /mi HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
BODY = rpc("uptime")


def chunked(*pieces: bytes) -> bytes:
    return HEAD + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [chunked(BODY), chunked(BODY[:16], BODY[16:])],
    ids=["one-chunk", "two-chunks"],
)
async def test_3_4_closes_a_chunked_body_without_answering_and_keeps_serving(
    request_bytes: bytes, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator(opensips_version="3.4.18")
    client = await RawClient.connect(sim.port)
    try:
        await client.send(request_bytes)
        assert await client.read_to_eof(timeout=1.0) == b""
    finally:
        await client.close()
    head, body = await exchange(sim.port, post(BODY))
    assert head.status == 200
    assert "Up time" in json.loads(body)["result"]


@pytest.mark.parametrize("version", ["3.6.8", "4.0.1"])
async def test_3_6_and_4_0_answer_a_chunked_body(
    version: str, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator(opensips_version=version)
    head, body = await exchange(sim.port, chunked(BODY[:16], BODY[16:]))
    assert head.status == 200
    assert json.loads(body)["id"] == 1


@pytest.mark.parametrize("version", ["3.4.18", "3.6.8", "4.0.1"])
async def test_an_empty_chunked_body_is_an_empty_body_on_every_version(
    version: str, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator(opensips_version=version)
    client = await RawClient.connect(sim.port)
    try:
        await client.send(HEAD + b"0\r\n\r\n")
        head = await client.read_head()
        assert head.status == 400
        assert head.header("Transfer-Encoding") == "chunked"
        assert await client.silent_for(0.15), "the body end is held back"
    finally:
        await client.close()


async def test_3_4_records_the_closed_request_in_the_journal(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(opensips_version="3.4.18")
    client = await RawClient.connect(sim.port)
    try:
        await client.send(chunked(BODY))
        assert await client.read_to_eof(timeout=1.0) == b""
    finally:
        await client.close()
    head, body = await exchange(sim.port, b"GET /sim/journal HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.status == 200

    assert [e["outcome"] for e in json.loads(body)["entries"]] == ["closed"]
