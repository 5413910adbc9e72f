"""The audit trail: one JSON line per tool call, secrets redacted, stored before returning."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.audit import REDACTED, AuditError, AuditLog, format_record, redact
from opensips_mcp.gate import Role
from opensips_mcp.runtime import ToolCall

from .conftest import ServerFactory
from .helpers import FakeMI, audit_records, call, error_code

SECRET = "s3cr3t-Value-42"
FIELDS = {
    "seq",
    "prev",
    "kind",
    "instance",
    "hash",
    "time",
    "request_id",
    "mcp_request_id",
    "principal",
    "role",
    "tool",
    "command",
    "params",
    "level",
    "decision",
    "outcome",
    "error",
    "cancelled",
    "mi_attempts",
    "duration_ms",
    "calls",
    "confirmation",
}


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "db_passwd",
        "ha1",
        "ha1b",
        "client_secret",
        "token",
        "authorize",
        "Auth_Header",
        "key",
        "confidentiality-key",
        "API_KEY",
    ],
)
def test_parameters_named_like_secrets_are_redacted(name: str) -> None:
    assert redact({name: SECRET, "aor": "alice"}) == {name: REDACTED, "aor": "alice"}


def test_nested_and_positional_secrets_are_redacted() -> None:
    assert redact({"data": {"password": SECRET, "x": [1, {"token": SECRET}]}}) == {
        "data": {"password": REDACTED, "x": [1, {"token": REDACTED}]}
    }
    assert redact(["alice", SECRET], ["aor", "ha1"]) == ["alice", REDACTED]
    assert redact(["alice", SECRET], None) == [REDACTED, REDACTED]


async def test_one_record_per_tool_call_with_every_field(
    make_server: ServerFactory, audit_path: Path
) -> None:
    server = make_server(Role.OPERATOR, principal="ops-bot")
    async with Client(server) as client:
        await client.call_tool(
            "mi_execute",
            {
                "command": "ds_set_state",
                "params": {"state": "i", "group": 1, "address": "sip:10.0.0.1"},
            },
        )
        await client.call_tool(
            "mi_execute", {"command": "dlg_end_dlg", "params": {"dialog_id": "1"}}
        )
    ok, denied = audit_records(audit_path)
    assert set(ok) == FIELDS and set(denied) == FIELDS
    assert ok["time"].endswith("Z")
    assert (ok["principal"], ok["role"], ok["tool"], ok["command"]) == (
        "ops-bot",
        "operator",
        "mi_execute",
        "ds_set_state",
    )
    assert (ok["level"], ok["decision"], ok["outcome"], ok["mi_attempts"]) == (
        "write",
        "allow",
        "ok",
        1,
    )
    assert ok["params"] == {"state": "i", "group": 1, "address": "sip:10.0.0.1"}
    assert (denied["decision"], denied["outcome"], denied["error"], denied["mi_attempts"]) == (
        "deny",
        "denied",
        "permission_denied",
        0,
    )
    assert ok["request_id"] != denied["request_id"]


async def test_health_writes_one_record_listing_each_mi_command(
    make_server: ServerFactory, audit_path: Path
) -> None:
    await call(make_server(Role.VIEWER), "opensips_health")
    (record,) = audit_records(audit_path)
    assert [c["command"] for c in record["calls"]] == ["version", "uptime", "ps"]
    assert record["mi_attempts"] == 3


async def test_200_concurrent_calls_give_200_valid_records_without_any_secret(
    make_server: ServerFactory, audit_path: Path, fake_mi: FakeMI
) -> None:
    fake_mi.offered.add("custom_secret_cmd")
    server = make_server(Role.ADMIN)

    async def one(client: Client, i: int) -> None:
        if i % 4 == 0:
            args: dict[str, Any] = {
                "command": "cache_store",
                "params": {"system": "local", "attr": f"k{i}", "value": "v"},
            }
        elif i % 4 == 1:
            args = {
                "command": "cluster_send_mi",
                "params": {
                    "cluster_id": 1,
                    "destination": 2,
                    "cmd_name": "aka_av_drop",
                    "cmd_params": ["sip:a@b", "a@b", SECRET],
                },
            }
        elif i % 4 == 2:
            args = {"command": "custom_secret_cmd", "params": [SECRET, SECRET]}
        else:
            args = {"command": "ua_session_terminate", "params": {"key": SECRET}}
        await client.call_tool("mi_execute", args)

    async with Client(server) as client:
        await asyncio.wait_for(asyncio.gather(*(one(client, i) for i in range(200))), timeout=60)
    records = audit_records(audit_path)  # each line parses as JSON
    assert len(records) == 200
    assert all(set(r) == FIELDS for r in records)
    assert len({r["request_id"] for r in records}) == 200
    assert not any(SECRET in json.dumps(r) for r in records)


async def test_an_audit_log_that_cannot_be_written_fails_a_write_but_not_a_read(
    make_server: ServerFactory, fake_mi: FakeMI, tmp_path: Path
) -> None:
    class BrokenLog(AuditLog):
        async def write(self, record: Any) -> None:
            raise AuditError("disk full")

    server = make_server(Role.OPERATOR, audit=BrokenLog(tmp_path / "a.jsonl"))
    async with Client(server) as client:
        read = await client.call_tool("mi_execute", {"command": "uptime"})
        write = await client.call_tool(
            "mi_execute",
            {"command": "ds_set_state", "params": {"state": "i", "group": 1, "address": "sip:a"}},
        )
    assert not read.is_error
    assert error_code(write) == "audit_failed"


def test_an_unwritable_audit_path_is_reported_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AuditError):
        AuditLog(blocker / "audit.jsonl").prepare()


async def test_audit_file_is_private_to_its_owner(
    make_server: ServerFactory, audit_path: Path
) -> None:
    await call(make_server(), "mi_execute", {"command": "uptime"})
    assert os.stat(audit_path).st_mode & 0o077 == 0


async def test_a_cancelled_write_in_flight_is_recorded_as_unknown(
    make_server: ServerFactory, fake_mi: FakeMI, audit_path: Path
) -> None:
    server = make_server(Role.ADMIN)
    fake_mi.hold["dlg_end_dlg"] = asyncio.Event()
    fake_mi.received["dlg_end_dlg"] = asyncio.Event()
    await server.runtime.start()
    try:
        task = asyncio.create_task(
            server.runtime.run_mi(
                None, tool="mi_execute", command="dlg_end_dlg", params={"dialog_id": "7"}
            )
        )
        await asyncio.wait_for(fake_mi.received["dlg_end_dlg"].wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
    finally:
        await server.runtime.stop()
    (record,) = audit_records(audit_path)
    assert (record["outcome"], record["cancelled"], record["error"]) == (
        "unknown",
        True,
        "cancelled",
    )
    assert record["calls"][0]["outcome"] == "unknown"


async def test_a_cancelled_read_in_flight_is_recorded_as_an_error(
    make_server: ServerFactory, fake_mi: FakeMI, audit_path: Path
) -> None:
    server = make_server(Role.VIEWER)
    fake_mi.hold["dlg_list"] = asyncio.Event()
    fake_mi.received["dlg_list"] = asyncio.Event()
    await server.runtime.start()
    try:
        call_ = ToolCall(server.runtime, "mi_execute", server.runtime.principal(), None)

        async def run() -> None:
            async with call_ as c:
                await c.mi("dlg_list")

        task = asyncio.create_task(run())
        await asyncio.wait_for(fake_mi.received["dlg_list"].wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
    finally:
        await server.runtime.stop()
    (record,) = audit_records(audit_path)
    assert (record["outcome"], record["cancelled"]) == ("error", True)


class SignallingLog(AuditLog):
    """An audit log that tells the test each time a record is stored."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.stored: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def write(self, record: Any) -> None:
        await super().write(record)
        self.stored.put_nowait(dict(record))


