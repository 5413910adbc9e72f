"""Every typed tool against the real OpenSIPS of ``make lab``: reads, and writes undone.

The lab holds 3 calls alice -> bob and has alice, bob and carol registered (lab/README.md);
the seed rows give dispatcher set 1 (2 destinations), load_balancer group 1 (ids 1, 2),
drouting gw1/carrier1 (rule prefix 49 in group 1) and clusterer node 1 with an absent
peer 2. Every write is undone in a ``finally``; calls ended by a test are calls the test
placed itself with SIPp (caller ``erin``), never the lab's held calls.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from mcp import Client

from opensips_mcp.server import OpenSIPSMCP
from tests.lab.aors import aor, use_domain
from tests.lab.sipp_calls import TempCalls, sip_target
from tests.toolsets.helpers import call, content, error_code

#: Every tool this suite runs; a tool the server lists and this set lacks fails the suite.
EXERCISED = {
    "opensips_health",
    "opensips_status",
    "mi_execute",
    "mi_list_commands",
    "mi_describe_command",
    "get_statistics",
    "statistics_delta",
    "dialogs_list",
    "dialog_show",
    "dialog_profiles",
    "dialog_end",
    "profile_end_dialogs",
    "registrations_list",
    "registration_add",
    "registration_remove",
    "dispatcher_list",
    "dispatcher_set_state",
    "dispatcher_reload",
    "lb_destinations",
    "lb_set_status",
    "lb_resize",
    "lb_reload",
    "routing_status",
    "routing_set_status",
    "routing_reload",
    "routing_test_number",
    "cluster_status",
    "cluster_set_node_status",
    "cluster_drain_node",
    "cluster_activate_sharing_tag",
}
OFFSET = int(os.environ.get("LAB_PORT_OFFSET", "0") or "0")
HELD_CALLS = int(os.environ.get("LAB_CALLS", "3") or "3")


def port(base: int) -> int:
    """A lab port (base + LAB_PORT_OFFSET)."""
    return base + OFFSET


async def run(server: OpenSIPSMCP, tool: str, args: dict[str, Any] | None = None) -> Any:
    """The structured content of a successful tool call."""
    return content(await call(server, tool, args))


async def held_dialogs(server: OpenSIPSMCP) -> list[dict[str, Any]]:
    """The lab's held calls (alice -> bob, confirmed)."""
    listed = await run(server, "dialogs_list", {"from_contains": "alice", "limit": 100})
    return [d for d in listed["dialogs"] if d["state"] == "confirmed"]


async def test_every_listed_tool_is_exercised_here(admin: OpenSIPSMCP) -> None:
    async with Client(admin) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
    assert listed - EXERCISED == set()


# ---------------------------------------------------------------- status and generic


async def test_health_and_status_see_the_running_lab(admin: OpenSIPSMCP) -> None:
    health = await run(admin, "opensips_health")
    assert health["reachable"] is True
    version = os.environ.get("OPENSIPS_VERSION")
    if version:
        assert version in health["version"]
    status = await run(admin, "opensips_status")
    assert status["active_dialogs"] >= HELD_CALLS
    assert status["registered_users"] >= 3
    assert status["process_types"]["SIP receiver"] >= 1
    assert 0 < status["shared_memory"]["used"] < status["shared_memory"]["total"]


async def test_mi_execute_discovery_and_describe(admin: OpenSIPSMCP) -> None:
    uptime = await run(admin, "mi_execute", {"command": "uptime"})
    assert uptime["level"] == "read"
    assert "Up since" in uptime["result"]
    listed = await run(admin, "mi_list_commands", {"module": "dialog"})
    names = {c["name"] for c in listed["commands"]}
    # listed under the server version's own names (4.x: module:name)
    four = listed["opensips_version"].startswith("4.")
    assert ({"dialog:list", "dialog:end_dlg"} if four else {"dlg_list", "dlg_end_dlg"}) <= names
    described = await run(admin, "mi_describe_command", {"command": "dlg_list"})
    assert described["available"] is True
    assert [] in [r["params"] for r in described["recipes"]]
    refused = await call(admin, "mi_execute", {"command": "no_such_command_here"})
    assert error_code(refused) is not None


