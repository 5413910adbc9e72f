"""The statistics tools take "group:name" from the agent and send what OpenSIPS understands.

A real OpenSIPS (3.4-4.0, ``statistics.c``) answers ``{}`` to a ``group:name`` item; the
simulator does the same, so these tests fail if a tool sends the agent's item as it is.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from opensips_mcp.gate import Role
from opensips_mcp.tools.statistic_names import missing, query_items, select, selects
from opensips_sim.runner import RunningSimulator

from .conftest import ServerFor
from .helpers import call, content


def sent_items(sim: RunningSimulator) -> list[list[Any]]:
    """The ``statistics`` parameter of every get_statistics the simulator received."""
    return [e["params"]["statistics"] for e in sim.journal() if e["method"] == "get_statistics"]


def test_group_colon_name_is_asked_as_its_group_and_the_rest_as_written() -> None:
    asked = ["dialog:active_dialogs", "Dialog:early_dialogs", "core:", "rcv_requests", "ALL"]
    assert query_items(asked) == ["dialog:", "core:", "rcv_requests", "all"]


@pytest.mark.parametrize(
    ("item", "name", "expected"),
    [
        ("all", "core:rcv_requests", True),
        ("core:", "core:rcv_requests", True),
        ("CORE:", "core:rcv_requests", True),
        ("core:rcv_requests", "core:rcv_requests", True),
        ("rcv_requests", "core:rcv_requests", True),
        ("dialog:rcv_requests", "core:rcv_requests", False),
        ("rcv", "core:rcv_requests", False),
    ],
)
def test_which_items_select_a_statistic(item: str, name: str, expected: bool) -> None:
    assert selects(item, name) is expected


def test_select_keeps_only_what_was_asked_and_missing_lists_real_misses() -> None:
    values = {"dialog:active_dialogs": 3, "dialog:early_dialogs": 0, "core:rcv_requests": 9}
    asked = ["dialog:active_dialogs", "core:nope", "nogroup:"]
    assert select(values, asked) == {"dialog:active_dialogs": 3}
    assert missing(asked, values) == ["core:nope", "nogroup:"]


async def test_get_statistics_by_full_names_answers_their_values(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    asked = ["dialog:active_dialogs", "core:rcv_requests", "inuse_transactions", "core:nope"]
    data = content(await call(make_server(Role.VIEWER), "get_statistics", {"statistics": asked}))
    assert set(data["statistics"]) == {
        "dialog:active_dialogs",
        "core:rcv_requests",
        "tm:inuse_transactions",
    }
    assert data["statistics"]["dialog:active_dialogs"] == 3
    assert data["missing"] == ["core:nope"]
    assert data["groups"] == ["core", "dialog", "tm"]
    assert sent_items(sim) == [["dialog:", "core:", "inuse_transactions"]]


async def test_statistics_delta_by_a_full_name_measures_it(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if progress == 0:
            sim.world.counters.incr("core:rcv_requests", 20)

    async with Client(make_server(Role.VIEWER)) as client:
        result = await client.call_tool(
            "statistics_delta",
            {
                "statistics": ["core:rcv_requests", "core:nope"],
                "interval_seconds": 1,
                "include_unchanged": True,
            },
            progress_callback=on_progress,
        )
    data = content(result)
    assert [(d["name"], d["delta"]) for d in data["changed"]] == [("core:rcv_requests", 20)]
    assert data["unchanged_names"] == [] and data["missing"] == ["core:nope"]


async def test_opensips_status_reads_transactions_in_use(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    data = content(await call(make_server(Role.VIEWER), "opensips_status"))
    assert data["transactions_in_use"] is not None
    assert data["active_dialogs"] == 3
    assert all(":" not in item or item.endswith(":") for item in sent_items(sim)[0])
