"""No tool result exceeds 64 KB, however large or hostile the data: long SIP values are
clipped, pages stop early with a cursor, and what cannot fit is left out with a flag."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.gate import Role
from opensips_mcp.tools.untrusted import CLIP_MARK
from opensips_sim import scenarios
from opensips_sim.runner import RunningSimulator, running_simulator
from opensips_sim.state.statistics import StatisticsState

from .conftest import CAPTURE_EPOCH, ServerFor
from .helpers import RESULT_LIMIT, call, content, result_size, server_for

BIG_CALLID = "big-1@192.0.2.1"


def huge_scenario() -> dict[str, Any]:
    data = scenarios.load("quiet")
    data["usrloc"]["aors"]["loud"] = [
        {"contact": "sip:loud@192.0.2.1:5060", "user_agent": "U" * 100_000, "expires_in": 600}
    ]
    data["usrloc"]["aors"]["crowd"] = [
        {
            "contact": f"sip:crowd@192.0.2.{n % 250}:{5000 + n};transport=tcp;ob",
            "user_agent": f"Phone/{n} " + "x" * 120,
            "expires_in": 600,
        }
        for n in range(300)
    ]
    sdp = "v=0\r\n" + "a=x\r\n" * 40_000
    data["dialog"]["dialogs"].append(
        {
            "callid": BIG_CALLID,
            "state": 4,
            "from_uri": "sip:" + "f" * 5000 + "@192.0.2.1",
            "to_uri": "sip:bob@127.0.0.1",
            "caller": {"tag": "A", "contact": "sip:a@192.0.2.1", "cseq": "1", "sdp": sdp},
            "callees": [
                {"tag": f"B{n}", "contact": f"sip:b{n}@192.0.2.2", "cseq": "1", "sdp": sdp}
                for n in range(30)
            ],
            "values": [[f"v{n}", "y" * 2000] for n in range(500)],
        }
    )
    return data


@pytest.fixture
async def huge() -> AsyncIterator[RunningSimulator]:
    async with running_simulator(huge_scenario(), seed=1, frozen_at=CAPTURE_EPOCH) as sim:
        yield sim


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("registrations_list", {"limit": 500}),
        ("registrations_list", {"aor": "crowd", "limit": 500}),
        ("dialogs_list", {"limit": 500}),
        ("dialog_show", {"callid": BIG_CALLID}),
        ("registration_add", {"aor": "crowd", "contact": "sip:crowd@192.0.2.99:5060"}),
        ("opensips_status", {}),
        ("get_statistics", {"statistics": ["all"]}),
    ],
)
async def test_no_result_exceeds_64_kb(
    tool: str, args: dict[str, Any], huge: RunningSimulator, tmp_path: Any
) -> None:
    result = await call(server_for(huge, Role.ADMIN, tmp_path), tool, args)
    content(result)
    assert result_size(result) <= RESULT_LIMIT


async def test_a_huge_sip_value_is_clipped_and_marked(
    huge: RunningSimulator, tmp_path: Any
) -> None:
    page = content(
        await call(server_for(huge, Role.VIEWER, tmp_path), "registrations_list", {"aor": "loud"})
    )
    (contact,) = page["contacts"]
    assert contact["user_agent"].endswith(CLIP_MARK)
    assert len(contact["user_agent"]) < 2000


async def test_a_call_too_big_to_show_whole_leaves_out_its_sdp_and_says_so(
    huge: RunningSimulator, tmp_path: Any
) -> None:
    shown = content(
        await call(server_for(huge, Role.VIEWER, tmp_path), "dialog_show", {"callid": BIG_CALLID})
    )
    assert shown["found"] is True and shown["sdp_omitted"] is True
    assert shown["caller"]["sdp"] is None and len(shown["callees"]) == 8
    assert shown["lists_shortened"] is True and 0 < len(shown["values"]) < 500
    assert shown["from_uri"].endswith(CLIP_MARK)


async def test_a_page_too_big_for_its_limit_stops_early_and_the_cursor_continues(
    huge: RunningSimulator, tmp_path: Any
) -> None:
    contacts: list[str] = []
    cursor: str | None = None
    pages = 0
    async with Client(server_for(huge, Role.VIEWER, tmp_path)) as client:
        while True:
            args: dict[str, Any] = {"aor": "crowd", "limit": 500}
            if cursor:
                args["cursor"] = cursor
            result = await client.call_tool("registrations_list", args)
            assert result_size(result) <= RESULT_LIMIT
            page = content(result)
            pages += 1
            contacts += [c["contact"] for c in page["contacts"]]
            assert page["size_limited"] is (page["next_cursor"] is not None)
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert pages > 1
    assert len(contacts) == len(set(contacts)) == 300


async def test_too_many_statistics_are_cut_with_a_flag(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    many = {f"custom:stat_{n:05d}_with_a_long_name": n for n in range(5000)}
    stats = sim.world.get(StatisticsState)
    stats.values = lambda: many  # type: ignore[method-assign]
    result = await call(make_server(Role.VIEWER), "get_statistics", {"statistics": ["all"]})
    data = content(result)
    assert result_size(result) <= RESULT_LIMIT
    assert data["size_limited"] is True and data["notice"]
    assert 0 < data["count"] < 5000
