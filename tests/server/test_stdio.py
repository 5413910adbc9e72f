"""`opensips-mcp serve` as a subprocess over stdio: stdout carries only the protocol."""

from __future__ import annotations

import asyncio
import json
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


async def test_stdout_carries_only_protocol_messages_even_with_debug_logs(
    fake_mi: FakeMI, tmp_path: Path
) -> None:
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "opensips_health", "arguments": {}},
        },
    ]
    proc = await asyncio.create_subprocess_exec(
        SCRIPT,
        "serve",
        "--mi-url",
        fake_mi.url,
        "--audit-log",
        str(tmp_path / "a.jsonl"),
        "--log-level",
        "DEBUG",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(json.dumps(m) + "\n" for m in messages).encode())
    await proc.stdin.drain()
    replies: list[dict[str, object]] = []
    async with asyncio.timeout(30):
        while len(replies) < 2:
            line = await proc.stdout.readline()
            assert line, "the server closed stdout early"
            replies.append(json.loads(line))
        proc.stdin.close()
        rest, err = await proc.communicate()
    assert all(json.loads(line) for line in rest.splitlines())
    assert [r.get("id") for r in replies] == [1, 2]
    assert b"DEBUG" in err


async def test_instances_given_with_instance_on_the_command_line_are_served(
    fake_mi: FakeMI, tmp_path: Path
) -> None:
    # `serve --instance NAME=URL` (README "Fleets") was parsed and then dropped: the
    # server ran one instance at the default URL
    params = StdioServerParameters(
        command=SCRIPT,
        args=[
            "serve",
            "--instance",
            f"edge-1={fake_mi.url}",
            "--instance",
            "edge-2=http://127.0.0.1:9/mi",
            "--audit-log",
            str(tmp_path / "audit.jsonl"),
        ],
    )
    async with asyncio.timeout(30), Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        health = await client.call_tool("opensips_health", {"instance": "edge-1"})
    assert "fleet_status" in names
    assert health.structured_content is not None
    assert health.structured_content["mi_url"] == fake_mi.url
    assert health.structured_content["reachable"] is True
    assert [r["instance"] for r in audit_records(tmp_path / "audit.jsonl")] == ["edge-1"]
