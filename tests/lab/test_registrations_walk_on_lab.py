"""A real OpenSIPS whose tables are too large for one MI answer (``make lab``).

Measured on a real 3.6.8 (pkg memory 32 MB, so httpd's buf_size is 8 MB): with 30,000
contacts the full dump (9.6 MB) is answered HTTP 500 over mi_http and ``500 Internal
error`` over mi_datagram, and ``ul_dump brief`` (720 KB) still comes back over mi_http.
Over mi_datagram the full dump fails from ~200 contacts. ``registrations_list`` then walks
the table AOR by AOR: every contact comes once (over mi_http:
``test_request_size_on_lab.py``).

Over mi_datagram, ``dlg_list`` answers ~956 bytes per call: a dialogs_list fetch of ~94
calls is lost the same way and asked again for fewer.

The tests add their AORs with ``ul_add`` and their calls with SIPp, and remove both
afterwards, whatever happens.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.catalog import AccessLevel
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.mi import MIClient, MISettings
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings
from tests.lab.sipp_calls import TempCalls
from tests.server.helpers import error_code
from tests.toolsets.helpers import call

from .aors import aor

DATAGRAM_FLOOD = 300
"""AORs that make the full dump larger than one datagram (65,457 bytes)."""


@asynccontextmanager
async def flood(url: str, count: int) -> AsyncIterator[set[tuple[str, str]]]:
    """Add ``count`` AORs (one contact each), yield them, remove them."""
    added = {
        (aor(f"walk{i:05d}"), f"sip:walk{i:05d}@192.0.2.{i % 250 + 1}:5060") for i in range(count)
    }
    async with MIClient(MISettings(url=url, read_timeout=20.0, total_timeout=30.0)) as mi:
        try:
            for name, contact in added:
                params = {
                    "table_name": "location",
                    "aor": name,
                    "contact": contact,
                    "expires": 3600,
                    "q": "0.5",
                    "flags": 0,
                    "cflags": 0,
                    "methods": -1,
                }
                await mi.call("ul_add", params, level=AccessLevel.WRITE)
            yield added
        finally:
            for name, _ in added:
                await mi.call(
                    "ul_rm", {"table_name": "location", "aor": name}, level=AccessLevel.WRITE
                )


def viewer(url: str, tmp_path: Path) -> Any:
    return build_server(
        Settings(
            mi_url=url,
            role=Role.VIEWER,
            audit_log=tmp_path / "audit.jsonl",
            confirm=ConfirmPolicy.NONE,
            mi_read_timeout=20.0,
            mi_total_timeout=30.0,
            mi_viewer_budget=0,
        )
    )


async def walk(client: Client, limit: int) -> list[tuple[str, str]]:
    """The (AOR, contact) pairs of every page."""
    seen: list[tuple[str, str]] = []
    cursor: str | None = None
    for _ in range(2000):  # bounded: a walk that never ends fails the test
        args: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        result = await client.call_tool("registrations_list", args)
        assert error_code(result) is None, result
        page = result.structured_content
        assert page is not None
        assert page["total"] is None  # walked: the full dump did not come back
        seen += [(c["aor"], c["contact"]) for c in page["contacts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the walk did not end")


@pytest.mark.skipif(
    not os.environ.get("OPENSIPS_MI_DATAGRAM"), reason="the lab runs no mi_datagram"
)
async def test_over_mi_datagram_a_table_over_one_datagram_is_walked(
    lab_url: str, tmp_path: Path
) -> None:
    address = os.environ["OPENSIPS_MI_DATAGRAM"]
    url = f"unix://{address}" if address.startswith("/") else f"udp://{address}"
    async with flood(lab_url, DATAGRAM_FLOOD) as added:
        async with Client(viewer(url, tmp_path)) as client:
            seen = await walk(client, 100)
        assert len(seen) == len(set(seen))
        assert added <= set(seen)


DATAGRAM_CALLS = 72
"""Calls whose ``dlg_list`` (956 bytes each on a real 3.6.8) overflow one datagram."""


@pytest.mark.skipif(
    not os.environ.get("OPENSIPS_MI_DATAGRAM"), reason="the lab runs no mi_datagram"
)
async def test_over_mi_datagram_dialogs_list_pages_past_one_datagram(
    admin: Any, tmp_path: Path
) -> None:
    """A page's first fetch (~94 dialogs) does not fit one datagram; it is asked again for
    fewer, and every call comes once."""
    address = os.environ["OPENSIPS_MI_DATAGRAM"]
    url = f"unix://{address}" if address.startswith("/") else f"udp://{address}"
    offset = int(os.environ.get("LAB_PORT_OFFSET", "0") or "0") + 20
    async with TempCalls(
        admin, caller="frank", callee="grace", calls=DATAGRAM_CALLS, offset=offset
    ) as temp:
        ids = set(await temp.confirmed_ids())
        try:
            seen: list[str] = []
            async with Client(viewer(url, tmp_path)) as client:
                cursor: str | None = None
                for _ in range(100):
                    args: dict[str, Any] = {"limit": 500, "from_contains": "sip:frank@"}
                    result = await client.call_tool(
                        "dialogs_list", {**args, **({"cursor": cursor} if cursor else {})}
                    )
                    assert error_code(result) is None, result
                    page = result.structured_content
                    assert page is not None
                    seen += [d["id"] for d in page["dialogs"]]
                    cursor = page["next_cursor"]
                    if cursor is None:
                        break
            assert len(seen) == len(set(seen))
            assert set(seen) == ids
        finally:
            await call(admin, "profile_end_dialogs", {"profile": "caller", "value": "frank"})
            await temp.wait_gone(ids)
