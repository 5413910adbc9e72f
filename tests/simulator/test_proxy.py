"""The fault proxy (``opensips-sim proxy``) in front of a simulator standing in for a real
OpenSIPS: forwarding, before/after-apply faults, the journal, the control API, snapshot
and restore. The upstream's own journal shows what really reached it."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from opensips_sim.proxy import ProxySimulator, RunningProxy, running_proxy
from opensips_sim.runner import RunningSimulator
from opensips_sim.scenarios import load
from opensips_sim.simulator import Simulator
from opensips_sim.snapshot import read_scenario
from opensips_sim.upstream import Upstream
from opensips_sim.wire import WireServer

from .conftest import StartSimulator
from .rawhttp import RawClient, call, exchange, post, rpc

REMOVE_BOB = post(rpc("ul_rm", {"table_name": "location", "aor": "bob"}))
Pair = tuple[RunningSimulator, RunningProxy]


@pytest.fixture
async def pair(start_simulator: StartSimulator) -> AsyncIterator[Pair]:
    upstream = await start_simulator(quirks=False)
    async with AsyncExitStack() as stack:
        proxy = await stack.enter_async_context(
            running_proxy(upstream.url, quirks=False, idle_timeout=2.0)
        )
        yield upstream, proxy


async def send_and_drain(port: int, request: bytes) -> bytes:
    """Send one request; whatever came back before the connection ended (or went quiet)."""
    client = await RawClient.connect(port)
    try:
        await client.send(request)
        with contextlib.suppress(ConnectionError, TimeoutError):
            return await client.read_to_eof(timeout=3.0)
        return b""
    finally:
        with contextlib.suppress(ConnectionError):
            await client.close()


def reached(upstream: RunningSimulator, method: str) -> int:
    return sum(1 for e in upstream.journal() if e["method"] == method)


def bob_registered(upstream: RunningSimulator) -> bool:
    return "bob" in upstream.world.snapshot()["usrloc"]["aors"]


async def test_requests_are_forwarded_and_journalled_with_the_simulators_levels(
    pair: Pair,
) -> None:
    upstream, proxy = pair
    head, body = await exchange(proxy.port, REMOVE_BOB)
    assert head.status == 200 and json.loads(body)["result"] == "OK"
    assert not bob_registered(upstream)
    entry = proxy.journal()[-1]
    assert (entry["method"], entry["level"], entry["recipe"]) == (
        "ul_rm",
        "destructive",
        ["table_name", "aor"],
    )
    assert (entry["applied"], entry["outcome"], entry["fault"]) == (True, "answered", None)
    missing = await call(
        proxy.port, "ul_rm_contact", {"table_name": "location", "aor": "zed", "contact": "sip:z@x"}
    )
    assert missing["error"]["code"] == 404
    assert proxy.journal()[-1]["applied"] is False
    assert proxy.journal()[-1]["error_code"] == 404


async def test_a_notification_answers_202_without_waiting_for_the_held_back_end(
    start_simulator: StartSimulator,
) -> None:
    upstream = await start_simulator(quirks=True)  # holds back the end, as real mi_http
    async with running_proxy(upstream.url, quirks=False, idle_timeout=2.0) as proxy:
        head, body = await exchange(proxy.port, post(b'{"jsonrpc":"2.0","method":"uptime"}'))
        assert (head.status, body) == (202, b"")
        assert (await call(proxy.port, "uptime"))["result"]["Up time"]


@pytest.mark.parametrize("action", ["http_500", "reset", "truncate", "malformed"])
async def test_before_apply_faults_do_not_forward(action: str, pair: Pair) -> None:
    upstream, proxy = pair
    proxy.proxy.faults.add({"command": "ul_rm", "action": action, "when": "before_apply"})
    await send_and_drain(proxy.port, REMOVE_BOB)
    assert reached(upstream, "ul_rm") == 0 and bob_registered(upstream)
    entry = proxy.journal()[-1]
    assert entry["fault"]["action"] == action and entry["applied"] is False


@pytest.mark.parametrize("action", ["http_500", "http_503", "reset", "truncate", "malformed"])
async def test_after_apply_faults_forward_then_lose_the_answer(action: str, pair: Pair) -> None:
    upstream, proxy = pair
    proxy.proxy.faults.add({"command": "ul_rm", "action": action, "when": "after_apply"})
    raw = await send_and_drain(proxy.port, REMOVE_BOB)
    if action.startswith("http_"):
        assert raw.startswith(f"HTTP/1.1 {action[-3:]}".encode())
    else:
        assert b'"result":"OK"}' not in raw
    assert reached(upstream, "ul_rm") == 1 and not bob_registered(upstream)
    entry = proxy.journal()[-1]
    assert entry["fault"]["when"] == "after_apply" and entry["applied"] is True


async def test_partial_rules_never_fire_at_a_real_server(pair: Pair) -> None:
    _upstream, proxy = pair
    proxy.proxy.faults.add({"command": "profile_end_dlgs", "action": "partial"})
    answer = await call(proxy.port, "profile_end_dlgs", {"profile": "inbound"})
    assert answer["result"] == "OK"
    assert proxy.journal()[-1]["fault"] is None
    assert proxy.proxy.faults.rules[0].fired == 0


async def test_an_unreachable_upstream_closes_without_an_answer() -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    proxy = ProxySimulator(Upstream(f"http://127.0.0.1:{dead}/mi", timeout=2.0))
    server = WireServer(proxy)
    port = await server.start("127.0.0.1", 0)
    try:
        assert await send_and_drain(port, REMOVE_BOB) == b""
    finally:
        await server.close()
    entry = proxy.journal.entries()[-1]
    assert (entry["method"], entry["applied"], entry["outcome"]) == ("ul_rm", None, "closed")


async def control_json(proxy: RunningProxy, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=proxy.control_url, timeout=5.0) as client:
        answer = await client.request(method, path, json=body)
        return answer.status_code, answer.json()


async def test_control_api_faults_journal_state_and_refused_scenarios(pair: Pair) -> None:
    upstream, proxy = pair
    status, added = await control_json(
        proxy, "POST", "/faults", {"command": "ul_rm", "action": "http_500", "when": "after_apply"}
    )
    assert status == 200 and added["rules"][0]["id"] == 1
    await exchange(proxy.port, REMOVE_BOB)
    status, journal = await control_json(proxy, "GET", "/journal")
    assert [e["method"] for e in journal["entries"]] == ["ul_rm"]
    status, state = await control_json(proxy, "GET", "/state")
    assert status == 200 and "bob" not in state["parts"]["usrloc"]["aors"]
    assert {d["callid"] for d in state["parts"]["dialog"]["dialogs"]} == {
        d["callid"] for d in upstream.world.snapshot()["dialog"]["dialogs"]
    }
    status, _ = await control_json(proxy, "POST", "/scenario", {"name": "quiet"})
    assert status == 400


async def test_reset_puts_back_registrations_and_dispatcher_and_gateway_states(
    pair: Pair,
) -> None:
    upstream, proxy = pair
    await exchange(proxy.port, REMOVE_BOB)
    added = {
        "table_name": "location",
        "aor": "zed",
        "contact": "sip:zed@127.0.0.1:5999",
        "expires": 600,
        "q": "1",
        "flags": 0,
        "cflags": 0,
        "methods": 4294967295,
    }
    await call(proxy.port, "ul_add", added)
    await call(
        proxy.port, "ds_set_state", {"state": "i", "group": 1, "address": "sip:127.0.0.1:5081"}
    )
    await call(proxy.port, "dr_gw_status", {"gw_id": "gw1", "status": 0})
    status, answer = await control_json(proxy, "POST", "/reset", {"journal": True})
    assert status == 200 and answer["ok"]
    aors = upstream.world.snapshot()["usrloc"]["aors"]
    assert set(aors) == {"alice", "bob", "carol"}
    ds = (await call(upstream.port, "ds_list"))["result"]["PARTITIONS"][0]["SETS"][0]
    assert {d["state"] for d in ds["Destinations"]} == {"Active"}
    gw = await call(upstream.port, "dr_gw_status", {"gw_id": "gw1"})
    assert gw["result"]["State"] == "Active"
    assert proxy.journal() == []


async def test_a_snapshot_starts_a_simulator_that_answers_as_its_source(
    start_simulator: StartSimulator,
) -> None:
    source = await start_simulator(scenario="quiet", quirks=False)
    upstream = Upstream(source.url)
    try:
        scenario = await read_scenario(upstream)
    finally:
        await upstream.close()
    copy = Simulator(load(json.loads(json.dumps(scenario))), clock=source.sim.clock)
    for method, params in READS:
        mine = await call(source.port, method, params)
        body = rpc(method, params)
        theirs = json.loads((await copy.handle_mi(body)).body)
        assert theirs == mine, method


READS: list[tuple[str, Any]] = [
    ("ul_dump", None),
    ("dlg_list", None),
    ("dlg_list_ctx", None),
    ("list_all_profiles", None),
    ("profile_get_size", {"profile": "caller", "value": "alice"}),
    ("ds_list", {"full": 1}),
    ("lb_list", None),
    ("dr_gw_status", None),
    ("dr_carrier_status", None),
    ("clusterer_list", None),
    ("address_dump", None),
    ("shv_get", None),
    ("pike_list", None),
    ("get_statistics", {"statistics": ["dialog:", "usrloc:"]}),
]


def test_a_contact_past_its_time_is_read_as_expired_not_refused() -> None:
    # a real 4.0.1 printed "Expires": "expired" for a contact ul_add gave expires -1, until
    # usrloc's timer purged it; the snapshot used to stop on it
    from opensips_sim.snapshot import _expires_in

    assert [_expires_in(e) for e in ("permanent", "expired", 3597, None)] == [0, -1, 3597, 1]