async def test_a_client_cancelling_a_write_in_flight_still_gets_it_recorded_as_unknown(
    make_server: ServerFactory, fake_mi: FakeMI, audit_path: Path
) -> None:
    log = SignallingLog(audit_path)
    server = make_server(Role.ADMIN, audit=log)
    fake_mi.hold["dlg_end_dlg"] = asyncio.Event()
    fake_mi.received["dlg_end_dlg"] = asyncio.Event()
    async with Client(server) as client:
        task = asyncio.create_task(
            client.call_tool("mi_execute", {"command": "dlg_end_dlg", "params": {"dialog_id": "7"}})
        )
        await asyncio.wait_for(fake_mi.received["dlg_end_dlg"].wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=5)
        record = await asyncio.wait_for(log.stored.get(), timeout=5)
    assert (record["command"], record["outcome"], record["cancelled"]) == (
        "dlg_end_dlg",
        "unknown",
        True,
    )
    (stored,) = audit_records(audit_path)
    assert {k: v for k, v in stored.items() if k not in ("seq", "prev", "hash")} == record


def test_tail_format_is_one_readable_line() -> None:
    line = format_record(
        {
            "time": "2026-11-26T10:42:44Z",
            "principal": "alice",
            "role": "operator",
            "tool": "mi_execute",
            "decision": "allow",
            "outcome": "ok",
            "mi_attempts": 1,
            "duration_ms": 2.5,
            "request_id": "abc",
            "calls": [{"command": "ds_set_state", "params": {"state": "i"}}],
        }
    )
    assert "\n" not in line
    assert "alice(operator)" in line and 'ds_set_state {"state":"i"}' in line
