"""Protecting a real OpenSIPS from its agent (``make lab``): a viewer's t_hash is refused
with its cost and nothing is sent; an admin's runs once under its own timeout while the
MI stays reachable for health; 20 concurrent dialogs_list calls from 4 principals never
put more than the configured number of requests at OpenSIPS, and each gets its share.

The admin's t_hash takes about a minute on the lab: it runs only with
``OPENSIPS_LAB_SLOW=1``.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Principal, Role
from opensips_mcp.mi import MIClient
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings

CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="stdio")


def lab_server(lab_url: str, tmp_path: Path, role: Role, **changes: Any) -> OpenSIPSMCP:
    settings = Settings(
        mi_url=lab_url,
        role=role,
        audit_log=tmp_path / "audit.jsonl",
        confirm=ConfirmPolicy.NONE,
        mi_connect_timeout=2.0,
        mi_read_timeout=5.0,
        mi_total_timeout=10.0,
        **changes,
    )
    return build_server(settings)


def records(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "tool" in r]


def error_code(result: Any) -> str | None:
    if not result.is_error:
        return None
    text = result.content[0].text
    return text.split(": ", 1)[1].split(":", 1)[0] if ": " in text else text


async def test_a_viewers_t_hash_is_refused_with_its_cost_and_nothing_is_sent(
    lab_url: str, tmp_path: Path
) -> None:
    server = lab_server(lab_url, tmp_path, Role.VIEWER)
    async with Client(server) as client:
        started = time.monotonic()
        result = await client.call_tool("mi_execute", {"command": "t_hash"})
        refused_in = time.monotonic() - started
        health = await client.call_tool("opensips_health", {})

    assert error_code(result) == "too_heavy"
    assert "get_statistics" in result.content[0].text  # type: ignore[union-attr]
    (record, _) = records(tmp_path)
    assert (record["decision"], record["mi_attempts"]) == ("deny", 0)
    assert refused_in < 1.0
    assert (health.structured_content or {})["reachable"] is True


@pytest.mark.skipif(not os.environ.get("OPENSIPS_LAB_SLOW"), reason="t_hash takes ~1 min")
async def test_an_admins_t_hash_runs_once_under_its_own_timeout_and_health_waits_not(
    lab_url: str, tmp_path: Path
) -> None:
    # The normal read timeout (5 s) is far below t_hash's time: only its own timeout
    # (mi_heavy_timeout) lets it finish, once.
    server = lab_server(lab_url, tmp_path, Role.ADMIN, mi_heavy_timeout=180.0)
    async with Client(server) as client:
        started = time.monotonic()
        running = asyncio.create_task(client.call_tool("mi_execute", {"command": "t_hash"}))
        runtime: Any = server.runtime  # type: ignore[attr-defined]
        queue = runtime.instances[runtime.default_instance].admission
        for _ in range(10_000):
            if queue.stats().heavy_running is not None:
                break
            await asyncio.sleep(0)
        health = await client.call_tool("opensips_health", {})
        second = await client.call_tool("mi_execute", {"command": "t_hash"})
        result = await asyncio.wait_for(running, 200)
        took = time.monotonic() - started

    assert not result.is_error, result
    assert error_code(second) == "busy"
    assert (health.structured_content or {})["mi_queue"]["heavy_running"] == "t_hash"
    t_hash = [r for r in records(tmp_path) if r["tool"] == "mi_execute"]
    ok = [r for r in t_hash if r["outcome"] == "ok"]
    assert len(ok) == 1 and ok[0]["mi_attempts"] == 1
    print(f"t_hash on the lab: {took:.1f} s, once")


async def test_20_concurrent_dialogs_list_calls_from_4_principals_queue_here_fairly(
    lab_url: str, tmp_path: Path
) -> None:
    server = lab_server(lab_url, tmp_path, Role.VIEWER, mi_max_in_flight=1)
    runtime: Any = server.runtime  # type: ignore[attr-defined]
    runtime.principal = lambda: Principal(CALLER.get(), Role.VIEWER)
    in_flight = 0
    most = 0
    order: list[str] = []
    original = MIClient.call

    async def counting(self: MIClient, method: str, params: Any = None, **kw: Any) -> Any:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await original(self, method, params, **kw)
        finally:
            in_flight -= 1
            order.append(CALLER.get())

    async def one(client: Client, principal: str) -> Any:
        CALLER.set(principal)
        return await client.call_tool("dialogs_list", {})

    MIClient.call = counting  # type: ignore[method-assign]
    try:
        async with Client(server) as client:
            principals = [f"token{i % 4}" for i in range(20)]
            results = await asyncio.wait_for(
                asyncio.gather(*(one(client, p) for p in principals)), 60
            )
    finally:
        MIClient.call = original  # type: ignore[method-assign]

    assert [r.is_error for r in results] == [False] * 20, [r for r in results if r.is_error]
    assert most == 1, f"{most} requests at OpenSIPS at once"
    # Round robin: in every prefix of the MI answers, the principals' counts differ by
    # at most 2 (one in flight when the others queued, plus one turn).
    counts = dict.fromkeys(set(order), 0)
    for principal in order:
        counts[principal] += 1
        assert max(counts.values()) - min(counts.values()) <= 2, (order, counts)
    assert {r["principal"] for r in records(tmp_path)} == {f"token{i}" for i in range(4)}