async def test_get_statistics_by_group_name_bare_name_and_group(admin: OpenSIPSMCP) -> None:
    asked = ["dialog:active_dialogs", "core:rcv_requests"]
    by_full_name = await run(admin, "get_statistics", {"statistics": asked})
    assert by_full_name["missing"] == []
    assert by_full_name["statistics"]["dialog:active_dialogs"] >= HELD_CALLS
    assert by_full_name["statistics"]["core:rcv_requests"] > 0
    bare = await run(admin, "get_statistics", {"statistics": ["active_dialogs"]})
    assert bare["statistics"]["dialog:active_dialogs"] >= HELD_CALLS
    group = await run(admin, "get_statistics", {"statistics": ["dialog:"]})
    assert "dialog:processed_dialogs" in group["statistics"]
    miss = await run(admin, "get_statistics", {"statistics": ["dialog:no_such_statistic"]})
    assert miss["missing"] == ["dialog:no_such_statistic"]


async def test_statistics_delta_measures_sip_requests_by_group_name(admin: OpenSIPSMCP) -> None:
    host, sip_port = sip_target()
    args = {"statistics": ["core:rcv_requests"], "interval_seconds": 2.0}
    measuring = asyncio.create_task(run(admin, "statistics_delta", args))

    def options(n: int) -> bytes:
        return (
            f"OPTIONS sip:{host}:{sip_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port(5078)};branch=z9hG4bK-labtools{n}\r\n"
            "From: <sip:labtools@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\n"
            f"Call-ID: labtools-options-{n}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.bind(("127.0.0.1", port(5078)))
        replies: list[bytes] = []
        # SIP requests all through the measured interval (the tool reads, waits, reads)
        while not measuring.done():
            sock.sendto(options(len(replies)), (host, sip_port))
            replies.append(sock.recv(4096))
            await asyncio.wait([measuring], timeout=0.3)
    assert replies and all(r.startswith(b"SIP/2.0 200") for r in replies)
    delta = await measuring
    changed = {c["name"]: c for c in delta["changed"]}
    assert "core:rcv_requests" in changed, delta


# ---------------------------------------------------------------- dialogs


async def test_dialogs_list_filters_and_pages_over_the_held_calls(admin: OpenSIPSMCP) -> None:
    held = await held_dialogs(admin)
    assert len(held) >= HELD_CALLS
    assert all(d["to_uri"].startswith("sip:bob@") for d in held)
    seen: list[str] = []
    args: dict[str, Any] = {"profile": "caller", "profile_value": "alice", "limit": 2}
    for _ in range(10):
        page = await run(admin, "dialogs_list", args)
        seen += [d["id"] for d in page["dialogs"]]
        if page["next_cursor"] is None:
            break
        args = {**args, "cursor": page["next_cursor"]}
    assert sorted(seen) == sorted(d["id"] for d in held)
    none = await run(admin, "dialogs_list", {"state": "early", "from_contains": "alice"})
    assert none["dialogs"] == []


async def test_dialog_show_and_profiles(admin: OpenSIPSMCP) -> None:
    first = (await held_dialogs(admin))[0]
    shown = await run(admin, "dialog_show", {"callid": first["callid"]})
    assert shown["found"] is True
    assert shown["id"] == first["id"]
    assert shown["state"] == "confirmed"
    assert shown["callees"]
    missing = await run(admin, "dialog_show", {"callid": "no-such-call@lab"})
    assert missing["found"] is False
    profiles = await run(admin, "dialog_profiles", {"profile": "caller"})
    counts = {v["value"]: v["count"] for v in profiles["values"]}
    assert counts.get("alice", 0) >= HELD_CALLS
    every = await run(admin, "dialog_profiles")
    assert {"caller", "inbound"} <= {p["name"] for p in every["profiles"]}


async def test_dialog_end_and_profile_end_dialogs_end_only_the_tests_calls(
    admin: OpenSIPSMCP,
) -> None:
    held_before = {d["id"] for d in await held_dialogs(admin)}
    async with TempCalls(admin, caller="erin", callee="dave", calls=3, offset=OFFSET) as temp:
        ids = await temp.confirmed_ids()
        assert len(ids) == 3
        ended = await run(admin, "dialog_end", {"dialog_id": ids[0]})
        assert ended is not None
        await temp.wait_gone({ids[0]})
        gone_again = await call(admin, "dialog_end", {"dialog_id": "1.1"})
        assert error_code(gone_again) == "opensips_error"
        by_profile = await run(admin, "profile_end_dialogs", {"profile": "caller", "value": "erin"})
        assert by_profile["calls_before"] == 2
        await temp.wait_gone(set(ids))
    assert {d["id"] for d in await held_dialogs(admin)} == held_before


# ---------------------------------------------------------------- registrations


async def test_registrations_list_and_add_remove_restored(admin: OpenSIPSMCP) -> None:
    everyone = await run(admin, "registrations_list", {"limit": 100})
    aors = {c["aor"] for c in everyone["contacts"]}
    assert {aor("alice"), aor("bob"), aor("carol")} <= aors
    alice = await run(admin, "registrations_list", {"aor": aor("alice")})
    assert [c["contact"] for c in alice["contacts"]] == [f"sip:alice@127.0.0.1:{port(5071)}"]
    prefixed = await run(admin, "registrations_list", {"aor_prefix": "car"})
    assert {c["aor"] for c in prefixed["contacts"]} == {aor("carol")}
    contact = f"sip:labtools@127.0.0.1:{port(5079)}"
    labtools = aor("labtools")
    try:
        added = await run(admin, "registration_add", {"aor": labtools, "contact": contact})
        assert added["action"] == "added"
        assert added["contacts_after"] == 1
        listed = await run(admin, "registrations_list", {"aor": labtools})
        assert [c["contact"] for c in listed["contacts"]] == [contact]
    finally:
        removed = await run(admin, "registration_remove", {"aor": labtools})
    assert removed["action"] == "removed"
    assert (await run(admin, "registrations_list", {"aor": labtools}))["contacts"] == []


async def test_aors_with_and_without_a_domain_as_the_lab_keys_them(admin: OpenSIPSMCP) -> None:
    """use_domain on: a bare AOR is refused (invalid_params) before any change; off: a
    domain given is dropped by OpenSIPS, so user@domain finds the user."""
    contact = f"sip:labbare@127.0.0.1:{port(5078)}"
    if use_domain():
        for tool, args in (
            ("registrations_list", {"aor": "alice"}),
            ("registration_add", {"aor": "labbare", "contact": contact}),
            ("registration_remove", {"aor": "alice"}),
        ):
            assert error_code(await call(admin, tool, args)) == "invalid_params", tool
        alice = await run(admin, "registrations_list", {"aor": "alice@127.0.0.1"})
        assert len(alice["contacts"]) == 1  # still registered
        assert (await run(admin, "registrations_list", {"aor": "labbare@127.0.0.1"}))[
            "contacts"
        ] == []
    else:
        alice = await run(admin, "registrations_list", {"aor": "alice@127.0.0.1"})
        assert [c["aor"] for c in alice["contacts"]] == ["alice"]


# ---------------------------------------------------------------- dispatcher, load balancer


async def test_dispatcher_list_set_state_and_reload_restored(admin: OpenSIPSMCP) -> None:
    listed = await run(admin, "dispatcher_list", {"set_id": 1})
    uris = [d["uri"] for d in listed["destinations"]]
    assert uris == [f"sip:127.0.0.1:{port(5081)}", f"sip:127.0.0.1:{port(5082)}"]
    target = uris[0]
    args = {"set_id": 1, "address": target}
    try:
        down = await run(admin, "dispatcher_set_state", {**args, "state": "inactive"})
        assert down["state_after"] == "inactive"
        inactive = await run(admin, "dispatcher_list", {"state": "inactive"})
        assert [d["uri"] for d in inactive["destinations"]] == [target]
    finally:
        up = await run(admin, "dispatcher_set_state", {**args, "state": "active"})
    assert up["state_after"] == "active"
    reloaded = await run(admin, "dispatcher_reload", {"keep_states": True})
    assert reloaded["sets"][0]["active"] == 2


async def test_lb_destinations_status_resize_reload_restored(admin: OpenSIPSMCP) -> None:
    listed = await run(admin, "lb_destinations", {"group": 1})
    assert [d["id"] for d in listed["destinations"]] == [1, 2]
    with_vm = await run(admin, "lb_destinations", {"resource": "vm"})
    assert [d["id"] for d in with_vm["destinations"]] == [1]
    pstn = {r["name"]: r["capacity"] for r in listed["destinations"][0]["resources"]}["pstn"]
    try:
        off = await run(admin, "lb_set_status", {"destination_id": 1, "enabled": False})
        assert off["destination"]["enabled"] is False
        bigger = {"destination_id": 1, "resource": "pstn", "capacity": pstn + 1}
        resized = await run(admin, "lb_resize", bigger)
        caps = {r["name"]: r["capacity"] for r in resized["destination"]["resources"]}
        assert caps["pstn"] == pstn + 1
    finally:
        await run(admin, "lb_resize", {"destination_id": 1, "resource": "pstn", "capacity": pstn})
        on = await run(admin, "lb_set_status", {"destination_id": 1, "enabled": True})
    assert on["destination"]["enabled"] is True
    reloaded = await run(admin, "lb_reload")
    assert reloaded == {"destinations": 2, "enabled": 2}


# ---------------------------------------------------------------- drouting


async def test_routing_status_test_number_set_status_reload_restored(admin: OpenSIPSMCP) -> None:
    gateways = await run(admin, "routing_status", {"kind": "gateway"})
    assert [(t["id"], t["address"]) for t in gateways["targets"]] == [
        ("gw1", f"127.0.0.1:{port(5085)}")
    ]
    carriers = await run(admin, "routing_status", {"kind": "carrier"})
    assert [t["id"] for t in carriers["targets"]] == ["carrier1"]
    routed = await run(admin, "routing_test_number", {"number": "4912345", "group_id": 1})
    assert (routed["matched"], routed["matched_prefix"]) == (True, "49")
    unrouted = await run(admin, "routing_test_number", {"number": "3312345", "group_id": 1})
    assert unrouted["matched"] is False
    for kind, target in (("gateway", "gw1"), ("carrier", "carrier1")):
        try:
            off = await run(
                admin, "routing_set_status", {"kind": kind, "id": target, "enabled": False}
            )
            assert off["target"]["enabled"] is False
        finally:
            on = await run(
                admin, "routing_set_status", {"kind": kind, "id": target, "enabled": True}
            )
        assert on["target"]["enabled"] is True
    reloaded = await run(admin, "routing_reload", {"keep_states": True})
    assert (reloaded["gateways"], reloaded["carriers"]) == (1, 1)


# ---------------------------------------------------------------- clusterer


async def test_cluster_status_node_status_drain_and_sharing_tag(admin: OpenSIPSMCP) -> None:
    status = await run(admin, "cluster_status", {"cluster_id": 1})
    (cluster,) = status["clusters"]
    assert cluster["local_node_id"] == 1
    assert [(n["node_id"], n["link_state"]) for n in cluster["nodes"]] == [(2, "Down")]
    try:
        off = await run(admin, "cluster_set_node_status", {"cluster_id": 1, "enabled": False})
        assert off["enabled"] is False
        drain = await run(admin, "cluster_drain_node", {"cluster_id": 1, "wait_seconds": 0})
        assert drain["disabled"] is True
        # the held calls are up: the drain must count them (statistics by group:name)
        assert drain["dialogs_at_start"] is not None
        assert drain["dialogs_at_start"] >= HELD_CALLS
    finally:
        on = await run(admin, "cluster_set_node_status", {"cluster_id": 1, "enabled": True})
    assert on["enabled"] is True
    # a sharing tag cannot be removed over MI: the lab keeps "labtools" active (one node)
    tag = await run(admin, "cluster_activate_sharing_tag", {"tag": "labtools", "cluster_id": 1})
    assert tag["state"] == "active"
