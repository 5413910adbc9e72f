"""Paging walks the whole ``large`` scenario (100,000 contacts, 50,000 dialogs) without a
gap or a duplicate, within the result size limit, and without re-reading everything per
page: registrations come from one ``ul_dump`` snapshot, dialogs from ``dlg_list``'s own
``index``/``counter`` paging. One large simulator serves the whole module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import pytest_asyncio
from mcp import Client
from mcp.client.session import ClientSession

from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP
from opensips_mcp.tools.dialogs import ANCHOR_WINDOW
from opensips_sim.runner import RunningSimulator, running_simulator
from opensips_sim.state.dialog import DialogState
from opensips_sim.state.usrloc import UsrlocState

from .conftest import CAPTURE_EPOCH
from .helpers import RESULT_LIMIT, content, error_code, last_seq, result_size, server_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def large() -> AsyncIterator[RunningSimulator]:
    """The large scenario, loaded once for the module (clock frozen: nothing expires)."""
    async with running_simulator("large", seed=1, frozen_at=CAPTURE_EPOCH) as running:
        yield running


@pytest.fixture
def server(large: RunningSimulator, tmp_path: Path) -> OpenSIPSMCP:
    # Walking 50,000 dialogs holds the MI for more than a viewer's default 20 s per minute
    # (it is then refused over_budget, as it should be): these tests are about paging.
    return server_for(large, Role.VIEWER, tmp_path, mi_viewer_budget=0)


@pytest.fixture
def fast_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the client's own output-schema check for the walks: jsonschema takes ~80 ms
    per 500-item page, which would dominate them. The tests check the schema of some
    pages themselves, and the server validates every result before it leaves."""

    async def no_check(self: ClientSession, name: str, result: Any) -> None:
        return None

    monkeypatch.setattr(ClientSession, "validate_tool_result", no_check)


