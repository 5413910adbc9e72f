"""status toolset: how OpenSIPS is doing, its statistics, and how fast counters move."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from opensips_mcp.errors import ErrorCode, MCPToolError
from opensips_mcp.runtime import ToolCall, runtime_of
from opensips_mcp.tools import Toolset
from opensips_mcp.tools.paging import ITEMS_BUDGET, respond
from opensips_mcp.tools.parsing import as_int, as_number, dicts
from opensips_mcp.tools.progress import report_progress
from opensips_mcp.tools.statistic_names import missing, query_items, select
from opensips_mcp.tools.untrusted import Output

TOOLSET = Toolset(
    "status",
    "OpenSIPS at a glance (version, uptime, processes, key counters), statistics and rates.",
)

_UNREACHABLE = {ErrorCode.UNREACHABLE, ErrorCode.TIMEOUT, ErrorCode.BAD_RESPONSE}
_UPTIME = re.compile(r"^\s*(\d+)")
# Sent as is: OpenSIPS takes groups and bare names, never "group:name" (statistic_names).
_STATUS_STATISTICS = ["dialog:", "usrloc:", "inuse_transactions", "shmem:"]

StatisticName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:\-]+$",
        description="'all', a group ending in ':' (e.g. 'dialog:') or one statistic "
        "by its full name ('dialog:active_dialogs') or bare name ('active_dialogs').",
    ),
]
StatisticValue = int | float | str


# --- opensips_status ----------------------------------------------------------------------


class SharedMemory(Output):
    """Shared memory, in bytes (statistics group ``shmem:``)."""

    total: int | None
    used: int | None = Field(description="Used including allocator overhead (real_used_size).")
    free: int | None
    max_used: int | None
    used_percent: float | None


class Status(Output):
    """OpenSIPS at a glance; a field is null when its source could not be read."""

    version: str | None
    uptime_seconds: int | None
    up_since: str | None
    processes: int | None
    process_types: dict[str, int] = Field(
        description="Process count per kind (e.g. 'SIP receiver', 'TCP receiver', 'timer')."
    )
    active_dialogs: int | None = Field(description="Calls in progress (dialog:active_dialogs).")
    early_dialogs: int | None = Field(description="Calls still ringing (dialog:early_dialogs).")
    registered_users: int | None = Field(description="AORs registered (usrloc:registered_users).")
    registered_contacts: int | None = Field(
        description="Contacts registered in all usrloc tables (usrloc:<table>-contacts)."
    )
    transactions_in_use: int | None = Field(description="tm:inuse_transactions.")
    shared_memory: SharedMemory
    problems: list[str] = Field(
        description="What could not be read and why (e.g. a module that is not loaded)."
    )


def _process_kind(kind: str) -> str:
    # "SIP receiver udp:127.0.0.1:5060" and "HTTPD 127.0.0.1:8888" -> the kind without address
    words = [w for w in kind.split() if ":" not in w]
    return " ".join(words) or kind


def _status_from(stats: Mapping[str, Any]) -> dict[str, Any]:
    def stat(name: str) -> int | None:
        return as_int(stats.get(name))

    contacts = [
        as_int(v)
        for k, v in stats.items()
        if k.startswith("usrloc:") and k.endswith("-contacts") and as_int(v) is not None
    ]
    total, free = stat("shmem:total_size"), stat("shmem:free_size")
    used = stat("shmem:real_used_size")
    if used is None:
        used = stat("shmem:used_size")
    percent = round(100.0 * used / total, 2) if used is not None and total else None
    return {
        "active_dialogs": stat("dialog:active_dialogs"),
        "early_dialogs": stat("dialog:early_dialogs"),
        "registered_users": stat("usrloc:registered_users"),
        "registered_contacts": sum(c for c in contacts if c is not None) if contacts else None,
        "transactions_in_use": stat("tm:inuse_transactions"),
        "shared_memory": SharedMemory(
            total=total,
            used=used,
            free=free,
            max_used=stat("shmem:max_used_size"),
            used_percent=percent,
        ),
    }


async def read_status(call: ToolCall) -> Status:
    """Gather :class:`Status` with the MI calls of ``call`` (also used by the
    ``opensips://status`` resource). Raises only when OpenSIPS cannot be reached."""
    problems: list[str] = []
    version: str | None = None
    try:
        answer = await call.mi("version")
    except MCPToolError as exc:
        if exc.code in _UNREACHABLE:
            raise
        problems.append(str(exc))
    else:
        if isinstance(answer.result, Mapping) and answer.result.get("Server") is not None:
            version = str(answer.result["Server"])
    uptime: int | None = None
    since: str | None = None
    try:
        answer = await call.mi("uptime")
        if isinstance(answer.result, Mapping):
            match = _UPTIME.match(str(answer.result.get("Up time", "")))
            uptime = int(match.group(1)) if match else None
            since = str(answer.result["Up since"]) if answer.result.get("Up since") else None
    except MCPToolError as exc:
        problems.append(str(exc))
    processes: int | None = None
    kinds: dict[str, int] = {}
    try:
        answer = await call.mi("ps")
        listed = dicts(answer.result, "Processes")
        processes = len(listed)
        for proc in listed:
            kind = _process_kind(str(proc.get("Type", "unknown")))
            kinds[kind] = kinds.get(kind, 0) + 1
    except MCPToolError as exc:
        problems.append(str(exc))
    stats: Mapping[str, Any] = {}
    try:
        answer = await call.mi("get_statistics", {"statistics": _STATUS_STATISTICS})
        if isinstance(answer.result, Mapping):
            stats = answer.result
    except MCPToolError as exc:
        problems.append(str(exc))
    return Status(
        version=version,
        uptime_seconds=uptime,
        up_since=since,
        processes=processes,
        process_types=kinds,
        problems=problems,
        **_status_from(stats),
    )


@TOOLSET.tool(
    uses=["version", "uptime", "ps", "get_statistics"],
    idempotent=True,
    title="OpenSIPS status",
)
async def opensips_status(ctx: Context) -> Annotated[CallToolResult, Status]:
    """OpenSIPS at a glance: version, uptime, processes, calls in progress (active and
    early dialogs), registered users and contacts, transactions in use and shared memory.
    Start here. A field is null when its module is not loaded (see problems)."""
    async with runtime_of(ctx).tool_call(ctx, "opensips_status") as call:
        return respond(await read_status(call))


# --- get_statistics -----------------------------------------------------------------------


class Statistics(Output):
    """Statistic values by full name (``group:name``)."""

    statistics: dict[str, StatisticValue]
    count: int = Field(description="Statistics returned.")
    groups: list[str] = Field(description="The groups present in the answer.")
    missing: list[str] = Field(description="Requested items that matched no statistic.")
    size_limited: bool = Field(
        description="True when the answer was cut to stay under 64 KB (ask for groups)."
    )
    notice: str | None = None


def _values(result: Any) -> dict[str, StatisticValue]:
    if not isinstance(result, Mapping):
        return {}
    out: dict[str, StatisticValue] = {}
    for name, value in result.items():
        number = as_number(value)
        out[str(name)] = number if number is not None else str(value)
    return out


def _bounded(values: dict[str, StatisticValue]) -> tuple[dict[str, StatisticValue], bool]:
    kept: dict[str, StatisticValue] = {}
    used = 0
    for name, value in values.items():
        used += len(name) + len(str(value)) + 6
        if used > ITEMS_BUDGET:
            return kept, True
        kept[name] = value
    return kept, False


@TOOLSET.tool(uses=["get_statistics"], idempotent=True, title="Get statistics")
async def get_statistics(
    ctx: Context,
    statistics: Annotated[
        list[StatisticName],
        Field(
            min_length=1,
            max_length=50,
            description="What to read: 'all', groups such as 'core:', 'tm:', 'dialog:', "
            "'usrloc:', 'shmem:', or single statistics such as 'dialog:active_dialogs'.",
        ),
    ],
) -> Annotated[CallToolResult, Statistics]:
    """Read OpenSIPS statistics by group or name (counters such as core:rcv_requests,
    tm:4xx_transactions, sl:5xx_replies, registrar:rejected_regs, dialog:failed_dialogs).
    Items that match no statistic are listed in missing. For rates over time use
    statistics_delta."""
    async with runtime_of(ctx).tool_call(ctx, "get_statistics") as call:
        answer = await call.mi("get_statistics", {"statistics": query_items(statistics)})
    values = select(_values(answer.result), statistics)
    kept, cut = _bounded(values)
    return respond(
        Statistics(
            statistics=kept,
            count=len(kept),
            groups=sorted({n.partition(":")[0] for n in kept if ":" in n}),
            missing=missing(statistics, values),
            size_limited=cut,
            notice="Too many statistics for one answer: ask for fewer groups or names."
            if cut
            else None,
        )
    )


# --- statistics_delta ---------------------------------------------------------------------


class Delta(Output):
    """How one numeric statistic moved between the two samples."""

    name: str
    before: int | float
    after: int | float
    delta: int | float
    per_second: float


class StatisticsDelta(Output):
    """Two samples of the same statistics, ``interval_seconds`` apart."""

    interval_seconds: float = Field(description="Measured time between the two samples.")
    changed: list[Delta] = Field(description="Statistics that moved, fastest first.")
    unchanged: int = Field(description="Numeric statistics that did not move.")
    unchanged_names: list[str] = Field(
        description="Their names (only when include_unchanged is true)."
    )
    missing: list[str] = Field(description="Requested items that matched no statistic.")
    size_limited: bool
    notice: str | None = None


@TOOLSET.tool(uses=["get_statistics"], idempotent=True, title="Statistics rates")
async def statistics_delta(
    ctx: Context,
    statistics: Annotated[
        tuple[StatisticName, ...],
        Field(
            min_length=1,
            max_length=50,
            description="Groups or names to sample, e.g. ['core:', 'tm:', 'sl:', 'dialog:'].",
        ),
    ] = ("core:", "tm:", "sl:", "dialog:", "usrloc:"),
    interval_seconds: Annotated[
        float, Field(ge=1, le=60, description="Seconds between the two samples (1-60).")
    ] = 5,
    include_unchanged: Annotated[
        bool, Field(description="Also list the names of statistics that did not move.")
    ] = False,
) -> Annotated[CallToolResult, StatisticsDelta]:
    """Sample statistics twice, interval_seconds apart (the tool waits that long and
    reports progress), and give each counter's change and rate per second: e.g. requests
    per second, new 4xx/5xx replies, calls started. Answers after the interval; items that
    match no statistic are listed in missing."""
    async with runtime_of(ctx).tool_call(ctx, "statistics_delta") as call:
        params = {"statistics": query_items(statistics)}
        first = select(_values((await call.mi("get_statistics", params)).result), statistics)
        t0 = time.monotonic()
        await report_progress(ctx, 0, interval_seconds, "first sample taken")
        deadline = t0 + interval_seconds
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(1.0, left))
            waited = min(interval_seconds, time.monotonic() - t0)
            await report_progress(
                ctx, round(waited, 3), interval_seconds, "waiting for second sample"
            )
        second = select(_values((await call.mi("get_statistics", params)).result), statistics)
        elapsed = time.monotonic() - t0
    changed: list[Delta] = []
    still: list[str] = []
    for name, after in second.items():
        before = first.get(name)
        if isinstance(before, str) or isinstance(after, str) or before is None:
            continue
        if after == before:
            still.append(name)
            continue
        delta = after - before
        changed.append(
            Delta(
                name=name,
                before=before,
                after=after,
                delta=delta,
                per_second=round(delta / elapsed, 3),
            )
        )
    changed.sort(key=lambda d: abs(d.per_second), reverse=True)
    names = still if include_unchanged else []
    kept, cut = _fit_deltas(changed, names)
    return respond(
        StatisticsDelta(
            interval_seconds=round(elapsed, 3),
            changed=kept[0],
            unchanged=len(still),
            unchanged_names=kept[1],
            missing=missing(statistics, second),
            size_limited=cut,
            notice="Too many statistics for one answer: sample fewer groups or names."
            if cut
            else None,
        )
    )


def _fit_deltas(
    changed: list[Delta], names: list[str]
) -> tuple[tuple[list[Delta], list[str]], bool]:
    used = 0
    kept: list[Delta] = []
    for delta in changed:
        used += len(delta.model_dump_json()) + 1
        if used > ITEMS_BUDGET:
            return (kept, []), True
        kept.append(delta)
    kept_names: list[str] = []
    for name in names:
        used += len(name) + 3
        if used > ITEMS_BUDGET:
            return (kept, kept_names), True
        kept_names.append(name)
    return (kept, kept_names), False
