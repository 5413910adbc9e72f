"""`opensips-mcp serve` as a subprocess over stdio: stdout carries only the protocol."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters

from .helpers import FakeMI, audit_records, error_code

SCRIPT = str(Path(sys.executable).with_name("opensips-mcp"))


async def test_stdio_server_lists_its_tools_and_runs_one(fake_mi: FakeMI, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    params = StdioServerParameters(
        command=SCRIPT,
        args=[
            "serve",
            "--mi-url",
            fake_mi.url,
            "--audit-log",
            str(audit),
            "--role",
            "operator",
            "--principal",
            "ci",
            "--log-level",
            "DEBUG",
        ],
    )
    async with asyncio.timeout(30), Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        health = await client.call_tool("opensips_health", {})
        denied = await client.call_tool(
            "mi_execute", {"command": "dlg_end_dlg", "params": {"dialog_id": "1"}}
        )
    assert {"mi_execute", "mi_list_commands", "mi_describe_command", "opensips_health"} <= names
    assert health.structured_content is not None
    assert health.structured_content["reachable"] is True
    assert error_code(denied) == "permission_denied"
    assert [r["principal"] for r in audit_records(audit)] == ["ci", "ci"]
    assert fake_mi.methods() == ["version", "uptime", "ps"]
