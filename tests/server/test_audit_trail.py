"""The trail an operator can trust: intent before effect, hash chain, rotation, sinks."""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.audit import (
    GENESIS,
    AuditError,
    AuditLog,
    pending_record,
    read_records,
    trail_files,
    verify_lines,
    verify_trail,
)
from opensips_mcp.audit.writer import writer_for
from opensips_mcp.cli import main
from opensips_mcp.gate import Role
from opensips_mcp.settings import PARSERS, SettingsError, load_settings

from .conftest import ServerFactory
from .helpers import FakeMI, audit_records, error_code, trail_lines

SCRIPT = str(Path(sys.executable).with_name("opensips-mcp"))
WRITE = {"command": "ds_set_state", "params": {"state": "i", "group": 1, "address": "sip:a"}}


def _pending(i: int) -> dict[str, Any]:
    return pending_record(
        request_id=f"r{i}",
        call_id=f"r{i}-1",
        mcp_request_id=None,
        principal="p",
        role="admin",
        instance="default",
        tool="mi_execute",
        command="dlg_end_dlg",
        sent_as="dlg_end_dlg",
        recipe=["dialog_id"],
        params={"dialog_id": str(i)},
        level="destructive",
    )


def _call(i: int) -> dict[str, Any]:
    return {"kind": "call", "request_id": f"c{i}", "n": i, "pad": "x" * 200}


# --- intent before effect ---------------------------------------------------------------


async def test_a_write_is_sent_only_after_its_pending_record_is_on_disk(
    make_server: ServerFactory, fake_mi: FakeMI, audit_path: Path
) -> None:
    server = make_server(Role.OPERATOR)
    fake_mi.hold["ds_set_state"] = asyncio.Event()
    fake_mi.received["ds_set_state"] = asyncio.Event()
    async with Client(server) as client:
        task = asyncio.create_task(client.call_tool("mi_execute", WRITE))
        await asyncio.wait_for(fake_mi.received["ds_set_state"].wait(), timeout=5)
        on_disk = trail_lines(audit_path)  # while OpenSIPS holds the write
        fake_mi.hold["ds_set_state"].set()
        result = await asyncio.wait_for(task, timeout=5)
    assert not result.is_error
    assert [r["kind"] for r in on_disk] == ["file", "pending"]
    pending = on_disk[1]
    assert (pending["command"], pending["level"], pending["principal"]) == (
        "ds_set_state",
        "write",
        "stdio",
    )
    assert pending["recipe"] == ["group", "address", "state"] or set(pending["recipe"]) == {
        "group",
        "address",
        "state",
    }
    (final,) = audit_records(audit_path)
    assert final["request_id"] == pending["request_id"]
    assert final["calls"][0]["call_id"] == pending["call_id"]
    assert final["calls"][0]["pending_seq"] == pending["seq"]


async def test_a_read_stores_one_record_and_no_pending(
    make_server: ServerFactory, audit_path: Path
) -> None:
    async with Client(make_server(Role.VIEWER)) as client:
        await client.call_tool("mi_execute", {"command": "uptime"})
    assert [r["kind"] for r in trail_lines(audit_path)] == ["file", "call"]
    assert audit_records(audit_path)[0]["calls"][0]["call_id"] is None


async def test_a_write_whose_pending_record_cannot_be_stored_is_not_sent(
    make_server: ServerFactory, fake_mi: FakeMI, tmp_path: Path
) -> None:
    class NoIntent(AuditLog):
        async def intend(self, record: Any) -> int:
            raise AuditError("disk full")

    server = make_server(Role.OPERATOR, audit=NoIntent(tmp_path / "a.jsonl"))
    async with Client(server) as client:
        result = await client.call_tool("mi_execute", WRITE)
    assert error_code(result) == "audit_failed"
    assert "ds_set_state" not in fake_mi.methods()
    (record,) = audit_records(tmp_path / "a.jsonl")
    assert (record["outcome"], record["error"]) == ("error", "audit_failed")


