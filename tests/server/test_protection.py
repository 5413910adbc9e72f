"""Protecting OpenSIPS from its agent, through the tools: heavy commands refused to those
not allowed (nothing sent), run once under their own timeout for those allowed, one at a
time; a busy MI refused fast; opensips_health shows the queue. Counted at the fake MI."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mcp import Client

from opensips_mcp.gate import Role

from .conftest import ServerFactory
from .helpers import FakeMI, audit_records, call, error_code, error_text


async def test_a_viewer_asking_for_t_hash_is_told_its_cost_and_what_to_use_and_nothing_is_sent(
    make_server: ServerFactory, fake_mi: FakeMI, audit_path: Path
) -> None:
    result = await call(make_server(Role.VIEWER), "mi_execute", {"command": "t_hash"})

    assert error_code(result) == "too_heavy"
    assert "get_statistics" in error_text(result)  # the alternative is named
    assert fake_mi.count("t_hash") == 0
    (record,) = audit_records(audit_path)
    assert (record["decision"], record["outcome"], record["mi_attempts"]) == ("deny", "error", 0)


async def test_a_role_allowed_by_configuration_may_run_a_heavy_command(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    server = make_server(Role.VIEWER, mi_heavy_role=Role.VIEWER, mi_viewer_budget=0)

    result = await call(server, "mi_execute", {"command": "t_hash"})

    assert not result.is_error
    assert fake_mi.count("t_hash") == 1


async def test_a_heavy_command_allowed_to_viewers_still_fits_their_budget_or_is_not_sent(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    # t_hash measured 53 s on the lab: more than a viewer's 20 s of MI time per minute.
    server = make_server(Role.VIEWER, mi_heavy_role=Role.VIEWER, mi_viewer_budget=20)

    result = await call(server, "mi_execute", {"command": "t_hash"})

    assert error_code(result) == "over_budget"
    assert fake_mi.count("t_hash") == 0


async def test_an_admins_heavy_command_runs_once_under_its_own_longer_timeout(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    # The answer comes after the normal read timeout (0.2 s), within the heavy one.
    release = fake_mi.hold["t_hash"] = asyncio.Event()
    arrived = fake_mi.received["t_hash"] = asyncio.Event()
    server = make_server(Role.ADMIN, mi_read_timeout=0.2, mi_heavy_timeout=5.0)

    async with Client(server) as client:
        running = asyncio.create_task(client.call_tool("mi_execute", {"command": "t_hash"}))
        await asyncio.wait_for(arrived.wait(), 5)
        asyncio.get_running_loop().call_later(0.4, release.set)
        result = await asyncio.wait_for(running, 5)

    assert not result.is_error, error_text(result)
    assert fake_mi.count("t_hash") == 1


async def test_while_a_heavy_command_runs_a_second_is_busy_and_health_sends_nothing(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    release = fake_mi.hold["t_hash"] = asyncio.Event()
    arrived = fake_mi.received["t_hash"] = asyncio.Event()
    server = make_server(Role.ADMIN, mi_max_in_flight=2)

    async with Client(server) as client:
        running = asyncio.create_task(client.call_tool("mi_execute", {"command": "t_hash"}))
        await asyncio.wait_for(arrived.wait(), 5)
        second = await client.call_tool("mi_execute", {"command": "t_hash"})
        sent_before_health = fake_mi.count()
        health = await client.call_tool("opensips_health", {})
        sent_after_health = fake_mi.count()
        release.set()
        first = await asyncio.wait_for(running, 5)

    assert error_code(second) == "busy"
    assert not first.is_error
    assert fake_mi.count("t_hash") == 1
    assert sent_after_health == sent_before_health
    queue = (health.structured_content or {})["mi_queue"]
    assert queue["heavy_running"] == "t_hash"


async def test_calls_beyond_the_queue_are_refused_fast_as_busy_and_nothing_piles_up(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    release = fake_mi.hold["dlg_list"] = asyncio.Event()
    arrived = fake_mi.received["dlg_list"] = asyncio.Event()
    server = make_server(Role.VIEWER, mi_max_in_flight=1, mi_max_queued=2)

    async with Client(server) as client:
        tasks = [
            asyncio.create_task(client.call_tool("mi_execute", {"command": "dlg_list"}))
            for _ in range(3)
        ]
        await asyncio.wait_for(arrived.wait(), 5)
        refused = await client.call_tool("mi_execute", {"command": "dlg_list"})
        in_mi = fake_mi.count("dlg_list")
        release.set()
        done = await asyncio.wait_for(asyncio.gather(*tasks), 5)

    assert error_code(refused) == "busy"
    assert in_mi == 1  # one at OpenSIPS, two waiting here
    assert [r.is_error for r in done] == [False, False, False]
    assert fake_mi.count("dlg_list") == 3


async def test_health_reports_the_queue_and_recent_latency(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    server = make_server(Role.VIEWER)
    async with Client(server) as client:
        await client.call_tool("opensips_health", {})
        health = await client.call_tool("opensips_health", {})

    queue = (health.structured_content or {})["mi_queue"]
    assert (queue["max_in_flight"], queue["in_flight"], queue["queued"]) == (1, 0, 0)
    assert queue["latency_p50_ms"] is not None
