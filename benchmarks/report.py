"""Turn pytest-benchmark's JSON into ``latest.md``: every figure, its ratio to the baseline
measured in the same run, and the targets with PASS/MISS.

Each benchmark stores what the report needs in ``extra_info``: ``section``, ``figure``
(the key of its headline number), ``baselines`` (names of the benchmarks it is read
beside) and the numbers themselves (``calls_per_s``, ``p50_ms``, ``p99_ms``, ...).

    python -m benchmarks.report benchmarks/results/latest.json > latest.md
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Bench = Mapping[str, Any]
Benches = Mapping[str, Bench]

MISSING = "not measured"


def _info(benches: Benches, name: str) -> Mapping[str, Any] | None:
    bench = benches.get(name)
    return bench.get("extra_info", {}) if bench is not None else None


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        if abs(value) >= 1000 or digits == 0:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "-"
    return f"{value / base:.2f}x"


# --- targets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One target's evaluation."""

    measured: str
    ratio: float | None
    passed: bool | None  # None: not measured


@dataclass(frozen=True)
class Target:
    """A target from the issue, evaluated on one run's benchmarks."""

    text: str
    threshold: str
    evaluate: Callable[[Benches], Outcome]


def _throughput_ratio(
    name: str, base: str, paired: str, at_least: float
) -> Callable[[Benches], Outcome]:
    """``name``'s calls/s over its paired baseline's (``extra_info["paired"][paired]``,
    measured in alternating rounds), else over benchmark ``base``'s."""

    def evaluate(benches: Benches) -> Outcome:
        a = _info(benches, name)
        b = (a or {}).get("paired", {}).get(paired) or _info(benches, base)
        if not a or not b or not a.get("calls_per_s") or not b.get("calls_per_s"):
            return Outcome(MISSING, None, None)
        ratio = a["calls_per_s"] / b["calls_per_s"]
        how = "paired rounds" if paired in a.get("paired", {}) else f"`{base}`"
        measured = f"{_num(a['calls_per_s'], 0)} vs {_num(b['calls_per_s'], 0)} calls/s ({how})"
        return Outcome(measured, ratio, ratio >= at_least)

    return evaluate


def _direct_of(benches: Benches, info: Mapping[str, Any], base: str) -> Mapping[str, Any] | None:
    """The direct-call figures ``info`` is read against: its paired rounds, else ``base``."""
    return info.get("paired", {}).get("direct") or _info(benches, base)


def _added_p50(name: str, base: str, at_most_ms: float) -> Callable[[Benches], Outcome]:
    def evaluate(benches: Benches) -> Outcome:
        a = _info(benches, name)
        b = _direct_of(benches, a, base) if a else None
        if not a or not b or a.get("p50_ms") is None or b.get("p50_ms") is None:
            return Outcome(MISSING, None, None)
        added = a["p50_ms"] - b["p50_ms"]
        how = "paired direct rounds" if "direct" in a.get("paired", {}) else f"`{base}`"
        measured = f"+{added:.3f} ms ({a['p50_ms']:.3f} vs {b['p50_ms']:.3f} ms, {how})"
        return Outcome(measured, added / at_most_ms, added <= at_most_ms)

    return evaluate


def _page_ratio(tool: str, at_most: float) -> Callable[[Benches], Outcome]:
    def evaluate(benches: Benches) -> Outcome:
        last = _info(benches, f"test_page_time[{tool}-last]")
        first = (last or {}).get("paired", {}).get("first") or _info(
            benches, f"test_page_time[{tool}-first]"
        )
        if not first or not last or not first.get("p50_ms") or last.get("p50_ms") is None:
            return Outcome(MISSING, None, None)
        ratio = last["p50_ms"] / first["p50_ms"]
        how = ", paired rounds" if "first" in last.get("paired", {}) else ""
        measured = f"last {last['p50_ms']:.2f} ms vs first {first['p50_ms']:.2f} ms{how}"
        return Outcome(measured, ratio, ratio <= at_most)

    return evaluate


