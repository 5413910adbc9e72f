"""Gate and audit: what the permission decision and the fsynced audit record cost per call.

* ``test_gate_decision``: resolve ``(command, params)`` with the catalog to a recipe and
  its level, then `opensips_mcp.gate.decide`, as `ToolCall.check` does before every MI
  call: for a plain read, a write recipe, and a command carrying another one;
* ``test_audit_record``: `AuditLog.write` of one realistic record (chained, appended and
  fsynced by the writer thread, as the runtime does when each tool call ends: a read's
  only record), one at a time, with the log on tmpfs (``/dev/shm``) and on disk (checked
  in ``/proc/mounts``); read against ``test_audit_record_unchained``, the record as it
  was stored before the chain (open, append, fsync, close in a worker thread per record,
  kept here as the baseline, also run in turn with it: paired rounds): a read must cost
  no more than that;
* ``test_audit_write_call``: what a write tool call stores: its ``pending`` record, then
  its call record, each fsynced, one call at a time; read against a read's one record
  in paired rounds (at most one extra fsync: about 2x);
* ``test_audit_concurrent_writes``: the same at 32 calls in flight: the group commit
  shares fsyncs, ``fsyncs_per_call`` says how many each call paid (1 at most 2).

All are read beside the direct MI call of ``test_mcp_overhead`` (same run): the share
of one MI round trip each adds.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from benchmarks.harness import LoopThread, Samples, Sizes, closed_loop, measure
from benchmarks.storage import audit_dir, mount_of
from opensips_mcp.audit import AuditLog, AuditRecord, CallRecord, pending_record, utc_now
from opensips_mcp.catalog import load_catalog
from opensips_mcp.gate import Principal, Role, decide

DIRECT = "test_direct_mi_call"

GATE_CASES = [
    pytest.param("uptime", None, id="read-uptime"),
    pytest.param("dr_gw_status", {"gw_id": "gw1", "status": 0}, id="write-dr_gw_status"),
    pytest.param(
        "cluster_send_mi",
        {"cluster_id": 1, "destination": 2, "cmd_name": "dlg_end_dlg", "cmd_params": ["1:2"]},
        id="carried-cluster_send_mi",
    ),
]


@pytest.mark.benchmark(group="gate_audit")
@pytest.mark.parametrize(("command", "params"), GATE_CASES)
def test_gate_decision(benchmark: Any, sizes: Sizes, command: str, params: Any) -> None:
    catalog = load_catalog()
    principal = Principal("bench", Role.OPERATOR)

    def check() -> bool:
        resolution = catalog.resolve(command, params)
        return decide(
            principal, resolution.entry.name, resolution.recipe.params, resolution.level
        ).allowed

    allowed = check()
    iterations = 1 if sizes.quick else 2000
    benchmark.pedantic(check, rounds=sizes.rounds(20), iterations=iterations, warmup_rounds=1)
    stats = benchmark.stats.stats if benchmark.stats is not None else None
    benchmark.extra_info.update(
        section="gate_audit",
        what=f"resolve + decide: {command} ({'allowed' if allowed else 'denied'} for operator)",
        mean_ms=round(stats.mean * 1000, 5) if stats is not None else None,
        p50_ms=round(stats.median * 1000, 5) if stats is not None else None,
        figure="p50_ms",
        baselines=[DIRECT],
    )


def _record() -> dict[str, Any]:
    record = AuditRecord(
        principal="bench",
        role="operator",
        tool="mi_execute",
        request_id="5f0c2a8e9b1d4c3e8f7a6b5c4d3e2f1a",
        mcp_request_id="7",
        started=utc_now(),
        calls=[
            CallRecord(
                "ds_set_state",
                {"group": 1, "address": "sip:10.0.0.1:5060", "state": "i"},
                "write",
                "allow",
                "ok",
                1,
            )
        ],
        duration_ms=3.2,
    )
    return record.as_json()


class UnchainedLog:
    """The audit log as stored before the hash chain (the baseline): one open, append,
    fsync and close per record in a worker thread, writers serialized by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.stored = 0

    async def write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        await anyio.to_thread.run_sync(self._append, line)

    def _append(self, line: bytes) -> None:
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self.stored += 1


def _pending() -> dict[str, Any]:
    return pending_record(
        request_id="5f0c2a8e9b1d4c3e8f7a6b5c4d3e2f1a",
        call_id="5f0c2a8e9b1d4c3e8f7a6b5c4d3e2f1a-1",
        mcp_request_id="7",
        principal="bench",
        role="operator",
        instance="default",
        tool="mi_execute",
        command="ds_set_state",
        sent_as="ds_set_state",
        recipe=["group", "address", "state"],
        params={"group": 1, "address": "sip:10.0.0.1:5060", "state": "i"},
        level="write",
    )


def _where(storage: str, directory: Path) -> tuple[str, dict[str, Any]]:
    mount = mount_of(directory)
    return f"on {storage} ({mount.fstype} {mount.mount_point})", {
        "storage": storage,
        "fstype": mount.fstype,
    }


