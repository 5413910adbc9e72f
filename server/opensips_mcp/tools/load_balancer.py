"""load_balancer toolset: destinations with load and capacity, enable/disable, resize, reload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from opensips_mcp.catalog import AccessLevel
from opensips_mcp.runtime import ToolCall, runtime_of
from opensips_mcp.tools import Toolset
from opensips_mcp.tools.paging import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    PageInfo,
    filter_key,
    offset_page,
    offset_start,
    respond,
)
from opensips_mcp.tools.parsing import as_int, dicts, yes
from opensips_mcp.tools.untrusted import Output, clip_opt

TOOLSET = Toolset(
    "load_balancer",
    "Load balancer destinations: load and capacity per resource, enable/disable, resize, reload.",
)

KIND = "load_balancer"
DestinationId = Annotated[int, Field(ge=0, description="The destination id as lb_list shows.")]


class Resource(Output):
    """One resource of a destination (e.g. 'pstn' channels)."""

    name: str
    load: int | None = Field(description="Calls using it now.")
    capacity: int | None = Field(description="Most calls it may take.")
    used_percent: float | None


class LbDestination(Output):
    """A load-balancer destination."""

    id: int
    group: int | None
    uri: str
    enabled: bool
    auto_reenable: bool = Field(description="Re-enabled automatically when probing succeeds.")
    attrs: str | None
    resources: list[Resource]


class LbList(PageInfo):
    """A page of load-balancer destinations."""

    destinations: list[LbDestination]


def _destination(d: Mapping[str, Any]) -> LbDestination:
    resources = []
    for r in dicts(d, "Resources"):
        load, capacity = as_int(r.get("load")), as_int(r.get("max"))
        percent = round(100.0 * load / capacity, 1) if load is not None and capacity else None
        resources.append(
            Resource(
                name=str(r.get("name", "")), load=load, capacity=capacity, used_percent=percent
            )
        )
    return LbDestination(
        id=as_int(d.get("id")) or 0,
        group=as_int(d.get("group")),
        uri=str(d.get("uri", "")),
        enabled=yes(d.get("enabled")),
        auto_reenable=yes(d.get("auto-reenable")),
        attrs=clip_opt(d.get("attrs")),
        resources=resources,
    )


async def _list(call: ToolCall) -> list[LbDestination]:
    return [_destination(d) for d in dicts((await call.mi("lb_list")).result, "Destinations")]


@TOOLSET.tool(uses=["lb_list"], idempotent=True, title="List load-balancer destinations")
async def lb_destinations(
    ctx: Context,
    group: Annotated[int | None, Field(ge=0, description="Only this group.")] = None,
    enabled: Annotated[bool | None, Field(description="Only enabled (true) or disabled.")] = None,
    resource: Annotated[
        str | None, Field(max_length=64, description="Only destinations offering this resource.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, LbList]:
    """Load-balancer destinations with, per resource, the current load, the capacity and
    the percentage used; whether each destination is enabled. Paged."""
    key = filter_key(group=group, enabled=enabled, resource=resource)
    async with runtime_of(ctx).tool_call(ctx, "lb_destinations") as call:
        start = offset_start(cursor, KIND, key)
        everything = await _list(call)
    chosen = [
        d
        for d in everything
        if (group is None or d.group == group)
        and (enabled is None or d.enabled == enabled)
        and (resource is None or any(r.name == resource for r in d.resources))
    ]
    page = offset_page(chosen, start, KIND, key, limit, lambda d: d)
    return respond(
        LbList(
            destinations=page.items,
            returned=len(page.items),
            total=page.total,
            next_cursor=page.next_cursor,
            size_limited=page.size_limited,
        )
    )


class LbChange(Output):
    """A destination after a change, read back from lb_list (null: not listed)."""

    destination_id: int
    destination: LbDestination | None


def _find(destinations: list[LbDestination], destination_id: int) -> LbDestination | None:
    return next((d for d in destinations if d.id == destination_id), None)


@TOOLSET.tool(
    uses=[("lb_status", ("destination_id", "new_status")), "lb_list"],
    min_level=AccessLevel.WRITE,
    idempotent=True,
    title="Enable or disable a load-balancer destination",
)
async def lb_set_status(
    ctx: Context,
    destination_id: DestinationId,
    enabled: Annotated[
        bool, Field(description="false takes it out of rotation; true puts it back.")
    ],
) -> Annotated[CallToolResult, LbChange]:
    """Enable or disable a load-balancer destination. Disabled, it gets no new calls;
    calls in progress continue. A destination disabled by hand is not re-enabled by
    probing. Returns the destination read back after the change."""
    params = {"destination_id": destination_id, "new_status": 1 if enabled else 0}
    async with runtime_of(ctx).tool_call(ctx, "lb_set_status") as call:
        await call.mi("lb_status", params)
        after = await _list(call)
    return respond(
        LbChange(destination_id=destination_id, destination=_find(after, destination_id))
    )


@TOOLSET.tool(
    uses=["lb_resize", "lb_list"],
    min_level=AccessLevel.WRITE,
    idempotent=True,
    title="Resize a load-balancer resource",
)
async def lb_resize(
    ctx: Context,
    destination_id: DestinationId,
    resource: Annotated[
        str,
        Field(min_length=1, max_length=64, description="The resource name, e.g. 'pstn'."),
    ],
    capacity: Annotated[int, Field(ge=0, le=1_000_000, description="The new capacity.")],
) -> Annotated[CallToolResult, LbChange]:
    """Change how many calls one resource of a destination may take (until the next
    reload, which restores the database value). 0 stops new calls for that resource.
    Returns the destination read back after the change."""
    params = {"destination_id": destination_id, "res_name": resource, "new_capacity": capacity}
    async with runtime_of(ctx).tool_call(ctx, "lb_resize") as call:
        await call.mi("lb_resize", params)
        after = await _list(call)
    return respond(
        LbChange(destination_id=destination_id, destination=_find(after, destination_id))
    )


class LbReloaded(Output):
    """The destinations after a reload."""

    destinations: int
    enabled: int


@TOOLSET.tool(
    uses=["lb_reload", "lb_list"],
    min_level=AccessLevel.WRITE,
    idempotent=True,
    title="Reload the load balancer",
)
async def lb_reload(ctx: Context) -> Annotated[CallToolResult, LbReloaded]:
    """Reload load-balancer destinations and capacities from the database (after the table
    was edited; undoes lb_resize). Enabled/disabled states are kept."""
    async with runtime_of(ctx).tool_call(ctx, "lb_reload") as call:
        await call.mi("lb_reload")
        after = await _list(call)
    return respond(LbReloaded(destinations=len(after), enabled=sum(1 for d in after if d.enabled)))