def _peak_memory(at_most_mb: float) -> Callable[[Benches], Outcome]:
    def evaluate(benches: Benches) -> Outcome:
        info = _info(benches, "test_server_peak_memory")
        if not info or info.get("peak_rss_mb") is None:
            return Outcome(MISSING, None, None)
        peak = info["peak_rss_mb"]
        return Outcome(f"{peak:.1f} MB peak RSS", peak / at_most_mb, peak < at_most_mb)

    return evaluate


def _fleet_p50(at_most_ms: float) -> Callable[[Benches], Outcome]:
    def evaluate(benches: Benches) -> Outcome:
        info = _info(benches, "test_fleet_status[healthy]")
        if not info or info.get("p50_ms") is None or info.get("nodes") != 50:
            return Outcome(MISSING, None, None)
        base = info.get("paired", {}).get("baseline", {}).get("p50_ms")
        measured = f"{info['p50_ms']:.0f} ms for 50 nodes, {info.get('errors', 0)} misses"
        if base:
            measured += f" (one node's opensips_status: {base:.1f} ms, paired rounds)"
        return Outcome(measured, info["p50_ms"] / at_most_ms, info["p50_ms"] < at_most_ms)

    return evaluate


def _fleet_added(name: str) -> Callable[[Benches], Outcome]:
    def evaluate(benches: Benches) -> Outcome:
        info = _info(benches, name)
        base = (info or {}).get("paired", {}).get("baseline", {}).get("p50_ms")
        if not info or info.get("p50_ms") is None or base is None:
            return Outcome(MISSING, None, None)
        added = info["p50_ms"] - base
        timeout = info.get("fleet_timeout_ms", 1000.0)
        measured = f"+{added:.0f} ms ({info['p50_ms']:.0f} vs healthy {base:.0f} ms, paired)"
        return Outcome(measured, added / timeout, added <= timeout)

    return evaluate


def _no_failed_calls(benches: Benches) -> Outcome:
    rows = [
        info
        for name, bench in benches.items()
        if name.startswith("test_mi_client")
        for info in [bench.get("extra_info", {})]
    ]
    if not rows:
        return Outcome(MISSING, None, None)
    failed = sum(info.get("errors", 0) for info in rows)
    calls = sum(info.get("calls", 0) for info in rows)
    return Outcome(f"{failed} of {calls} calls failed", None, failed == 0)


def _e2e_rows(benches: Benches) -> list[tuple[str, Mapping[str, Any]]]:
    return _section(benches, "mcp_e2e")


def _e2e_calls(at_least: float) -> Callable[[Benches], Outcome]:
    """Issue 13: in-memory ``mi_execute("uptime")`` calls/s at 1 in flight, audit fsynced on
    disk, judged on the loop ``serve`` would use; its paired baselines and the other loop
    are named beside it."""

    def evaluate(benches: Benches) -> Outcome:
        rows = _e2e_rows(benches)
        judged = [
            info for _, info in rows if info.get("serve_loop") and info.get("in_flight", 1) == 1
        ]
        if not judged or not judged[0].get("calls_per_s"):
            return Outcome(MISSING, None, None)
        info = judged[0]
        rate = info["calls_per_s"]
        paired = info.get("paired", {})
        direct = paired.get("direct", {}).get("calls_per_s")
        floor = paired.get("sdk_floor", {}).get("calls_per_s")
        others = [
            f"{other.get('loop')} at {other.get('in_flight', 1)} in flight "
            f"{_num(other.get('calls_per_s'), 0)}/s "
            f"({other.get('fsyncs_per_call')} fsyncs/call)"
            for _, other in rows
            if other is not info
        ]
        on_disk = (
            info.get("audit_fs") not in ("tmpfs", "ramfs", None)
            and (info.get("fsyncs_per_call") or 0) > 0
        )
        measured = (
            f"{_num(rate, 0)} calls/s on {info.get('loop')} (p50 {_num(info.get('p50_ms'), 3)} "
            f"ms, {info.get('fsyncs_per_call')} fsyncs/call on {info.get('audit_fs')}); paired: "
            f"direct `MIClient.call` {_num(direct, 0)}/s, SDK no-op floor {_num(floor, 0)}/s"
            + (f"; {', '.join(others)}" if others else "")
            + f"; server: {_short_server(info.get('server'))}"
        )
        return Outcome(measured, rate / at_least, on_disk and rate >= at_least)

    return evaluate


