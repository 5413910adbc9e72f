"""dispatcher toolset: destination sets and their states, set a state, reload."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from opensips_mcp.catalog import AccessLevel
from opensips_mcp.runtime import ToolCall, runtime_of
from opensips_mcp.tools import Toolset
from opensips_mcp.tools.paging import (
    DEFAULT_LIMIT,
    Budget,
    Cursor,
    Limit,
    PageInfo,
    filter_key,
    offset_page,
    offset_start,
    respond,
)
from opensips_mcp.tools.parsing import as_int, as_text, dicts
from opensips_mcp.tools.untrusted import Output, clip, clip_opt

TOOLSET = Toolset(
    "dispatcher",
    "Dispatcher sets (load distribution): destinations and states, set a state, reload.",
)

KIND = "dispatcher"
DsState = Literal["active", "inactive", "probing"]
_STATE_ARG: dict[DsState, str] = {"active": "a", "inactive": "i", "probing": "p"}
MAX_SETS = 100
MAX_ADDRESSES = 16

Partition = Annotated[
    str | None,
    Field(
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="Dispatcher partition; omit for all (listing) or 'default' (changes).",
    ),
]


class Destination(Output):
    """One destination of a dispatcher set."""

    partition: str
    set_id: int
    uri: str
    state: str = Field(description="active, inactive (not used) or probing (being tested).")
    weight: int | None
    priority: int | None
    attrs: str | None
    description: str | None
    socket: str | None
    resolved_addresses: list[str] = Field(description="What the URI resolved to (first 16).")


class SetSummary(Output):
    """How many destinations of a set are in each state."""

    partition: str
    set_id: int
    destinations: int
    active: int
    inactive: int
    probing: int


class DispatcherList(PageInfo):
    """Set summaries (all sets) and a page of destinations."""

    sets: list[SetSummary]
    destinations: list[Destination]


def _destinations(result: Any) -> Iterator[Destination]:
    for part in dicts(result, "PARTITIONS"):
        name = str(part.get("name", "default"))
        for ds_set in dicts(part, "SETS"):
            set_id = as_int(ds_set.get("id"))
            for d in dicts(ds_set, "Destinations"):
                yield Destination(
                    partition=name,
                    set_id=set_id if set_id is not None else -1,
                    uri=str(d.get("URI", "")),
                    state=str(d.get("state", "")).strip().lower(),
                    weight=as_int(d.get("weight")),
                    priority=as_int(d.get("priority")),
                    attrs=clip_opt(d.get("attr")),
                    description=clip_opt(d.get("description")),
                    socket=as_text(d.get("socket")),
                    resolved_addresses=[
                        clip(a) for a in (d.get("resolved_addresses") or [])[:MAX_ADDRESSES]
                    ],
                )


def _summaries(destinations: list[Destination]) -> list[SetSummary]:
    sets: dict[tuple[str, int], SetSummary] = {}
    for d in destinations:
        summary = sets.get((d.partition, d.set_id))
        if summary is None:
            summary = sets[(d.partition, d.set_id)] = SetSummary(
                partition=d.partition,
                set_id=d.set_id,
                destinations=0,
                active=0,
                inactive=0,
                probing=0,
            )
        summary.destinations += 1
        if d.state in ("active", "inactive", "probing"):
            setattr(summary, d.state, getattr(summary, d.state) + 1)
    return list(sets.values())[:MAX_SETS]


async def _list(call: ToolCall, partition: str | None) -> list[Destination]:
    params: Mapping[str, Any] = (
        {"full": 1}
        if partition is None
        else {
            "full": 1,
            "partition": partition,
        }
    )
    return list(_destinations((await call.mi("ds_list", params)).result))


@TOOLSET.tool(uses=["ds_list"], idempotent=True, title="List dispatcher sets")
async def dispatcher_list(
    ctx: Context,
    partition: Partition = None,
    set_id: Annotated[int | None, Field(ge=0, description="Only this set.")] = None,
    state: Annotated[DsState | None, Field(description="Only destinations in this state.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, DispatcherList]:
    """Dispatcher sets with a count of destinations per state (active / inactive /
    probing), and the destinations themselves (URI, state, weight, priority, attributes),
    paged. An inactive destination gets no traffic; probing means OpenSIPS is pinging it
    to bring it back."""
    key = filter_key(partition=partition, set_id=set_id, state=state)
    async with runtime_of(ctx).tool_call(ctx, "dispatcher_list") as call:
        start = offset_start(cursor, KIND, key)
        everything = await _list(call, partition)
    chosen = [
        d
        for d in everything
        if (set_id is None or d.set_id == set_id) and (state is None or d.state == state)
    ]
    summaries = [s for s in _summaries(everything) if set_id is None or s.set_id == set_id]
    shown = summaries[:MAX_SETS]
    page = offset_page(chosen, start, KIND, key, limit, lambda d: d, Budget.after(*shown))
    return respond(
        DispatcherList(
            sets=shown,
            destinations=page.items,
            returned=len(page.items),
            total=page.total,
            next_cursor=page.next_cursor,
            size_limited=page.size_limited,
            notice=_too_many_sets(len(summaries)),
        )
    )


def _too_many_sets(count: int) -> str | None:
    if count <= MAX_SETS:
        return None
    return f"{count} sets: only the first {MAX_SETS} are summarized; pass set_id for others."


class DestinationChange(Output):
    """A destination's state after a change, read back from ds_list."""

    partition: str
    set_id: int
    address: str
    requested: DsState
    state_after: str | None = Field(description="As ds_list shows it now (null: not listed).")


