"""The benchmarks still run (one small round each), and their report judges targets right.

The full benchmarks (``make bench``) are not part of ``make test``; this runs every one of
them once under ``--benchmark-disable``, where they use small sizes and the quiet
scenario, so a change that breaks a benchmark is seen at once.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

# `benchmarks` is a top-level package of the repository (pytest's pythonpath has ".").
from benchmarks.harness import percentile
from benchmarks.report import render
from benchmarks.run import PYTEST_ARGS

REPO = Path(__file__).resolve().parent.parent


def test_every_benchmark_runs_once_without_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", *PYTEST_ARGS, "--benchmark-disable"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    summary = re.search(r"(\d+) passed", proc.stdout)
    assert summary is not None, tail
    assert int(summary.group(1)) >= 30, tail
    assert not re.search(r"\d+ (failed|skipped|errors?)\b", proc.stdout), tail


def _bench(name: str, **info: Any) -> dict[str, Any]:
    return {"name": name, "extra_info": info}


def _targets(markdown: str) -> dict[str, str]:
    """Target text -> PASS / MISS / NOT DONE, from the targets table."""
    rows = {}
    for line in markdown.splitlines():
        match = re.match(r"\| (.+?) \| .* \| \*\*(PASS|MISS|NOT DONE)\*\* \|$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_report_passes_and_misses_targets_by_the_ratio_to_the_baseline() -> None:
    data = {
        "benchmarks": [
            _bench("test_mi_client[uptime-32]", section="mi_client", calls_per_s=400.0),
            _bench("test_raw_floor[uptime-32]", section="mi_client", calls_per_s=1000.0),
            _bench("test_mi_client[dlg_list-32]", section="mi_client", calls_per_s=300.0),
            _bench("test_raw_floor[dlg_list-32]", section="mi_client", calls_per_s=1000.0),
            _bench("test_direct_mi_call", section="mcp_overhead", p50_ms=0.5, p99_ms=1.0),
            _bench(
                "test_mcp_in_memory[tmpfs]",
                section="mcp_overhead",
                p50_ms=1.4,
                p99_ms=2.0,
                baselines=["test_direct_mi_call"],
            ),
        ]
    }
    targets = _targets(render(data))
    assert targets["MI client `uptime` at 32 in flight vs the raw floor at 32"] == "PASS"
    assert targets["MI client `dlg_list` at 32 in flight vs the raw floor at 32"] == "MISS"
    assert targets["MCP in-memory overhead per call, p50 (audit log on tmpfs)"] == "PASS"
    assert targets["MCP in-memory overhead per call, p50 (audit log on disk)"] == "NOT DONE"
    assert targets["MCP server peak memory with the large scenario"] == "NOT DONE"


def test_report_judges_page_time_and_peak_memory() -> None:
    data = {
        "benchmarks": [
            _bench("test_page_time[dialogs-first]", section="scale", p50_ms=10.0),
            _bench("test_page_time[dialogs-last]", section="scale", p50_ms=25.0),
            _bench("test_page_time[registrations-first]", section="scale", p50_ms=900.0),
            _bench("test_page_time[registrations-last]", section="scale", p50_ms=3.0),
            _bench("test_server_peak_memory", section="scale", kind="memory", peak_rss_mb=299.0),
        ]
    }
    targets = _targets(render(data))
    last_vs_first = "page time, last page vs first page (large scenario)"
    assert targets[f"`dialogs` {last_vs_first}"] == "MISS"
    assert targets[f"`registrations` {last_vs_first}"] == "PASS"
    assert targets["MCP server peak memory with the large scenario"] == "PASS"


def test_report_misses_the_no_failure_target_when_any_mi_client_call_failed() -> None:
    ok = {"benchmarks": [_bench("test_mi_client[uptime-1]", calls=100, errors=0)]}
    failed = {
        "benchmarks": [
            _bench("test_mi_client[uptime-1]", calls=100, errors=0),
            _bench("test_mi_client[uptime-32]", calls=100, errors=3),
        ]
    }
    target = "(added) no `MIClient` call fails against the healthy MI server, any in-flight level"
    assert _targets(render(ok))[target] == "PASS"
    assert _targets(render(failed))[target] == "MISS"


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def test_report_judges_the_end_to_end_target_on_the_serve_loop_with_the_audit_on_disk() -> None:
    target = (
        'Issue 13: `mi_execute("uptime")` end to end through an in-memory MCP client, '
        "1 in flight, audit fsynced on disk, on the loop `serve` uses"
    )

    def run(rate: float, *, fs: str = "ext4", fsyncs: float = 1.0) -> str:
        paired = {"direct": {"calls_per_s": 9000.0}, "sdk_floor": {"calls_per_s": 4500.0}}
        data = {
            "benchmarks": [
                _bench(
                    "test_mcp_e2e[uvloop]",
                    section="mcp_e2e",
                    loop="uvloop",
                    serve_loop=True,
                    calls_per_s=rate,
                    audit_fs=fs,
                    fsyncs_per_call=fsyncs,
                    paired=paired,
                ),
                _bench(
                    "test_mcp_e2e[uvloop-8]",
                    section="mcp_e2e",
                    loop="uvloop",
                    in_flight=8,
                    serve_loop=True,
                    calls_per_s=99999.0,  # 8 in flight: not what the target judges
                    audit_fs=fs,
                    fsyncs_per_call=0.2,
                    paired=paired,
                ),
                _bench(
                    "test_mcp_e2e[asyncio]",
                    section="mcp_e2e",
                    loop="asyncio",
                    serve_loop=False,
                    calls_per_s=99999.0,  # not the loop serve uses: not judged
                    audit_fs=fs,
                    fsyncs_per_call=fsyncs,
                    paired=paired,
                ),
            ]
        }
        return _targets(render(data))[target]

    assert run(1600.0) == "PASS"
    assert run(1400.0) == "MISS"
    assert run(1600.0, fs="tmpfs") == "MISS"  # an fsync on tmpfs writes nothing to a device
    assert run(1600.0, fsyncs=0.0) == "MISS"
    assert _targets(render({"benchmarks": []}))[target] == "NOT DONE"