def _short_server(server: Any) -> str:
    text = str(server or "not recorded")
    return text.split(", MI at")[0]


TARGETS = [
    *(
        Target(
            f"MI client `{cmd}` at 32 in flight vs the raw floor at 32",
            ">= 0.35x",
            _throughput_ratio(
                f"test_mi_client[{cmd}-32]", f"test_raw_floor[{cmd}-32]", "raw_floor", 0.35
            ),
        )
        for cmd in ("uptime", "dlg_list")
    ),
    *(
        Target(
            f"MI client `{cmd}` at 32 in flight vs the `opensips` package (1 in flight)",
            ">= 1.5x",
            _throughput_ratio(
                f"test_mi_client[{cmd}-32]",
                f"test_opensips_package[{cmd}]",
                "opensips_package",
                1.5,
            ),
        )
        for cmd in ("uptime", "dlg_list")
    ),
    *(
        Target(
            f"(stricter reading) MI client `{cmd}` at 1 in flight vs the `opensips` package",
            ">= 1.5x",
            _throughput_ratio(
                f"test_mi_client[{cmd}-1]",
                f"test_opensips_package[{cmd}]",
                "opensips_package",
                1.5,
            ),
        )
        for cmd in ("uptime", "dlg_list")
    ),
    Target(
        "(added) no `MIClient` call fails against the healthy MI server, any in-flight level",
        "0 failed",
        _no_failed_calls,
    ),
    Target(
        "MCP in-memory overhead per call, p50 (audit log on tmpfs)",
        "<= 1 ms",
        _added_p50("test_mcp_in_memory[tmpfs]", "test_direct_mi_call", 1.0),
    ),
    Target(
        "MCP in-memory overhead per call, p50 (audit log on disk)",
        "<= 1 ms",
        _added_p50("test_mcp_in_memory[disk]", "test_direct_mi_call", 1.0),
    ),
    Target(
        'Issue 13: `mi_execute("uptime")` end to end through an in-memory MCP client, '
        "1 in flight, audit fsynced on disk, on the loop `serve` uses",
        ">= 1,500 calls/s",
        _e2e_calls(1500.0),
    ),
    *(
        Target(
            f"`{tool}` page time, last page vs first page (large scenario)",
            "<= 2x",
            _page_ratio(tool, 2.0),
        )
        for tool in ("registrations", "dialogs")
    ),
    Target("MCP server peak memory with the large scenario", "< 300 MB", _peak_memory(300.0)),
    Target("`fleet_status` over 50 simulated nodes, p50", "< 1 s", _fleet_p50(1000.0)),
    *(
        Target(
            f"`fleet_status`: one {kind} node adds at most its own timeout (2 s), p50",
            "<= 2 s added",
            _fleet_added(f"test_fleet_status[one-{kind}]"),
        )
        for kind in ("slow", "down")
    ),
]


def _result(passed: bool | None) -> str:
    return {True: "PASS", False: "MISS", None: "NOT DONE"}[passed]


def targets_table(benches: Benches) -> list[str]:
    """The targets section."""
    lines = [
        "| target | threshold | measured | ratio | result |",
        "|---|---|---|---|---|",
    ]
    for target in TARGETS:
        out = target.evaluate(benches)
        if out.ratio is None:
            ratio = "-"
        elif target.threshold.endswith("x"):
            ratio = f"{out.ratio:.2f}x"
        else:
            ratio = f"{out.ratio:.2f} of the limit"
        lines.append(
            f"| {target.text} | {target.threshold} | {out.measured} | {ratio} | "
            f"**{_result(out.passed)}** |"
        )
    return lines


# --- sections ----------------------------------------------------------------------------


def _section(benches: Benches, section: str) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (name, b["extra_info"])
        for name, b in benches.items()
        if b.get("extra_info", {}).get("section") == section
    ]


