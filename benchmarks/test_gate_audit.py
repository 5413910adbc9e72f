"""Gate and audit: what the permission decision and the fsynced audit record cost per call.

* ``test_gate_decision``: resolve ``(command, params)`` with the catalog to a recipe and
  its level, then `opensips_mcp.gate.decide`, as `ToolCall.check` does before every MI
  call: for a plain read, a write recipe, and a command carrying another one;
* ``test_audit_record``: `AuditLog.write` of one realistic record (append, fsync, in a
  worker thread, as the runtime does when each tool call ends), one at a time, with the
  log on tmpfs (``/dev/shm``) and on disk (checked in ``/proc/mounts``).

Both are read beside the direct MI call of ``test_mcp_overhead`` (same run): the share
of one MI round trip each adds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness import LoopThread, Sizes, closed_loop, measure
from benchmarks.storage import audit_dir, mount_of
from opensips_mcp.audit import AuditLog, AuditRecord, CallRecord, utc_now
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


@pytest.mark.benchmark(group="gate_audit")
@pytest.mark.parametrize("storage", ["tmpfs", "disk"])
def test_audit_record(benchmark: Any, aio: LoopThread, sizes: Sizes, storage: Any) -> None:
    with audit_dir(storage) as directory:
        log = AuditLog(directory / "audit.jsonl")
        log.prepare()
        record = _record()

        async def write(_: int) -> None:
            await log.write(record)

        calls = sizes.calls(500)
        samples = measure(benchmark, sizes.rounds(5), lambda: aio.run(closed_loop(write, calls, 1)))
        lines = Path(log.path).read_bytes().count(b"\n")
        mount = mount_of(directory)
    expected = samples.calls + (0 if benchmark.disabled else calls)  # + the warm-up round
    assert lines == expected, (lines, expected)
    benchmark.extra_info.update(
        samples.summary(),
        section="gate_audit",
        what=f"AuditLog.write, fsynced, on {storage} ({mount.fstype} {mount.mount_point})",
        storage=storage,
        fstype=mount.fstype,
        figure="p50_ms",
        baselines=[DIRECT] + (["test_audit_record[tmpfs]"] if storage == "disk" else []),
    )