@pytest.mark.benchmark(group="gate_audit")
@pytest.mark.parametrize("storage", ["tmpfs", "disk"])
def test_audit_record_unchained(
    benchmark: Any, aio: LoopThread, sizes: Sizes, storage: Any
) -> None:
    with audit_dir(storage) as directory:
        log = UnchainedLog(directory / "audit.jsonl")
        record = _record()

        async def write(_: int) -> None:
            await log.write(record)

        calls = sizes.calls(500)
        samples = measure(benchmark, sizes.rounds(5), lambda: aio.run(closed_loop(write, calls, 1)))
        where, info = _where(storage, directory)
    assert log.stored == samples.calls + (0 if benchmark.disabled else calls)
    benchmark.extra_info.update(
        samples.summary(),
        **info,
        section="gate_audit",
        what=f"baseline: the record before the chain (open, append, fsync, close) {where}",
        fsyncs_per_call=1.0,
        figure="p50_ms",
        baselines=[DIRECT],
    )


@pytest.mark.benchmark(group="gate_audit")
@pytest.mark.parametrize("storage", ["tmpfs", "disk"])
def test_audit_record(benchmark: Any, aio: LoopThread, sizes: Sizes, storage: Any) -> None:
    with audit_dir(storage) as directory:
        log = AuditLog(directory / "audit.jsonl")
        log.prepare()
        writer = log.writer
        unchained = UnchainedLog(directory / "unchained.jsonl")
        record = _record()

        async def write(_: int) -> None:
            await log.write(record)

        async def write_unchained(_: int) -> None:
            await unchained.write(record)

        calls = sizes.calls(500)
        paired = Samples()
        samples = measure(
            benchmark,
            sizes.rounds(5),
            lambda: aio.run(closed_loop(write, calls, 1)),
            between=lambda: paired.add(aio.run(closed_loop(write_unchained, calls, 1))),
        )
        where, info = _where(storage, directory)
    expected = samples.calls + (0 if benchmark.disabled else calls)  # + the warm-up round
    assert writer.stored == expected, (writer.stored, expected)
    benchmark.extra_info.update(
        samples.summary(),
        **info,
        section="gate_audit",
        what=f"AuditLog.write (a read's one record), chained, fsynced, {where}",
        fsyncs_per_call=round(writer.fsyncs / writer.stored, 3),
        paired={"the record before the chain": paired.summary()},
        figure="p50_ms",
        baselines=[DIRECT, f"test_audit_record_unchained[{storage}]"]
        + (["test_audit_record[tmpfs]"] if storage == "disk" else []),
    )


def _write_call_round(log: AuditLog, calls: int, in_flight: int) -> Any:
    pending, record = _pending(), _record()

    async def one(_: int) -> None:
        await log.intend(pending)
        await log.write(record)

    return closed_loop(one, calls, in_flight)


@pytest.mark.benchmark(group="gate_audit")
@pytest.mark.parametrize("storage", ["tmpfs", "disk"])
def test_audit_write_call(benchmark: Any, aio: LoopThread, sizes: Sizes, storage: Any) -> None:
    with audit_dir(storage) as directory:
        log = AuditLog(directory / "audit.jsonl")
        log.prepare()
        writer = log.writer
        reads = AuditLog(directory / "reads.jsonl")
        reads.prepare()
        record = _record()

        async def read(_: int) -> None:
            await reads.write(record)

        calls = sizes.calls(300)
        paired = Samples()
        samples = measure(
            benchmark,
            sizes.rounds(5),
            lambda: aio.run(_write_call_round(log, calls, 1)),
            between=lambda: paired.add(aio.run(closed_loop(read, calls, 1))),
        )
        where, info = _where(storage, directory)
    assert writer.stored == 2 * (samples.calls + (0 if benchmark.disabled else calls))
    benchmark.extra_info.update(
        samples.summary(),
        **info,
        section="gate_audit",
        what=f"a write's records: pending then call, each fsynced, 1 in flight, {where}",
        fsyncs_per_call=round(2 * writer.fsyncs / writer.stored, 3),
        paired={"a read's one record": paired.summary()},
        figure="p50_ms",
        baselines=[f"test_audit_record[{storage}]", f"test_audit_record_unchained[{storage}]"],
    )


@pytest.mark.benchmark(group="gate_audit")
@pytest.mark.parametrize("storage", ["disk"])
def test_audit_concurrent_writes(
    benchmark: Any, aio: LoopThread, sizes: Sizes, storage: Any
) -> None:
    with audit_dir(storage) as directory:
        log = AuditLog(directory / "audit.jsonl")
        log.prepare()
        writer = log.writer
        calls = sizes.calls(1000)
        if not benchmark.disabled:
            aio.run(_write_call_round(log, calls, 32))  # warm-up, not counted below
        fsyncs0, stored0 = writer.fsyncs, writer.stored
        samples = measure(
            benchmark,
            sizes.rounds(5),
            lambda: aio.run(_write_call_round(log, calls, 32)),
            warmup=False,
        )
        where, info = _where(storage, directory)
    fsyncs, stored = writer.fsyncs - fsyncs0, writer.stored - stored0
    assert stored == 2 * samples.calls
    benchmark.extra_info.update(
        samples.summary(),
        **info,
        section="gate_audit",
        what=f"a write's records (pending + call), 32 calls in flight, group commit, {where}",
        fsyncs_per_call=round(2 * fsyncs / stored, 3),
        figure="p50_ms",
        baselines=[f"test_audit_write_call[{storage}]"],
    )
