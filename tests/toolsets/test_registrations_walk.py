"""A usrloc too large for one ``ul_dump`` answer is listed AOR by AOR.

On a real 3.6.8 with 30,000 contacts the full dump (9.6 MB) is answered HTTP 500 over
mi_http (over httpd's buf_size) and ``500 Internal error`` over mi_datagram (over one
datagram), while ``ul_dump brief`` (the AOR names) still comes back
(``tests/lab/test_registrations_walk_on_lab.py``). ``registrations_list`` then lists the
AORs with ``brief`` and reads each one's contacts with ``ul_show_contact``, a bounded number
per page: every contact comes once, filters still apply, and nothing is sent twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP
from opensips_mcp.tools.registration_walk import AORS_PER_PAGE
from opensips_sim.runner import RunningSimulator, running_simulator, serving_stream
from opensips_sim.state.usrloc import UsrlocState

from .conftest import CAPTURE_EPOCH
from .helpers import content, error_code, last_seq, server_for

FLOOD = 300
"""AORs added to the quiet scenario's three: ~100 KB of full dump, ~8 KB of brief one."""
BUF_SIZE = 30_000
"""httpd buf_size of the simulator: the full dump does not fit, the brief one does."""


@pytest.fixture
async def big() -> AsyncIterator[RunningSimulator]:
    """The quiet scenario plus :data:`FLOOD` AORs (``flood000``..., one contact each, and
    three contacts for ``flood007``), behind an httpd buf_size the full dump exceeds."""
    async with running_simulator(
        "quiet", seed=1, frozen_at=CAPTURE_EPOCH, buf_size=BUF_SIZE
    ) as running:
        usrloc = running.world.get(UsrlocState)
        for i in range(FLOOD):
            extra = 3 if i == 7 else 1
            for n in range(extra):
                usrloc.add(
                    f"flood{i:03d}",
                    f"sip:flood{i:03d}@192.0.2.{n + 1}:5060",
                    expires_in=3600,
                    q=500,
                    flags=0,
                    cflags="",
                    methods=0xFFFFFFFF,
                )
        yield running


def every_contact(sim: RunningSimulator) -> set[tuple[str, str]]:
    usrloc = sim.world.get(UsrlocState)
    return {(aor, c.contact) for aor in usrloc.aors() for c in usrloc.contacts(aor) or []}