def _baseline_cells(benches: Benches, info: Mapping[str, Any], key: str) -> str:
    cells = []
    for base in info.get("baselines", []):
        other = _info(benches, base)
        value = other.get(key) if other else None
        cells.append(f"{_ratio(info.get(key), value)} `{base}`")
    return "<br>".join(cells) if cells else "(baseline)"


def mi_client_table(benches: Benches) -> list[str]:
    """Section 1."""
    lines = [
        "| benchmark | client | command | in flight | calls/s | p50 ms | p99 ms | failed calls "
        "| sim CPU | client CPU | ratio to paired rounds (calls/s) "
        "| ratio to the stand-alone baselines |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, info in _section(benches, "mi_client"):
        paired = info.get("paired", {})
        paired_cells = "<br>".join(
            f"{_ratio(info.get('calls_per_s'), p.get('calls_per_s'))} {what} "
            f"({_num(p.get('calls_per_s'), 0)}/s)"
            for what, p in paired.items()
        )
        lines.append(
            f"| `{name}` | {info.get('client')} | {info.get('command')} | "
            f"{info.get('in_flight')} | {_num(info.get('calls_per_s'), 0)} | "
            f"{_num(info.get('p50_ms'), 3)} | {_num(info.get('p99_ms'), 3)} | "
            f"{info.get('errors', 0)} of {info.get('calls', '?')} | "
            f"{_num(info.get('sim_cpu'))} | {_num(info.get('client_cpu'))} | "
            f"{paired_cells or '-'} | "
            f"{_baseline_cells(benches, info, 'calls_per_s')} |"
        )
    return lines


def mcp_table(benches: Benches) -> list[str]:
    """Section 2."""
    lines = [
        "| benchmark | path | audit log | calls/s | p50 ms | p99 ms | direct p50 / p99 ms "
        "(paired) | added p50 ms | added p99 ms | p50 ratio to direct |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, info in _section(benches, "mcp_overhead"):
        base = _direct_of(benches, info, "test_direct_mi_call") if info.get("baselines") else None
        added50 = added99 = direct = "-"
        ratio = "(baseline)"
        if info.get("kind") == "sdk_floor":
            # No MI call at all: its whole latency is overhead.
            added50 = f"+{info.get('p50_ms', 0):.3f}"
            added99 = f"+{info.get('p99_ms', 0):.3f}"
            ratio = "-"
        elif base is not None and info.get("p50_ms") is not None and base.get("p50_ms"):
            added50 = f"+{info['p50_ms'] - base['p50_ms']:.3f}"
            added99 = f"+{info['p99_ms'] - base['p99_ms']:.3f}"
            direct = f"{base['p50_ms']:.3f} / {base['p99_ms']:.3f}"
            ratio = _ratio(info.get("p50_ms"), base.get("p50_ms"))
        lines.append(
            f"| `{name}` | {info.get('path')} | {info.get('audit', '-')} | "
            f"{_num(info.get('calls_per_s'), 0)} | {_num(info.get('p50_ms'), 3)} | "
            f"{_num(info.get('p99_ms'), 3)} | {direct} | {added50} | {added99} | {ratio} |"
        )
    return lines


def mcp_e2e_table(benches: Benches) -> list[str]:
    """Section 2b: the end-to-end target's runs, one per event loop, with their paired
    baselines (direct `MIClient.call` and the SDK's no-op tool, same loop, same rounds)."""
    rows = _e2e_rows(benches)
    if not rows:
        return []
    lines = [
        "",
        "End to end, paired rounds (issue 13's target; each round of `mi_execute` follows a "
        "round of each baseline on the same event loop; audit log on disk, every record "
        "fsynced before the result returns):",
        "",
        "| benchmark | loop | in flight | judged (loop `serve` uses, 1 in flight) "
        "| calls/s | p50 ms | p99 ms "
        "| direct `MIClient.call` calls/s | SDK no-op floor calls/s | ratio to the floor "
        "| fsyncs per call | audit fs | server |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, info in rows:
        paired = info.get("paired", {})
        direct = paired.get("direct", {}).get("calls_per_s")
        floor = paired.get("sdk_floor", {}).get("calls_per_s")
        lines.append(
            f"| `{name}` | {info.get('loop')} | {info.get('in_flight', 1)} | "
            f"{'yes' if info.get('serve_loop') and info.get('in_flight', 1) == 1 else 'no'} | "
            f"{_num(info.get('calls_per_s'), 0)} | {_num(info.get('p50_ms'), 3)} | "
            f"{_num(info.get('p99_ms'), 3)} | {_num(direct, 0)} | {_num(floor, 0)} | "
            f"{_ratio(info.get('calls_per_s'), floor)} | {info.get('fsyncs_per_call')} | "
            f"{info.get('audit_fs')} | {_short_server(info.get('server'))} |"
        )
    return lines


def mcp_breakdown(benches: Benches) -> list[str]:
    """Where the in-memory overhead goes: each layer's added p50 (over its own paired
    direct rounds) minus the added p50 of the layer below it."""
    layers = [
        ("test_runtime_run_mi", "runtime: resolve, gate, audit record (tmpfs)"),
        ("test_server_call_tool", "MCP server: argument and output validation, tool wrapper"),
        ("test_mcp_in_memory[tmpfs]", "MCP client and session (in memory)"),
    ]
    added = []
    for name, _ in layers:
        info = _info(benches, name)
        base = _direct_of(benches, info, "test_direct_mi_call") if info else None
        if not info or not base or info.get("p50_ms") is None or base.get("p50_ms") is None:
            return []
        added.append(info["p50_ms"] - base["p50_ms"])
    lines = [
        "",
        "Where the in-memory overhead goes (each layer's added p50 minus the one below it; "
        "differences of medians, so only roughly additive):",
        "",
    ]
    below = 0.0
    for (name, what), here in zip(layers, added, strict=True):
        lines.append(f"* {what}: {here - below:+.3f} ms (`{name}`)")
        below = here
    floor = _info(benches, "test_mcp_sdk_floor")
    if floor and floor.get("p50_ms") is not None:
        lines.append(
            f"* for scale: the MCP SDK alone (a no-op tool, client and server in memory) "
            f"takes {floor['p50_ms']:.3f} ms p50 per call (`test_mcp_sdk_floor`)"
        )
    return lines


def gate_audit_table(benches: Benches) -> list[str]:
    """Section 3."""
    lines = [
        "| benchmark | what | p50 µs | p99 µs | fsyncs per call "
        "| ratio (p50) to paired rounds | ratio (p50) to a direct MI call and to the baselines |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, info in _section(benches, "gate_audit"):
        p50 = info.get("p50_ms")
        p99 = info.get("p99_ms")
        lines.append(
            f"| `{name}` | {info.get('what')} | "
            f"{_num(p50 * 1000 if p50 is not None else None, 1)} | "
            f"{_num(p99 * 1000 if p99 is not None else None, 1)} | "
            f"{_num(info.get('fsyncs_per_call'), 3)} | "
            f"{_paired_p50_cells(info)} | "
            f"{_baseline_cells(benches, info, 'p50_ms')} |"
        )
    return lines


def _paired_p50_cells(info: Mapping[str, Any]) -> str:
    paired = info.get("paired") or {}
    return (
        "<br>".join(
            f"{_ratio(info.get('p50_ms'), p.get('p50_ms'))} {what} "
            f"({_num((p.get('p50_ms') or 0) * 1000, 1)} µs)"
            for what, p in paired.items()
        )
        or "-"
    )


def scale_table(benches: Benches) -> list[str]:
    """Section 4."""
    rows = _section(benches, "scale")
    if not rows:
        return ["Not measured in this run (see the report of the run for why)."]
    lines = [
        "| benchmark | tool | page | items | p50 ms | p99 ms | ratio to the first page "
        "(paired rounds) | ratio to the first page's benchmark |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, info in rows:
        if info.get("kind") == "memory":
            continue
        first = info.get("paired", {}).get("first")
        paired = (
            f"{_ratio(info.get('p50_ms'), first.get('p50_ms'))} "
            f"(first {first.get('p50_ms'):.3f} ms)"
            if first
            else "-"
        )
        lines.append(
            f"| `{name}` | {info.get('tool')} | {info.get('page')} | {info.get('items', '-')} | "
            f"{_num(info.get('p50_ms'), 3)} | {_num(info.get('p99_ms'), 3)} | {paired} | "
            f"{_baseline_cells(benches, info, 'p50_ms')} |"
        )
    for name, info in rows:
        if info.get("kind") == "memory":
            lines += ["", f"`{name}`: {info.get('method')}", ""]
            lines += [f"* {k}: {_num(v, 1)}" for k, v in info.items() if k.endswith(("_mb", "_ms"))]
    return lines


def simulator_table(benches: Benches) -> list[str]:
    """Section 5."""
    lines = [
        "| benchmark | command | requests/s seen | sim CPU | requests per sim CPU-second "
        "| reply bytes | capacity ratio to |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, info in _section(benches, "simulator"):
        lines.append(
            f"| `{name}` | {info.get('command')} | {_num(info.get('calls_per_s'), 0)} | "
            f"{_num(info.get('sim_cpu'))} | {_num(info.get('calls_per_cpu_s'))} | "
            f"{info.get('reply_bytes')} | {_capacity_cells(benches, info)} |"
        )
    return lines


def _capacity_cells(benches: Benches, info: Mapping[str, Any]) -> str:
    cells = []
    for base in info.get("baselines", []):
        other = _info(benches, base)
        value = other.get("calls_per_s") if other else None
        cells.append(f"{_ratio(info.get('calls_per_cpu_s'), value)} `{base}` calls/s")
    return "<br>".join(cells) if cells else "-"


def render(data: Mapping[str, Any]) -> str:
    """The whole markdown page for one pytest-benchmark JSON document."""
    benches = {b["name"]: b for b in data.get("benchmarks", [])}
    run = data.get("opensips_mcp_run", {})
    commit = data.get("commit_info", {})
    machine = data.get("machine_info", {})
    out = [
        "# Benchmarks: latest run",
        "",
        f"* when: {data.get('datetime', '?')}; commit {str(commit.get('id', '?'))[:12]}"
        f"{' (dirty tree)' if commit.get('dirty') else ''}",
        f"* machine: {machine.get('cpu', {}).get('count', '?')} cores, "
        f"Python {machine.get('python_version', '?')}; load average (1 min) "
        f"{run.get('load_before', '?')} before, {run.get('load_after', '?')} after "
        "(other work on the machine shares the cores and shows in the figures)",
        f"* command: `{run.get('command', 'python -m benchmarks.run')}`, "
        f"{run.get('seconds', '?')} s",
        f"* MI server: **{data.get('opensips_mcp_server', 'not recorded')}**, for the "
        "benchmarks taking the `mi_server` fixture (a real OpenSIPS when `OPENSIPS_MI_URL` "
        "is set); the simulator's own, scale and fleet benchmarks use simulator processes",
        "* every ratio is to a baseline measured in this same run",
        "",
        "## Targets",
        "",
        *targets_table(benches),
        "",
        "## 1. MI client throughput (the MI server above, in processes of its own)",
        "",
        "Closed loop: N callers, each starting its next call when the last one answered. "
        "`sim CPU` and `client CPU` are the server's (simulator or OpenSIPS processes) and "
        "the client process's CPU "
        "shares over the measured rounds: near 1.0, that process kept a core busy and set "
        "the pace. The paired rounds (baselines run in turn with the benchmark) are what "
        "the targets read.",
        "",
        *mi_client_table(benches),
        "",
        "## 2. MCP overhead per call (`mi_execute` of `uptime`, 1 in flight)",
        "",
        *mcp_table(benches),
        *mcp_breakdown(benches),
        *mcp_e2e_table(benches),
        "",
        "## 3. Gate and audit per call",
        "",
        *gate_audit_table(benches),
        "",
        "## 4. Scale (large scenario: 100,000 contacts, 50,000 dialogs)",
        "",
        *scale_table(benches),
        "",
        "## 5. Simulator speed (quiet scenario)",
        "",
        *simulator_table(benches),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Print the markdown for the JSON file named on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.report RESULTS.json", file=sys.stderr)
        return 2
    print(render(json.loads(Path(args[0]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
