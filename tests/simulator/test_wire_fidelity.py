"""Every wire case captured from the real OpenSIPS 3.6.8 (``errors-3.6.json``), replayed
byte for byte against the simulator: status, the headers that matter, the body, whether
the connection stays open, and the held-back end of empty bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.captures import version_dir

from .conftest import StartSimulator
from .rawhttp import Head, RawClient, exchange, post, rpc

SHARED = version_dir("3.6.8")
CASES: dict[str, dict[str, Any]] = json.loads((SHARED / "errors.json").read_text())["cases"]

#: Cases where the simulator answers differently, and why: none. Every case must match the
#: capture exactly.
EXPECTED_DIFFERENCES: dict[str, str] = {}
#: Values that depend on the moment (uptime, contact expiry): compared by type only.
MOVING_KEYS = {"Now", "Up since", "Up time", "Expires"}
RELEVANT_HEADERS = ("Connection", "Content-Type", "Content-Length", "Transfer-Encoding")


def _cases() -> list[Any]:
    return [pytest.param(name, id=name) for name in CASES if name not in EXPECTED_DIFFERENCES]


def relevant(headers: list[tuple[str, str]] | list[list[str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k in RELEVANT_HEADERS]


def same_shape(real: Any, simulated: Any, path: str = "") -> None:
    """Same keys, nesting and types; equal values except for moving ones."""
    assert type(simulated) is type(real), f"{path}: {simulated!r} vs {real!r}"
    if isinstance(real, dict):
        assert list(simulated) == list(real), path
        for key in real:
            if key in MOVING_KEYS:
                assert type(simulated[key]) is type(real[key]), f"{path}.{key}"
            else:
                same_shape(real[key], simulated[key], f"{path}.{key}")
    elif isinstance(real, list):
        assert len(simulated) == len(real), path
        for i, (r, s) in enumerate(zip(real, simulated, strict=True)):
            same_shape(r, s, f"{path}[{i}]")
    else:
        assert simulated == real, f"{path}: {simulated!r} vs {real!r}"


def parse_head(raw: str) -> Head:
    lines = raw.split("\r\n\r\n", 1)[0].split("\r\n")
    _v, status, reason = lines[0].split(" ", 2)
    headers = [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in lines[1:])]
    return Head(int(status), reason, headers, raw.encode())


async def still_open(port: int, client: RawClient) -> bool:
    await client.send(post(rpc("uptime")))
    head = await client.read_head()
    await client.read_body(head)
    return head.status == 200


@pytest.mark.parametrize("name", _cases())
async def test_simulator_answers_each_wire_case_as_the_real_server(
    name: str, start_simulator: StartSimulator
) -> None:
    await replay(CASES[name], await start_simulator())


async def replay(case: dict[str, Any], sim: Any) -> None:
    """Send one captured wire case as raw bytes and compare every part of the answer."""
    client = await RawClient.connect(sim.port)
    try:
        await client.send(case["request_raw"].encode("latin-1"))
        if case.get("connection_closed_by_server"):
            assert await client.read_to_eof() == b""
            return
        if case.get("needed_wakeup_by_another_request"):
            expected = parse_head(case["bytes_received_before_wakeup"])
            head = await client.read_head()
            assert (head.status, head.reason) == (expected.status, expected.reason)
            assert relevant(head.headers) == relevant(expected.headers)
            assert head.header("Date")
            assert await client.silent_for(0.15), "the body end must be held back"
            await exchange(sim.port, post(rpc("uptime")))
            after = case["bytes_received_after_wakeup"].encode()
            assert await client.read_exactly(len(after)) == after
            return
        head = await client.read_head()
        assert head.status == case["http_status"]
        assert head.reason == case["reason"]
        got, expected = relevant(head.headers), relevant(case["headers"])
        if case.get("body_json") and "result" in case["body_json"]:
            # a result's length moves with uptime and expiry values
            got = [h for h in got if h[0] != "Content-Length"]
            expected = [h for h in expected if h[0] != "Content-Length"]
        assert got == expected
        assert head.header("Date")
        body = await client.read_body(head) if case["request_raw"][:4] != "HEAD" else b""
        if "body_json" in case and case["body_json"] is not None:
            answer = json.loads(body)
            if "error" in case["body_json"]:
                assert body == case["body"].encode()
            else:
                same_shape(case["body_json"], answer)
        else:
            assert body == case["body"].encode()
        if case["connection_kept_open_after_response"]:
            assert await still_open(sim.port, client)
        else:
            assert await client.read_to_eof() == b""
    finally:
        await client.close()


async def test_three_requests_on_one_connection_are_answered_in_order(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator()
    client = await RawClient.connect(sim.port)
    try:
        for ident in (1, 2, 3):
            await client.send(post(rpc("uptime", ident=ident)))
            head = await client.read_head()
            assert json.loads(await client.read_body(head))["id"] == ident
    finally:
        await client.close()


async def test_without_quirks_empty_bodies_end_at_once(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(quirks=False)
    client = await RawClient.connect(sim.port)
    try:
        await client.send(post(b'{"jsonrpc": "2.0", "method": "uptime"}'))
        head = await client.read_head()
        assert head.status == 202
        assert await client.read_body(head) == b""
    finally:
        await client.close()


async def test_a_held_back_end_is_released_by_the_next_request_on_the_same_connection(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator()
    client = await RawClient.connect(sim.port)
    try:
        await client.send(post(b'{"jsonrpc": "2.0", "method": "uptime"}'))
        head = await client.read_head()
        assert head.status == 202
        await client.send(post(rpc("uptime")))
        assert await client.read_exactly(5) == b"0\r\n\r\n"
        head = await client.read_head()
        assert head.status == 200
    finally:
        await client.close()


async def test_an_idle_connection_with_a_held_back_end_is_closed_at_the_idle_timeout(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(idle_timeout=0.3)
    client = await RawClient.connect(sim.port)
    try:
        await client.send(post(b'{"jsonrpc": "2.0", "method": "uptime"}'))
        head = await client.read_head()
        assert head.status == 202
        assert await client.read_to_eof(timeout=3.0) == b""
    finally:
        await client.close()


async def test_control_requests_do_not_release_held_back_ends(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator()
    client = await RawClient.connect(sim.port)
    try:
        await client.send(post(b'{"jsonrpc": "2.0", "method": "uptime"}'))
        await client.read_head()
        head, _body = await exchange(sim.port, b"GET /sim/clock HTTP/1.1\r\nHost: x\r\n\r\n")
        assert head.status == 200
        assert await client.silent_for(0.15)
    finally:
        await client.close()


async def test_a_control_request_on_a_connection_with_a_held_end_gets_a_clean_answer(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator()
    client = await RawClient.connect(sim.port)
    try:
        await client.send(post(b'{"jsonrpc": "2.0", "method": "uptime"}'))
        assert (await client.read_head()).status == 202
        await client.send(b"GET /sim/clock HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await client.read_exactly(5) == b"0\r\n\r\n"
        head = await client.read_head()
        assert json.loads(await client.read_body(head))["frozen"] is True
    finally:
        await client.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"GARBAGE\r\n\r\n",
        b"POST /mi HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: x\r\n\r\n",
        b"POST /mi HTTP/1.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /mi HTTP/1.1\r\nNoColonHere\r\n\r\n",
    ],
)
async def test_malformed_http_closes_the_connection_and_the_server_keeps_serving(
    garbage: bytes, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator()
    client = await RawClient.connect(sim.port)
    try:
        await client.send(garbage)
        assert await client.read_to_eof() == b""
    finally:
        await client.close()
    head, _body = await exchange(sim.port, post(rpc("uptime")))
    assert head.status == 200