async def walk_all(
    client: Client, args: dict[str, Any]
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Every (AOR, contact) of a paged registrations_list, and each page."""
    seen: list[tuple[str, str]] = []
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):  # bounded: a walk that never ends fails the test
        result = await client.call_tool(
            "registrations_list", {**args, **({"cursor": cursor} if cursor else {})}
        )
        page = content(result)
        pages.append(page)
        seen += [(item["aor"], item["contact"]) for item in page["contacts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages
    raise AssertionError("the walk did not end")


def sent(sim: RunningSimulator, since: int) -> list[tuple[str, Any]]:
    return [(e["method"], e["params"]) for e in sim.journal(since)]


@pytest.mark.parametrize("stateless", [False, True], ids=["snapshot", "stateless"])
async def test_every_contact_comes_once_when_the_dump_is_too_large(
    stateless: bool, big: RunningSimulator, tmp_path: Path
) -> None:
    server = server_for(big, Role.VIEWER, tmp_path, stateless=stateless)
    before = last_seq(big)
    async with Client(server) as client:
        seen, pages = await walk_all(client, {"limit": 50})

    assert len(seen) == len(set(seen))
    assert set(seen) == every_contact(big)
    assert len(seen) == FLOOD + 2 + 3  # flood007 has three contacts; alice, bob, carol
    assert all(page["total"] is None and page["notice"] for page in pages)
    assert all(page["returned"] <= 50 for page in pages)
    assert [page["returned"] for page in pages[:-1]] == [50] * (len(pages) - 1)
    methods = [method for method, _ in sent(big, before)]
    dumps = len(pages) if stateless else 1  # a stateless page lists the AORs again
    assert methods.count("ul_dump") == 2 * dumps  # the full one (500), then the brief one
    assert methods.count("ul_show_contact") == FLOOD + 3  # each AOR read once
    assert [params for method, params in sent(big, before)][:2] == [None, {"brief": 1}]


async def test_an_aor_with_more_contacts_than_a_page_is_continued_mid_aor(
    big: RunningSimulator, make_big_server: Any
) -> None:
    async with Client(make_big_server()) as client:
        seen, _ = await walk_all(client, {"aor_prefix": "flood00", "limit": 2})

    flood007 = [contact for aor, contact in seen if aor == "flood007"]
    assert sorted(flood007) == [f"sip:flood007@192.0.2.{n}:5060" for n in (1, 2, 3)]
    assert len(seen) == len(set(seen)) == 12  # flood000..flood009, flood007 three times
    assert {aor for aor, _ in seen} == {f"flood00{i}" for i in range(10)}


async def test_filters_still_apply_and_a_page_reads_a_bounded_number_of_aors(
    big: RunningSimulator, make_big_server: Any
) -> None:
    before = last_seq(big)
    async with Client(make_big_server()) as client:
        seen, pages = await walk_all(client, {"user_agent": "sipp-reflab", "limit": 500})

    assert {aor for aor, _ in seen} == {"alice", "bob", "carol"}
    reads = [method for method, _ in sent(big, before)].count("ul_show_contact")
    assert reads == FLOOD + 3
    assert len(pages) == -(-reads // AORS_PER_PAGE)  # no page reads more than its bound


async def test_an_aor_gone_between_pages_is_skipped(
    big: RunningSimulator, make_big_server: Any
) -> None:
    async with Client(make_big_server()) as client:
        first = content(await client.call_tool("registrations_list", {"limit": 10}))
        big.world.get(UsrlocState).remove_aor("flood200")
        seen = [(c["aor"], c["contact"]) for c in first["contacts"]]
        cursor = first["next_cursor"]
        while cursor is not None:
            page = content(
                await client.call_tool("registrations_list", {"limit": 100, "cursor": cursor})
            )
            seen += [(c["aor"], c["contact"]) for c in page["contacts"]]
            cursor = page["next_cursor"]

    assert set(seen) == every_contact(big)
    assert "flood200" not in {aor for aor, _ in seen}


async def test_the_walk_is_audited_as_one_successful_call(
    big: RunningSimulator, make_big_server: Any, tmp_path: Path
) -> None:
    async with Client(make_big_server()) as client:
        await client.call_tool("registrations_list", {"limit": 5})

    records = [
        json.loads(line) for line in (tmp_path / "audit-viewer.jsonl").read_text().splitlines()
    ]
    record = [r for r in records if r.get("kind") == "call"][-1]
    assert record["outcome"] == "ok"
    calls = [(c["command"], c["outcome"]) for c in record["calls"]]
    assert calls[:2] == [("ul_dump", "error"), ("ul_dump", "ok")]
    assert {c for c in calls[2:]} == {("ul_show_contact", "ok")}


async def test_when_even_the_aor_list_is_too_large_the_error_says_what_works(
    tmp_path: Path,
) -> None:
    async with running_simulator("quiet", seed=1, frozen_at=CAPTURE_EPOCH, buf_size=20) as sim:
        before = last_seq(sim)
        server = server_for(sim, Role.VIEWER, tmp_path)
        async with Client(server) as client:
            result = await client.call_tool("registrations_list", {})
            one = await client.call_tool("registrations_list", {"aor": "alice", "limit": 1})

        assert error_code(result) == "bad_response"
        assert [p for _, p in sent(sim, before)][:2] == [None, {"brief": 1}]
        assert error_code(one) == "bad_response"  # even one AOR's answer is over 20 bytes


async def test_over_mi_datagram_the_walk_reads_what_one_datagram_cannot_carry(
    big: RunningSimulator, tmp_path: Path, short_dir: Path
) -> None:
    async with serving_stream(big, "udp", str(short_dir)) as url:
        server = server_for(big, Role.VIEWER, tmp_path, mi_url=url)
        async with Client(server) as client:
            seen, pages = await walk_all(client, {"limit": 500})

    assert set(seen) == every_contact(big)
    assert len(seen) == len(set(seen))
    assert all(page["total"] is None for page in pages)


@pytest.fixture
def make_big_server(big: RunningSimulator, tmp_path: Path) -> Any:
    def make(**changes: Any) -> OpenSIPSMCP:
        return server_for(big, Role.VIEWER, tmp_path, **changes)

    return make


@pytest.fixture
def short_dir() -> Any:
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="walk-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
