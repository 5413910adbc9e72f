"""Paging semantics: snapshot expiry and staleness, cursors bound to their tool and
filters, the snapshot store's bounds, and dialog pages while calls end and start."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP
from opensips_mcp.tools.paging import SnapshotStore, encode_cursor, snapshots_of
from opensips_sim.runner import RunningSimulator, running_simulator
from opensips_sim.state.dialog import DialogState

from .conftest import CAPTURE_EPOCH, ServerFor
from .helpers import call, content, error_code, last_seq, methods, server_for

CALLS = {
    "dialog": {
        "hash_size": 64,
        "default_timeout": 3600,
        "profiles": {"inbound": {"has_value": False}, "caller": {"has_value": True}},
        "generate": {"count": 300, "users": 100, "profiles": {"inbound": "", "caller": "$caller"}},
    }
}


@pytest.fixture
async def calls() -> AsyncIterator[RunningSimulator]:
    """300 calls in a 64-entry hash table, callers among 100 users."""
    async with running_simulator(CALLS, seed=3, frozen_at=CAPTURE_EPOCH) as running:
        yield running


@pytest.fixture
def calls_server(calls: RunningSimulator, tmp_path: Path) -> OpenSIPSMCP:
    return server_for(calls, Role.VIEWER, tmp_path)


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


# --- registrations snapshots --------------------------------------------------------------


async def test_an_expired_snapshot_is_reported_and_nothing_is_fetched_again(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    server = make_server(Role.VIEWER)
    clock = FakeClock()
    snapshots_of(server.runtime).clock = clock
    async with Client(server) as client:
        first = content(await client.call_tool("registrations_list", {"limit": 1}))
        assert first["next_cursor"] and first["total"] == 3
        clock.now += 121
        before = last_seq(sim)
        expired = content(
            await client.call_tool(
                "registrations_list", {"limit": 1, "cursor": first["next_cursor"]}
            )
        )
        assert methods(sim, before) == []
        again = content(await client.call_tool("registrations_list", {"limit": 1}))
    assert expired["snapshot_expired"] is True
    assert (expired["returned"], expired["next_cursor"]) == (0, None)
    assert expired["notice"]
    assert again["returned"] == 1 and again["snapshot_expired"] is False


async def test_later_pages_come_from_the_snapshot_and_say_when_it_is_getting_old(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    server = make_server(Role.VIEWER)
    clock = FakeClock()
    snapshots_of(server.runtime).clock = clock
    async with Client(server) as client:
        first = content(await client.call_tool("registrations_list", {"limit": 1}))
        before = last_seq(sim)
        clock.now += 100
        second = content(
            await client.call_tool(
                "registrations_list", {"limit": 1, "cursor": first["next_cursor"]}
            )
        )
    assert methods(sim, before) == []
    assert second["contacts"][0]["aor"] != first["contacts"][0]["aor"]
    assert second["snapshot_age_seconds"] == pytest.approx(100, abs=1)
    assert second["notice"] and second["snapshot_expired"] is False


@pytest.mark.parametrize(
    ("tool", "first_args", "next_args"),
    [
        ("registrations_list", {"limit": 1}, {"limit": 1, "user_agent": "bob"}),
        ("dialogs_list", {"limit": 1}, {"limit": 1, "state": "confirmed"}),
        ("dispatcher_list", {"limit": 1}, {"limit": 1, "set_id": 1}),
    ],
)
async def test_a_cursor_only_works_with_the_filters_it_was_made_with(
    tool: str,
    first_args: dict[str, Any],
    next_args: dict[str, Any],
    sim: RunningSimulator,
    make_server: ServerFor,
) -> None:
    server = make_server(Role.VIEWER)
    async with Client(server) as client:
        first = content(await client.call_tool(tool, first_args))
        before = last_seq(sim)
        refused = await client.call_tool(tool, {**next_args, "cursor": first["next_cursor"]})
    assert error_code(refused) == "invalid_params"
    assert methods(sim, before) == []


@pytest.mark.parametrize(
    "cursor",
    ["bm90IGpzb24", encode_cursor("dialogs", f="x", i=0), "e30"],
    ids=["not-json", "another-tool", "empty-object"],
)
async def test_a_cursor_this_server_did_not_make_for_the_tool_is_refused(
    cursor: str, sim: RunningSimulator, make_server: ServerFor
) -> None:
    before = last_seq(sim)
    result = await call(make_server(Role.VIEWER), "registrations_list", {"cursor": cursor})
    assert error_code(result) == "invalid_params"
    assert methods(sim, before) == []


# --- the store ----------------------------------------------------------------------------


def test_the_store_evicts_the_oldest_snapshots_beyond_its_count_and_item_bounds() -> None:
    store = SnapshotStore(max_items=10, max_count=2, clock=FakeClock())
    a = store.put("p", "k", "f", [1, 2, 3])
    b = store.put("p", "k", "f", [4, 5, 6])
    c = store.put("p", "k", "f", [7, 8])
    assert a and b and c
    assert store.get(a.id, "p", "k", "f") is None
    assert store.get(b.id, "p", "k", "f") is not None and len(store) == 2
    d = store.put("p", "k", "f", list(range(9)))
    assert d is not None and store.items_held == 9 and len(store) == 1
    assert store.put("p", "k", "f", list(range(11))) is None


def test_a_snapshot_expires_when_idle_and_at_its_maximum_age() -> None:
    clock = FakeClock()
    store = SnapshotStore(idle_ttl=10, max_age=25, clock=clock)
    snap = store.put("p", "k", "f", [1])
    assert snap is not None
    for _ in range(2):
        clock.now += 9
        assert store.get(snap.id, "p", "k", "f") is not None
    clock.now += 9
    assert store.get(snap.id, "p", "k", "f") is None
    idle = store.put("p", "k", "f", [1])
    assert idle is not None
    clock.now += 11
    assert store.get(idle.id, "p", "k", "f") is None


def test_a_snapshot_is_found_only_by_its_owner_for_its_tool_and_filters() -> None:
    store = SnapshotStore(clock=FakeClock())
    snap = store.put("alice", "registrations", "f1", [1])
    assert snap is not None
    assert store.get(snap.id, "mallory", "registrations", "f1") is None
    assert store.get(snap.id, "alice", "dialogs", "f1") is None
    assert store.get(snap.id, "alice", "registrations", "f2") is None
    assert store.get(snap.id, "alice", "registrations", "f1") is snap


# --- dialogs while calls come and go ------------------------------------------------------


async def _pages(client: Client, args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        page = content(
            await client.call_tool(
                "dialogs_list", {**args, **({"cursor": cursor} if cursor else {})}
            )
        )
        yield page
        cursor = page["next_cursor"]
        if cursor is None:
            return


async def test_a_dialog_walk_misses_and_repeats_nothing_while_calls_end_and_start(
    calls: RunningSimulator, calls_server: OpenSIPSMCP
) -> None:
    table = calls.world.get(DialogState)
    lasting = {d.did for d in table.walk()}
    seen: list[str] = []
    started = 0
    async with Client(calls_server) as client:
        async for page in _pages(client, {"limit": 20}):
            assert page["resumed_exactly"] is True
            seen += [d["id"] for d in page["dialogs"]]
            # Three calls already listed end, one not yet listed ends, two new ones start.
            for did in seen[-12::4]:
                dialog = table.by_did(did)
                if dialog is not None:
                    table.remove(dialog)
            ahead = [d for d in table.walk() if d.did not in seen]
            if ahead:
                lasting.discard(ahead[-1].did)
                table.remove(ahead[-1])
            for _ in range(2):
                started += 1
                table.start_call(
                    "new", "callee", callid=f"new-{started}@test", at=CAPTURE_EPOCH, links={}
                )
    assert len(seen) == len(set(seen))
    assert lasting <= set(seen)


async def test_a_page_says_when_the_last_call_it_saw_ended_before_the_next_page(
    calls: RunningSimulator, calls_server: OpenSIPSMCP
) -> None:
    table = calls.world.get(DialogState)
    async with Client(calls_server) as client:
        first = content(await client.call_tool("dialogs_list", {"limit": 5}))
        last = table.by_did(first["dialogs"][-1]["id"])
        assert last is not None
        table.remove(last)
        second = content(
            await client.call_tool("dialogs_list", {"limit": 5, "cursor": first["next_cursor"]})
        )
    assert second["resumed_exactly"] is False and second["notice"]
    assert not {d["id"] for d in first["dialogs"]} & {d["id"] for d in second["dialogs"]}


async def test_profile_values_page_through_a_snapshot_most_calls_first(
    calls: RunningSimulator, calls_server: OpenSIPSMCP
) -> None:
    values: list[tuple[str, int]] = []
    cursor: str | None = None
    async with Client(calls_server) as client:
        while True:
            args: dict[str, Any] = {"profile": "caller", "limit": 10}
            if cursor:
                args["cursor"] = cursor
            page = content(await client.call_tool("dialog_profiles", args))
            values += [(v["value"], v["count"]) for v in page["values"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len({v for v, _ in values}) == len(values) > 10
    assert sum(n for _, n in values) == 300 == page["profiles"][0]["size"]
    assert [n for _, n in values] == sorted((n for _, n in values), reverse=True)


async def test_calls_of_a_profile_value_are_listed_from_the_dialog_contexts(
    calls: RunningSimulator, calls_server: OpenSIPSMCP
) -> None:
    table = calls.world.get(DialogState)
    caller = next(iter(table.walk())).from_uri.split(":")[1].split("@")[0]
    expected = {d.did for d in table.walk() if d.from_uri == f"sip:{caller}@127.0.0.1"}
    async with Client(calls_server) as client:
        ids = [
            d["id"]
            async for page in _pages(
                client, {"profile": "caller", "profile_value": caller, "limit": 500}
            )
            for d in page["dialogs"]
        ]
    assert set(ids) == expected and len(ids) == len(expected)
    assert {e["method"] for e in calls.journal()} == {"dlg_list_ctx"}