async def _walk(
    client: Client, tool: str, args: dict[str, Any], key: str, item_key: str
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Every item of a paged listing, and each page's content."""
    items: list[Any] = []
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        result = await client.call_tool(tool, {**args, **({"cursor": cursor} if cursor else {})})
        assert result_size(result) <= RESULT_LIMIT
        page = content(result)
        pages.append(page)
        items += [item[item_key] for item in page[key]]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


async def _output_schema(client: Client, tool: str) -> dict[str, Any]:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    schema = tools[tool].output_schema
    assert schema is not None
    return schema


@pytest.mark.usefixtures("fast_client")
async def test_registrations_walk_every_contact_once_from_one_dump(
    large: RunningSimulator, server: OpenSIPSMCP
) -> None:
    usrloc = large.world.get(UsrlocState)
    expected = {str(c.contact_id) for aor in usrloc.aors() for c in usrloc.contacts(aor) or []}
    before = last_seq(large)
    async with Client(server) as client:
        ids, pages = await _walk(
            client, "registrations_list", {"limit": 500}, "contacts", "contact_id"
        )
        schema = await _output_schema(client, "registrations_list")
    assert len(expected) == 100_000
    assert len(ids) == len(set(ids)) == 100_000
    assert set(ids) == expected
    assert [e["method"] for e in large.journal(before)] == ["ul_dump"]
    assert {p["total"] for p in pages} == {100_000}
    assert all(p["size_limited"] for p in pages[:-1])
    for page in (pages[0], pages[len(pages) // 2], pages[-1]):
        jsonschema.validate(page, schema)


@pytest.mark.usefixtures("fast_client")
async def test_dialogs_walk_every_call_once_with_native_paging(
    large: RunningSimulator, server: OpenSIPSMCP
) -> None:
    expected = {d.did for d in large.world.get(DialogState).walk()}
    before = last_seq(large)
    async with Client(server) as client:
        ids, pages = await _walk(client, "dialogs_list", {"limit": 500}, "dialogs", "id")
        schema = await _output_schema(client, "dialogs_list")
    assert len(ids) == len(set(ids)) == len(expected) == 50_000
    assert set(ids) == expected
    assert all(p["resumed_exactly"] for p in pages)
    sent = large.journal(before)
    assert {e["method"] for e in sent} == {"dlg_list"}
    assert all(set(e["params"]) == {"index", "counter"} for e in sent)
    fetched = sum(e["params"]["counter"] for e in sent)
    # Each page re-reads at most the window around its cursor: never the whole table.
    assert fetched <= 50_000 + len(pages) * (2 * ANCHOR_WINDOW + 1)
    for page in (pages[0], pages[-1]):
        jsonschema.validate(page, schema)


async def test_registration_filters_apply_before_paging(
    large: RunningSimulator, server: OpenSIPSMCP
) -> None:
    usrloc = large.world.get(UsrlocState)
    expected = {
        str(c.contact_id)
        for aor in usrloc.aors()
        if aor.startswith("user4999")
        for c in usrloc.contacts(aor) or []
    }
    async with Client(server) as client:
        page = content(
            await client.call_tool("registrations_list", {"aor_prefix": "user4999", "limit": 500})
        )
    assert page["total"] == len(expected) == 22
    assert {c["contact_id"] for c in page["contacts"]} == expected
    assert page["next_cursor"] is None


@pytest.mark.usefixtures("fast_client")
async def test_dialog_filters_apply_before_paging_across_the_whole_table(
    large: RunningSimulator, server: OpenSIPSMCP
) -> None:
    expected = {
        d.did for d in large.world.get(DialogState).walk() if d.from_uri.startswith("sip:user12")
    }
    async with Client(server) as client:
        ids, pages = await _walk(
            client,
            "dialogs_list",
            {"from_contains": "sip:user12", "limit": 500},
            "dialogs",
            "id",
        )
    assert expected and len(ids) == len(set(ids))
    assert set(ids) == expected
    assert sum(p["scanned"] for p in pages) == 50_000
    assert all(p["total"] is None and p["dialogs_in_table"] == 50_000 for p in pages)


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("opensips_status", {}),
        ("get_statistics", {"statistics": ["all"]}),
        ("registrations_list", {"aor": "user42"}),
        ("dialogs_list", {"state": "confirmed", "limit": 500}),
        ("dialog_profiles", {}),
        ("dialog_profiles", {"profile": "caller", "limit": 500}),
        ("dialogs_list", {"profile": "caller", "profile_value": "user7", "limit": 500}),
        ("dispatcher_list", {}),
        ("lb_destinations", {}),
        ("routing_status", {}),
        ("cluster_status", {}),
    ],
)
async def test_read_tools_answer_within_64_kb_on_a_large_server(
    tool: str, args: dict[str, Any], server: OpenSIPSMCP
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(tool, args)
    content(result)
    assert result_size(result) <= RESULT_LIMIT


async def test_the_status_of_a_large_server_counts_its_calls_and_contacts(
    server: OpenSIPSMCP,
) -> None:
    async with Client(server) as client:
        status = content(await client.call_tool("opensips_status", {}))
        profiles = content(await client.call_tool("dialog_profiles", {"profile": "caller"}))
    assert (status["active_dialogs"], status["registered_contacts"]) == (50_000, 100_000)
    assert profiles["profiles"][0]["size"] == 50_000
    assert profiles["next_cursor"] is not None and profiles["total"] > 500


@pytest.mark.parametrize("role", list(Role))
async def test_changes_on_a_large_server_are_gated_per_role(
    role: Role, large: RunningSimulator, tmp_path: Path
) -> None:
    server = server_for(large, role, tmp_path)
    aor = f"visitor-{role.value}"
    async with Client(server) as client:
        before_add = last_seq(large)
        added = await client.call_tool(
            "registration_add", {"aor": aor, "contact": f"sip:{aor}@192.0.2.1:5060"}
        )
        add_sent = large.journal(before_add)
        before_remove = last_seq(large)
        removed = await client.call_tool("registration_remove", {"aor": aor})
        remove_sent = large.journal(before_remove)
    usrloc = large.world.get(UsrlocState)
    if role is Role.VIEWER:
        assert error_code(added) == error_code(removed) == "permission_denied"
        assert add_sent == remove_sent == []
        return
    assert content(added)["action"] == "added"
    if role is Role.OPERATOR:
        assert error_code(removed) == "permission_denied" and remove_sent == []
        usrloc.remove_aor(aor)  # leave the shared world as it was
        return
    assert content(removed)["action"] == "removed"
    assert usrloc.contacts(aor) is None