@TOOLSET.tool(
    uses=["ds_set_state", "ds_list"],
    min_level=AccessLevel.WRITE,
    idempotent=True,
    title="Set a dispatcher destination state",
)
async def dispatcher_set_state(
    ctx: Context,
    set_id: Annotated[int, Field(ge=0, description="The dispatcher set (group) id.")],
    address: Annotated[
        str,
        Field(
            min_length=3,
            max_length=256,
            pattern=r"^[^\s]+$",
            description="The destination as listed, e.g. 'sip:10.0.0.5:5060'.",
        ),
    ],
    state: Annotated[
        DsState,
        Field(
            description="active (send traffic), inactive (take out of rotation), probing "
            "(take out and ping it until it answers, then back in)."
        ),
    ],
    partition: Partition = None,
) -> Annotated[CallToolResult, DestinationChange]:
    """Take a dispatcher destination out of rotation (inactive), put it back (active) or
    let OpenSIPS probe it back (probing). Calls in progress through it are not dropped.
    Returns the state read back after the change."""
    group = f"{partition}:{set_id}" if partition else str(set_id)
    params = {"state": _STATE_ARG[state], "group": group, "address": address}
    async with runtime_of(ctx).tool_call(ctx, "dispatcher_set_state") as call:
        await call.mi("ds_set_state", params)
        after = await _list(call, partition)
    name = partition or "default"
    now = next(
        (
            d.state
            for d in after
            if d.set_id == set_id and d.uri == address and (d.partition == name)
        ),
        None,
    )
    return respond(
        DestinationChange(
            partition=name, set_id=set_id, address=address, requested=state, state_after=now
        )
    )


class Reloaded(Output):
    """What the dispatcher holds after a reload."""

    partition: str | None
    kept_states: bool
    sets_total: int
    sets: list[SetSummary] = Field(description="The first 100 sets.")


@TOOLSET.tool(
    uses=["ds_reload", "ds_list"],
    min_level=AccessLevel.WRITE,
    idempotent=True,
    title="Reload dispatcher",
)
async def dispatcher_reload(
    ctx: Context,
    partition: Partition = None,
    keep_states: Annotated[
        bool,
        Field(
            description="Keep the current active/inactive states of destinations that "
            "stay (true) or take the states stored in the database (false)."
        ),
    ] = True,
) -> Annotated[CallToolResult, Reloaded]:
    """Reload the dispatcher sets from the database (after the table was edited).
    Returns the set summaries after the reload."""
    params: dict[str, Any] = {}
    if partition is not None:
        params["partition"] = partition
    if not keep_states:
        params["inherit_state"] = "n"
    async with runtime_of(ctx).tool_call(ctx, "dispatcher_reload") as call:
        await call.mi("ds_reload", params)
        after = await _list(call, partition)
    sets = _summaries(after)
    return respond(
        Reloaded(
            partition=partition,
            kept_states=keep_states,
            sets_total=len(sets),
            sets=sets[:MAX_SETS],
        )
    )
