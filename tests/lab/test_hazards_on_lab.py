"""Requests that stop a real OpenSIPS are never sent (``make lab``):

* ``ul_rm_contact`` with a ``contact`` that is not a string or a number, for a registered
  AOR, leaves usrloc's lock held and the real server's MI answers nothing more (3.4.18 to
  4.0.1, measured on 3.6.8): through the MCP server it is ``invalid_params``, audited as
  denied with no request sent, and the AOR still answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.server import OpenSIPSMCP
from tests.server.helpers import error_code

from .aors import aor


def last_record(tmp_path: Path) -> dict[str, Any]:
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == "call"][-1]


@pytest.mark.parametrize("contact", [True, None, ["sip:alice@127.0.0.1"], {"uri": "x"}])
async def test_a_contact_that_would_wedge_usrloc_is_never_sent_and_the_lab_answers_on(
    contact: Any, admin: OpenSIPSMCP, tmp_path: Path
) -> None:
    show = {"table_name": "location", "aor": aor("alice")}
    async with Client(admin) as client:
        before = await client.call_tool(
            "mi_execute", {"command": "ul_show_contact", "params": show}
        )
        result = await client.call_tool(
            "mi_execute", {"command": "ul_rm_contact", "params": show | {"contact": contact}}
        )
        record = last_record(tmp_path)
        after = await client.call_tool("mi_execute", {"command": "ul_show_contact", "params": show})

    assert error_code(before) is None  # a registered AOR: the case that leaks the lock
    assert error_code(result) == "invalid_params"
    calls = [c for c in record["calls"] if c["command"] == "ul_rm_contact"]
    assert [(c["decision"], c["attempts"]) for c in calls] == [("deny", 0)]
    assert error_code(after) is None