async def test_pending_records_left_by_a_dead_server_are_closed_once_at_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    answered = await log.intend(_pending(1))
    orphan_seq = await log.intend(_pending(2))
    calls = [{"call_id": "r1-1", "pending_seq": answered}]
    await log.write({"kind": "call", "request_id": "r1", "calls": calls})
    assert await log.recover() == 1
    assert await log.recover() == 0  # once per process
    closing = [r for r in read_records(path) if r["kind"] == "closing"]
    assert len(closing) == 1
    assert (closing[0]["call_id"], closing[0]["pending_seq"], closing[0]["outcome"]) == (
        "r2-1",
        orphan_seq,
        "unknown",
    )
    assert closing[0]["reason"] == "server stopped"
    result = verify_trail(path)
    assert result.ok and result.open_intents == []


# --- group commit ---------------------------------------------------------------------


async def test_concurrent_records_share_fsyncs(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    writer = log.writer
    await log.write(_call(-1))  # opens the file
    before_fsyncs, before_stored = writer.fsyncs, writer.stored
    seqs = await asyncio.wait_for(asyncio.gather(*(log.write(_call(i)) for i in range(200))), 30)
    assert sorted(seqs) == list(range(seqs[0], seqs[0] + 200)) or len(set(seqs)) == 200
    assert writer.stored - before_stored == 200
    assert writer.fsyncs - before_fsyncs < 200


async def test_the_event_loop_keeps_running_while_records_are_stored(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.wait_for(asyncio.gather(*(log.write(_call(i)) for i in range(50))), 30)
    stop.set()
    await task
    assert ticks > 0


# --- hash chain and verify ------------------------------------------------------------


async def _rotated_trail(path: Path, records: int = 60, max_bytes: int = 4096) -> None:
    log = AuditLog(path, max_bytes=max_bytes, keep=50)
    for i in range(records):
        await log.write(_call(i))


async def test_records_chain_across_rotated_files_and_verify_passes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await _rotated_trail(path)
    files = trail_files(path)
    assert len(files) > 2
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert lines[0]["prev"] == GENESIS and lines[0]["seq"] == 0
    assert [r["seq"] for r in lines] == list(range(len(lines)))
    for before, after in itertools.pairwise(lines):
        assert after["prev"] == before["hash"]
    assert all(json.loads(f.read_text().splitlines()[0])["kind"] == "file" for f in files)
    assert all(f.stat().st_size <= 4096 for f in files)
    result = verify_trail(path)
    assert result.ok, result.broken
    assert (result.records, result.files) == (len(lines), len(files))
    assert [r["n"] for r in read_records(path)] == list(range(60))  # tail reads across files


def _all_lines(path: Path) -> Iterator[tuple[Path, int]]:
    for file in trail_files(path):
        for number in range(1, len(file.read_bytes().splitlines()) + 1):
            yield file, number


def _rewrite(file: Path, number: int, change: str) -> None:
    lines = file.read_bytes().splitlines(keepends=True)
    if change == "delete":
        del lines[number - 1]
    else:
        record = json.loads(lines[number - 1])
        record["time" if "time" in record else "kind"] = "edited"
        lines[number - 1] = json.dumps(record, separators=(",", ":")).encode() + b"\n"
    file.write_bytes(b"".join(lines))


@pytest.mark.parametrize("change", ["edit", "delete"])
async def test_editing_or_deleting_any_one_line_fails_verify_at_that_line(
    tmp_path: Path, change: str
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    await _rotated_trail(source / "audit.jsonl", records=24, max_bytes=4096)
    targets = list(_all_lines(source / "audit.jsonl"))
    assert len(targets) > 20
    for index, (file, number) in enumerate(targets):
        copy = tmp_path / f"copy{index}"
        copy.mkdir()
        for f in source.iterdir():
            (copy / f.name).write_bytes(f.read_bytes())
        _rewrite(copy / file.name, number, change)
        result = verify_trail(copy / "audit.jsonl")
        assert result.broken is not None, (file.name, number)
        assert result.broken.where == f"{copy / file.name}:{number}", (
            file.name,
            number,
            result.broken,
        )


async def test_audit_verify_command_exits_non_zero_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "audit.jsonl"
    await _rotated_trail(path, records=10, max_bytes=0)
    assert main(["audit", "verify", "--audit-log", str(path)]) == 0
    assert "OK" in capsys.readouterr().out
    _rewrite(path, 4, "edit")
    assert main(["audit", "verify", "--audit-log", str(path)]) == 1
    assert f"{path}:4" in capsys.readouterr().out
    assert main(["audit", "verify", "--audit-log", str(tmp_path / "none.jsonl")]) == 2


# --- rotation and bounds ---------------------------------------------------------------


async def test_rotation_under_concurrent_calls_loses_and_duplicates_nothing(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    path = tmp_path / "audit.jsonl"
    server = make_server(Role.OPERATOR, audit=AuditLog(path, max_bytes=8192, keep=1000))

    async def one(client: Client, i: int) -> None:
        params = {"state": "i", "group": 1, "address": f"sip:10.0.0.{i}"}
        await client.call_tool("mi_execute", {"command": "ds_set_state", "params": params})

    async with Client(server) as client:
        await asyncio.wait_for(asyncio.gather(*(one(client, i) for i in range(150))), timeout=60)
    assert len(trail_files(path)) > 5
    records = list(read_records(path))
    calls = [r for r in records if r["kind"] == "call"]
    pendings = [r for r in records if r["kind"] == "pending"]
    addresses = sorted(r["params"]["address"] for r in calls)
    assert addresses == sorted(f"sip:10.0.0.{i}" for i in range(150))
    assert sorted(p["call_id"] for p in pendings) == sorted(c["calls"][0]["call_id"] for c in calls)
    result = verify_trail(path)
    assert result.ok, result.broken
    assert result.open_intents == []


async def test_rotation_keeps_only_the_configured_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=4096, keep=2)
    for i in range(100):
        await log.write(_call(i))
    assert [f.name for f in trail_files(path)] == ["audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"]
    result = verify_trail(path)  # the oldest kept record anchors the chain
    assert result.ok, result.broken
    assert result.first_seq is not None and result.first_seq > 0


# --- recovery of the file itself ---------------------------------------------------------


async def test_a_torn_last_line_is_cut_and_the_chain_continues(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    await AuditLog(path).write(_call(0))
    writer_for(path, max_bytes=0, keep=1)._close()  # as if the process had died
    with path.open("ab") as f:
        f.write(b'{"seq":2,"prev":"ab')  # a write cut short: never acknowledged
    await AuditLog(path).write(_call(1))
    assert verify_trail(path).ok


async def test_a_trail_written_before_the_chain_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text(json.dumps({"time": "old", "outcome": "ok"}) + "\n")
    await AuditLog(path).write(_call(0))
    assert (tmp_path / "audit.jsonl.unchained").exists()
    assert verify_trail(path).ok


def test_a_trail_held_by_another_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,os,sys; fd=os.open(sys.argv[1],os.O_RDWR|os.O_CREAT);"
            "fcntl.flock(fd,fcntl.LOCK_EX); print('locked',flush=True); sys.stdin.read()",
            str(path) + ".head",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(AuditError):
            AuditLog(path).prepare()
    finally:
        holder.kill()
        holder.wait(timeout=10)
    AuditLog(path).prepare()  # free again
    assert fcntl is not None


# --- syslog sink ---------------------------------------------------------------------


def _message_line(message: bytes) -> bytes:
    """The MSG part of an RFC 5424 message with NILVALUE structured data."""
    header, sep, msg = message.partition(b" - {")
    assert sep, message
    fields = header.split(b" ")
    assert fields[0].startswith(b"<") and fields[0].endswith(b">1"), fields
    assert fields[3] == b"opensips-mcp"
    return b"{" + msg


async def _collect_datagrams(sock: socket.socket, out: list[bytes], new: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while True:
        out.append(await loop.sock_recv(sock, 65535))
        new.set()


@pytest.mark.parametrize("transport", ["udp", "tcp", "unix"])
async def test_syslog_sink_sends_every_chained_line_so_a_collector_can_verify_it(
    tmp_path: Path, transport: str
) -> None:
    loop = asyncio.get_running_loop()
    received: list[bytes] = []
    if transport == "udp":
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("127.0.0.1", 0))
        url = f"udp://127.0.0.1:{server.getsockname()[1]}"
    elif transport == "unix":
        server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        address = str(tmp_path / "log.sock")
        server.bind(address)
        url = f"unix://{address}"
    else:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        url = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.setblocking(False)
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, syslog=url, max_bytes=4096, keep=10)
    try:
        writes = asyncio.gather(*(log.write(_call(i)) for i in range(30)))
        if transport == "tcp":
            conn, _ = await asyncio.wait_for(loop.sock_accept(server), 10)
            conn.setblocking(False)
            stream = b""
            await asyncio.wait_for(writes, 30)
            expected = len(b"".join(f.read_bytes() for f in trail_files(path)).splitlines())
            while len(received) < expected:
                chunk = await asyncio.wait_for(loop.sock_recv(conn, 65536), 10)
                assert chunk, "collector connection closed"
                stream += chunk
                while b" " in stream:
                    size, _, rest = stream.partition(b" ")
                    if len(rest) < int(size):
                        break
                    received.append(rest[: int(size)])
                    stream = rest[int(size) :]
            conn.close()
        else:
            new = asyncio.Event()
            collector = asyncio.create_task(_collect_datagrams(server, received, new))
            await asyncio.wait_for(writes, 30)
            expected = len(b"".join(f.read_bytes() for f in trail_files(path)).splitlines())
            while len(received) < expected:
                await asyncio.wait_for(new.wait(), 10)
                new.clear()
            collector.cancel()
    finally:
        server.close()
    lines = [_message_line(m) for m in received]
    stored = [line for f in trail_files(path) for line in f.read_bytes().splitlines()]
    assert lines == stored
    result = verify_lines((f"msg {i}", line) for i, line in enumerate(lines))
    assert result.ok and result.records == len(stored)
    assert received[0].startswith(b"<110>1 ")  # log audit (13) * 8 + info (6)


# --- settings ------------------------------------------------------------------------


async def test_verify_finds_the_trail_where_serve_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PARSERS:
        monkeypatch.delenv(f"OPENSIPS_MCP_{name.upper()}", raising=False)
    monkeypatch.delenv("OPENSIPS_MCP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    trail = tmp_path / "elsewhere" / "audit.jsonl"
    trail.parent.mkdir()
    await _rotated_trail(trail, records=10)
    config = tmp_path / "c.toml"
    config.write_text(
        f'audit_log = "{trail}"\naudit_max_bytes = "64k"\naudit_keep = 3\n'
        'audit_syslog = "udp://127.0.0.1:514"\n'
    )
    settings = load_settings({"config": str(config)}, env={})
    assert (settings.audit_max_bytes, settings.audit_keep, settings.audit_syslog) == (
        64 * 1024,
        3,
        "udp://127.0.0.1:514",
    )
    assert main(["audit", "verify", "--config", str(config)]) == 0
    monkeypatch.setenv("OPENSIPS_MCP_CONFIG", str(config))
    assert main(["audit", "verify"]) == 0
    monkeypatch.delenv("OPENSIPS_MCP_CONFIG")
    monkeypatch.setenv("OPENSIPS_MCP_AUDIT_LOG", str(trail))
    assert main(["audit", "verify"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("audit_max_bytes", "12"),
        ("audit_max_bytes", "lots"),
        ("audit_keep", "0"),
        ("audit_syslog", "http://127.0.0.1:514"),
        ("audit_syslog", "udp://127.0.0.1"),
        ("audit_syslog", "unix://relative/path"),
    ],
)
def test_bad_audit_settings_are_refused_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({name: value}, env={})
    assert error.value.name == name


async def test_a_collector_that_does_not_read_or_is_down_never_delays_or_fails_a_record(
    tmp_path: Path,
) -> None:
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # bound, never read
    stuck.bind(str(tmp_path / "stuck.sock"))
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    down = f"tcp://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()  # nothing listens there any more
    try:
        for name, url in (("stuck", f"unix://{tmp_path / 'stuck.sock'}"), ("down", down)):
            log = AuditLog(tmp_path / f"{name}.jsonl", syslog=url)
            await asyncio.wait_for(asyncio.gather(*(log.write(_call(i)) for i in range(300))), 20)
            assert verify_trail(tmp_path / f"{name}.jsonl").records == 301  # + the file record
    finally:
        stuck.close()
