"""Request sizes against a real OpenSIPS (``make lab``, its httpd at OpenSIPS's defaults):

* a body over 1,024 bytes: 3.5+ refuse it unread (``request_too_large`` after one request),
  3.4 runs it (here: ``ds_set_state`` of an unknown destination, an OpenSIPS error);
* over 16,384 bytes in all: ``request_too_large`` with nothing sent, on every version;
* either way the lab answers the next call at once, and the audit record says so;
* a NUL character in a parameter (OpenSIPS's JSON parser refuses it; over mi_fifo it never
  answers) is ``invalid_params`` with nothing sent, over mi_http and mi_fifo;
* an answer too large for one mi_datagram reply (``500 Internal error``) is reported as
  such, and mi_http carries the same answer.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.catalog import AccessLevel
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.mi import MIClient, MISettings
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from tests.server.helpers import error_code

from .aors import aor


def set_state(address_size: int) -> dict[str, Any]:
    params = {"state": "i", "group": 1, "address": "sip:" + "x" * address_size}
    return {"command": "ds_set_state", "params": params}


def last_record(tmp_path: Path) -> dict[str, Any]:
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == "call"][-1]


def bounds_body() -> bool:
    version = os.environ.get("OPENSIPS_VERSION", "")
    if not version:
        pytest.skip("OPENSIPS_VERSION (lab.env) names the lab's version")
    return not version.startswith("3.4.")


@pytest.mark.parametrize(
    "address_size", [1100, 20_000], ids=["over-1024-bytes", "over-16384-bytes"]
)
async def test_an_oversize_request_is_refused_and_the_lab_answers_on(
    address_size: int, admin: OpenSIPSMCP, tmp_path: Path
) -> None:
    refused_unread = bounds_body() and address_size < 16_000
    async with Client(admin) as client:
        result = await client.call_tool("mi_execute", set_state(address_size))
        record = last_record(tmp_path)
        uptime = await client.call_tool("mi_execute", {"command": "uptime"})

    if address_size < 16_000 and not refused_unread:
        assert error_code(result) == "opensips_error"  # 3.4 ran it: no such destination
    else:
        assert error_code(result) == "request_too_large"
        assert record["error"] == "request_too_large"
        calls = [c for c in record["calls"] if c["command"] == "ds_set_state"]
        assert [c["attempts"] for c in calls] == [1 if refused_unread else 0]
    assert error_code(uptime) is None


@pytest.mark.parametrize("transport", ["http", "fifo"])
async def test_a_nul_character_is_invalid_params_and_never_sent(
    transport: str, lab_url: str, tmp_path: Path
) -> None:
    url = lab_url
    if transport == "fifo":
        fifo = os.environ.get("OPENSIPS_MI_FIFO")
        if not fifo:
            pytest.skip("OPENSIPS_MI_FIFO (lab.env) names the lab's FIFO")
        url = f"fifo://{fifo}?reply_dir=/tmp/"
    settings = Settings(
        mi_url=url,
        role=Role.ADMIN,
        audit_log=tmp_path / "audit.jsonl",
        confirm=ConfirmPolicy.NONE,
        mi_read_timeout=5.0,
        mi_total_timeout=10.0,
    )
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(
            "mi_execute",
            {"command": "ds_set_state", "params": {"state": "i", "group": 1, "address": "a\x00b"}},
        )
        record = last_record(tmp_path)

    assert error_code(result) == "invalid_params"
    calls = [c for c in record["calls"] if c["command"] == "ds_set_state"]
    assert [(c["decision"], c["attempts"]) for c in calls] == [("deny", 0)]


async def test_an_answer_too_large_for_mi_datagram_says_so_and_the_lab_answers_on(
    admin: OpenSIPSMCP, tmp_path: Path
) -> None:
    """mi_datagram answers ``500 Internal error`` when an answer does not fit in one
    datagram (65,457 bytes); a read is reported as such (bad_response), not as garbage."""
    datagram = os.environ.get("OPENSIPS_MI_DATAGRAM")
    if not datagram:
        pytest.skip("OPENSIPS_MI_DATAGRAM (lab.env) names the lab's mi_datagram socket")
    url = f"unix://{datagram}" if datagram.startswith("/") else f"udp://{datagram}"
    settings = Settings(
        mi_url=url,
        role=Role.ADMIN,
        audit_log=tmp_path / "udp" / "audit.jsonl",
        confirm=ConfirmPolicy.NONE,
        mi_read_timeout=5.0,
        mi_total_timeout=10.0,
    )
    show = {"command": "ul_show_contact", "params": {"table_name": "location", "aor": aor("bulk")}}
    async with Client(admin) as http:
        for i in range(250):  # about 139 KB of contacts for one AOR
            contact = f"sip:bulk{i}-{'p' * 300}@127.0.0.1:5999"
            params = {
                "table_name": "location",
                "aor": aor("bulk"),
                "contact": contact,
                "expires": 3600,
                "q": "1",
                "flags": 0,
                "cflags": "0",
                "methods": 0,
            }
            added = await http.call_tool("mi_execute", {"command": "ul_add", "params": params})
            assert error_code(added) is None
        try:
            async with Client(build_server(settings)) as udp:
                big = await udp.call_tool("mi_execute", show)
                uptime = await udp.call_tool("mi_execute", {"command": "uptime"})
            whole = await http.call_tool("mi_execute", show)
        finally:
            await http.call_tool(
                "mi_execute",
                {"command": "ul_rm", "params": {"table_name": "location", "aor": aor("bulk")}},
            )

    assert error_code(big) == "bad_response"
    assert error_code(uptime) is None
    assert error_code(whole) is None  # mi_http carries it


async def test_registrations_larger_than_httpd_buf_size_are_walked_aor_by_aor(
    admin: OpenSIPSMCP, lab_url: str
) -> None:
    """About 13 MB of registrations: the lab's httpd (buf_size a quarter of its 32 MB pkg
    memory) cannot print ul_dump and answers 500 (bad_response through mi_execute);
    registrations_list lists the AORs with ul_dump brief and reads them one by one (total
    null), and reading one AOR still works. The contacts are removed after."""
    if not lab_url.startswith(("http://", "https://")):
        pytest.skip("about mi_http's buf_size (the lab suite runs over another transport)")
    aors = [aor(f"bufbulk{n}") for n in range(500)]
    async with MIClient(MISettings(url=lab_url, read_timeout=20.0, total_timeout=30.0)) as mi:
        gate = asyncio.Semaphore(8)

        async def add(i: int) -> None:
            params = {
                "table_name": "location",
                "aor": aors[i % 500],
                "expires": 3600,
                "contact": f"sip:b{i}-{'p' * 420}@127.0.0.1:5999",
                "q": "1",
                "flags": 0,
                "cflags": "0",
                "methods": 0,
            }
            async with gate:
                await mi.call("ul_add", params, level=AccessLevel.WRITE)

        async def remove(name: str) -> None:
            async with gate:
                await mi.call(
                    "ul_rm", {"table_name": "location", "aor": name}, level=AccessLevel.DESTRUCTIVE
                )

        try:
            await asyncio.gather(*(add(i) for i in range(24_000)))
            async with Client(admin) as client:
                dump = await client.call_tool("mi_execute", {"command": "ul_dump"})
                listing = await client.call_tool("registrations_list", {"aor_prefix": "bufbulk"})
                one = await client.call_tool("registrations_list", {"aor": aors[0]})
        finally:
            await asyncio.gather(*(remove(name) for name in aors))

    assert error_code(dump) == "bad_response"
    assert error_code(listing) is None
    page = listing.structured_content
    assert page is not None
    assert page["total"] is None and page["next_cursor"] is not None
    listed = [c["aor"] for c in page["contacts"]]
    assert listed and set(listed) <= set(aors)
    assert listed == sorted(listed)  # AOR by AOR, in AOR order
    assert error_code(one) is None
