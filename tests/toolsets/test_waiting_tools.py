"""Tools that wait on purpose: statistics_delta samples twice over its interval and
cluster_drain_node watches calls drain. Both report progress; both are bounded."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from opensips_mcp.gate import Role
from opensips_sim.runner import RunningSimulator
from opensips_sim.state.clusterer import ClustererState
from opensips_sim.state.dialog import DialogState

from .conftest import ServerFor
from .helpers import content, error_code, last_seq, methods

Progress = list[tuple[float, float | None, str | None]]


async def test_statistics_delta_reports_the_rate_of_counters_that_moved_during_the_interval(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    seen: Progress = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if not seen:
            # The first sample is taken: traffic arrives while the tool waits.
            sim.world.counters.incr("core:rcv_requests", 50)
        seen.append((progress, total, message))

    async with Client(make_server(Role.VIEWER)) as client:
        result = await client.call_tool(
            "statistics_delta",
            {"statistics": ["core:"], "interval_seconds": 1},
            progress_callback=on_progress,
        )
    data = content(result)
    (moved,) = data["changed"]
    assert (moved["name"], moved["delta"]) == ("core:rcv_requests", 50)
    assert moved["per_second"] == pytest.approx(50 / data["interval_seconds"], rel=1e-3)
    assert data["interval_seconds"] >= 1.0 and data["interval_seconds"] < 3.0
    assert data["unchanged"] > 0 and data["unchanged_names"] == []
    assert len(seen) >= 2 and seen[0][0] == 0 and seen[-1][0] == seen[-1][1] == 1
    assert [m for m in methods(sim) if m != "which"] == ["get_statistics", "get_statistics"]


@pytest.mark.parametrize("interval", [0.5, 61])
async def test_statistics_delta_refuses_an_interval_outside_1_to_60_seconds(
    interval: float, sim: RunningSimulator, make_server: ServerFor
) -> None:
    async with Client(make_server(Role.VIEWER)) as client:
        result = await client.call_tool("statistics_delta", {"interval_seconds": interval})
    assert result.is_error
    assert methods(sim) == []


async def test_a_drain_disables_this_node_and_ends_when_its_calls_are_gone(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    seen: Progress = []
    dialogs = sim.world.get(DialogState)

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if not seen:
            # The node is disabled: its calls end on their own meanwhile.
            for dialog in list(dialogs.walk()):
                dialogs.remove(dialog)
        seen.append((progress, total, message))

    async with Client(make_server(Role.OPERATOR)) as client:
        result = await client.call_tool(
            "cluster_drain_node",
            {"cluster_id": 1, "node_id": 1, "wait_seconds": 30, "poll_seconds": 0.5},
            progress_callback=on_progress,
        )
    data = content(result)
    assert data["drained"] is True and data["disabled"] is True
    assert (data["dialogs_at_start"], data["dialogs_now"]) == (3, 0)
    assert [s["active_dialogs"] for s in data["samples"]] == [3, 0]
    assert data["waited_seconds"] < 5
    assert [p[1] for p in seen] == [30, 30]
    cluster = sim.world.get(ClustererState).cluster(1)
    assert cluster is not None and cluster.enabled is False
    sets = [e for e in sim.journal() if e["method"] == "clusterer_set_status"]
    assert [e["params"] for e in sets] == [{"cluster_id": 1, "status": 0}]


async def test_a_drain_that_runs_out_of_time_says_calls_remain_and_ends_none(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    result = await make_call(make_server(Role.OPERATOR), {"wait_seconds": 1, "poll_seconds": 0.5})
    data = content(result)
    assert data["drained"] is False and data["dialogs_now"] == 3
    assert data["waited_seconds"] >= 1.0 and data["waited_seconds"] < 3.0
    assert len(data["samples"]) >= 3
    assert len(sim.world.get(DialogState)) == 3
    assert "dlg_end_dlg" not in methods(sim) and "profile_end_dlgs" not in methods(sim)


async def test_a_drain_of_another_node_is_refused_before_anything_changes(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    before = last_seq(sim)
    result = await make_call(make_server(Role.OPERATOR), {"node_id": 2, "wait_seconds": 0})
    assert error_code(result) == "invalid_params"
    assert "clusterer_set_status" not in methods(sim, before)


async def make_call(server: Any, extra: dict[str, Any]) -> Any:
    async with Client(server) as client:
        return await client.call_tool("cluster_drain_node", {"cluster_id": 1, **extra})
