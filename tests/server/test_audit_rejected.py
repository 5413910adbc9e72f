"""Calls the SDK refuses before a tool runs are audited too: one record per tool call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.gate import Role

from .conftest import ServerFactory
from .helpers import FakeMI, audit_records, error_code


@pytest.mark.parametrize(
    ("tool", "args", "error"),
    [
        ("mi_execute", {}, "invalid_arguments"),
        ("mi_execute", {"command": 5, "params": "x"}, "invalid_arguments"),
        ("registrations_list", {"limit": 100_000}, "invalid_arguments"),
        ("no_such_tool", {}, "unknown_tool"),
    ],
)
async def test_a_call_refused_before_the_tool_runs_leaves_one_deny_record_and_sends_nothing(
    make_server: ServerFactory,
    fake_mi: FakeMI,
    audit_path: Path,
    tool: str,
    args: dict[str, Any],
    error: str,
) -> None:
    async with Client(make_server(Role.ADMIN)) as client:
        result = await client.call_tool(tool, args)

    assert error_code(result) == error  # the agent sees the audited code
    (record,) = audit_records(audit_path)
    assert (record["tool"], record["decision"], record["outcome"], record["error"]) == (
        tool,
        "deny",
        "error",
        error,
    )
    assert record["mi_attempts"] == 0
    assert fake_mi.count() == 0


async def test_a_tool_that_ran_is_audited_once_not_twice(
    make_server: ServerFactory, fake_mi: FakeMI, audit_path: Path
) -> None:
    async with Client(make_server(Role.VIEWER)) as client:
        denied = await client.call_tool(
            "mi_execute",
            {"command": "ds_set_state", "params": {"state": "i", "group": 1, "address": "sip:x"}},
        )
        unknown = await client.call_tool("mi_execute", {"command": "dlg_lst"})

    assert denied.is_error and unknown.is_error
    records = audit_records(audit_path)
    assert [(r["tool"], r["error"]) for r in records] == [
        ("mi_execute", "permission_denied"),
        ("mi_execute", "unknown_command"),
    ]
