"""routing toolset (drouting): gateway and carrier states, reload, and where a number goes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from opensips_mcp.catalog import AccessLevel
from opensips_mcp.errors import MCPToolError
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
from opensips_mcp.tools.parsing import as_text, dicts, yes
from opensips_mcp.tools.untrusted import Output, clip_opt

TOOLSET = Toolset(
    "routing",
    "Dynamic routing (drouting): gateway and carrier states, reload, test a number's route.",
)

KIND = "routing"
Kind = Literal["gateway", "carrier"]
PartitionName = Annotated[
    str | None,
    Field(
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="drouting partition; only when the module uses partitions.",
    ),
]
TargetId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[^\s]+$",
        description="The gateway or carrier id as routing_status lists it.",
    ),
]


class Target(Output):
    """A gateway or carrier and whether it is used."""

    kind: Kind
    id: str
    address: str | None = Field(description="host:port (gateways only).")
    state: str = Field(
        description="Gateways: active, inactive, probing ... as OpenSIPS prints it; "
        "carriers: enabled or disabled."
    )
    enabled: bool
    attrs: str | None


class RoutingStatus(PageInfo):
    """A page of gateways or carriers, and when the rules were last loaded."""

    kind: Kind
    targets: list[Target]
    last_reload: str | None = Field(description="When the data was last (re)loaded.")


def _gateway(g: Mapping[str, Any]) -> Target:
    state = str(g.get("State", "")).strip()
    return Target(
        kind="gateway",
        id=str(g.get("ID", "")),
        address=as_text(g.get("IP")),
        state=state.lower(),
        enabled=state.lower().startswith("active"),
        attrs=clip_opt(g.get("ATTRS")),
    )


def _carrier(c: Mapping[str, Any]) -> Target:
    enabled = yes(c.get("Enabled"))
    return Target(
        kind="carrier",
        id=str(c.get("ID", "")),
        address=None,
        state="enabled" if enabled else "disabled",
        enabled=enabled,
        attrs=clip_opt(c.get("ATTRS")),
    )


def _partition(partition: str | None) -> dict[str, Any]:
    return {} if partition is None else {"partition_name": partition}


async def _targets(call: ToolCall, kind: Kind, partition: str | None) -> list[Target]:
    if kind == "gateway":
        answer = await call.mi("dr_gw_status", _partition(partition))
        return [_gateway(g) for g in dicts(answer.result, "Gateways")]
    answer = await call.mi("dr_carrier_status", _partition(partition))
    return [_carrier(c) for c in dicts(answer.result, "Carriers")]


async def _last_reload(call: ToolCall, partition: str | None) -> str | None:
    try:
        answer = await call.mi("dr_reload_status", _partition(partition))
    except MCPToolError:
        return None
    result = answer.result
    if not isinstance(result, Mapping):
        return None
    if result.get("Date") is not None:
        return str(result["Date"])
    dates = [f"{p.get('name')}: {p.get('Date')}" for p in dicts(result, "Partitions")]
    return "; ".join(dates) or None


@TOOLSET.tool(
    uses=[
        ("dr_gw_status", ()),
        ("dr_gw_status", ("partition_name",)),
        ("dr_carrier_status", ()),
        ("dr_carrier_status", ("partition_name",)),
        "dr_reload_status",
    ],
    idempotent=True,
    title="Routing gateways and carriers",
)
async def routing_status(
    ctx: Context,
    kind: Annotated[Kind, Field(description="List gateways or carriers.")] = "gateway",
    enabled: Annotated[bool | None, Field(description="Only enabled (true) or disabled.")] = None,
    partition: PartitionName = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, RoutingStatus]:
    """Dynamic-routing gateways (address, state) or carriers (enabled or not), paged,
    with the time of the last reload. A disabled gateway or carrier gets no calls."""
    key = filter_key(kind=kind, enabled=enabled, partition=partition)
    async with runtime_of(ctx).tool_call(ctx, "routing_status") as call:
        start = offset_start(cursor, KIND, key)
        targets = await _targets(call, kind, partition)
        reloaded = await _last_reload(call, partition)
    chosen = [t for t in targets if enabled is None or t.enabled == enabled]
    page = offset_page(chosen, start, KIND, key, limit, lambda t: t)
    return respond(
        RoutingStatus(
            kind=kind,
            targets=page.items,
            last_reload=reloaded,
            returned=len(page.items),
            total=page.total,
            next_cursor=page.next_cursor,
            size_limited=page.size_limited,
        )
    )


class TargetChange(Output):
    """A gateway or carrier after a change, read back (null: not found)."""

    kind: Kind
    id: str
    requested_enabled: bool
    target: Target | None


@TOOLSET.tool(
    uses=[
        ("dr_gw_status", ("gw_id", "status")),
        ("dr_gw_status", ("partition_name", "gw_id", "status")),
        ("dr_carrier_status", ("carrier_id", "status")),
        ("dr_carrier_status", ("partition_name", "carrier_id", "status")),
        ("dr_gw_status", ()),
        ("dr_carrier_status", ()),
    ],
    min_level=AccessLevel.WRITE,
    idempotent=True,
    title="Enable or disable a gateway or carrier",
)
async def routing_set_status(
    ctx: Context,
    kind: Annotated[Kind, Field(description="What to change.")],
    id: TargetId,
    enabled: Annotated[
        bool, Field(description="false takes it out of rotation; true brings it back.")
    ],
    partition: PartitionName = None,
) -> Annotated[CallToolResult, TargetChange]:
    """Take a drouting gateway or carrier out of rotation, or bring it back. Calls in
    progress are not affected; new calls route to the next gateway of their rule. A
    gateway disabled here stays disabled (probing does not re-enable it) until enabled
    again or reloaded without keeping states. Returns the state read back."""
    command = "dr_gw_status" if kind == "gateway" else "dr_carrier_status"
    id_param = "gw_id" if kind == "gateway" else "carrier_id"
    params = {**_partition(partition), id_param: id, "status": 1 if enabled else 0}
    async with runtime_of(ctx).tool_call(ctx, "routing_set_status") as call:
        await call.mi(command, params)
        after = await _targets(call, kind, partition)
    found = next((t for t in after if t.id == id), None)
    return respond(TargetChange(kind=kind, id=id, requested_enabled=enabled, target=found))


class RoutingReloaded(Output):
    """The outcome of a drouting reload."""

    partition: str | None
    kept_states: bool
    gateways: int
    carriers: int
    last_reload: str | None


@TOOLSET.tool(
    uses=[
        "dr_reload",
        "dr_reload_status",
        ("dr_gw_status", ()),
        ("dr_gw_status", ("partition_name",)),
        ("dr_carrier_status", ()),
        ("dr_carrier_status", ("partition_name",)),
    ],
    min_level=AccessLevel.WRITE,
    idempotent=True,
    title="Reload dynamic routing",
)
async def routing_reload(
    ctx: Context,
    partition: PartitionName = None,
    keep_states: Annotated[
        bool,
        Field(
            description="Keep gateways/carriers disabled or enabled as they are now "
            "(true) or take the database states (false)."
        ),
    ] = True,
) -> Annotated[CallToolResult, RoutingReloaded]:
    """Reload drouting gateways, carriers and rules from the database (after the tables
    were edited). Returns counts and the reload time read back."""
    params = _partition(partition)
    if not keep_states:
        params["inherit_state"] = "n"
    async with runtime_of(ctx).tool_call(ctx, "routing_reload") as call:
        await call.mi("dr_reload", params)
        gateways = await _targets(call, "gateway", partition)
        carriers = await _targets(call, "carrier", partition)
        reloaded = await _last_reload(call, partition)
    return respond(
        RoutingReloaded(
            partition=partition,
            kept_states=keep_states,
            gateways=len(gateways),
            carriers=len(carriers),
            last_reload=reloaded,
        )
    )


class RouteTarget(Output):
    """A gateway or carrier a rule sends the number to, in rule order."""

    kind: Kind
    id: str
    enabled: bool | None = Field(description="Whether it takes calls now (null: unknown).")


class NumberRoute(Output):
    """Where a number routes."""

    number: str
    group_id: int
    matched: bool
    matched_prefix: str | None
    targets: list[RouteTarget]
    rule_attrs: str | None


@TOOLSET.tool(
    uses=[
        ("dr_number_routing", ("group_id", "number")),
        ("dr_number_routing", ("partition_name", "group_id", "number")),
        ("dr_gw_status", ()),
        ("dr_gw_status", ("partition_name",)),
        ("dr_carrier_status", ()),
        ("dr_carrier_status", ("partition_name",)),
    ],
    idempotent=True,
    title="Test a number's route",
)
async def routing_test_number(
    ctx: Context,
    number: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^\+?[0-9A-Za-z*#]+$",
            description="The dialled number or user part, e.g. '+441234567890'.",
        ),
    ],
    group_id: Annotated[
        int, Field(ge=0, description="The routing group (rules are looked up per group).")
    ],
    partition: PartitionName = None,
) -> Annotated[CallToolResult, NumberRoute]:
    """Which rule a number matches in a routing group and the gateways/carriers it would
    try, in order, each with whether it is enabled now. Sends no call."""
    params = {**_partition(partition), "group_id": group_id, "number": number}
    async with runtime_of(ctx).tool_call(ctx, "routing_test_number") as call:
        answer = await call.mi("dr_number_routing", params)
        result = answer.result
        targets: list[RouteTarget] = []
        matched = isinstance(result, Mapping)
        if matched:
            known = [
                *await _targets(call, "gateway", partition),
                *await _targets(call, "carrier", partition),
            ]
            states = {(t.kind, t.id): t.enabled for t in known}
            for item in dicts(result, "GW List"):
                what: Kind = "carrier" if "CARRIER" in item else "gateway"
                target_id = str(item.get("CARRIER", item.get("GATEWAY", "")))
                targets.append(
                    RouteTarget(kind=what, id=target_id, enabled=states.get((what, target_id)))
                )
    prefix = as_text(result.get("Matched Prefix")) if isinstance(result, Mapping) else None
    attrs = clip_opt(result.get("ATTRS")) if isinstance(result, Mapping) else None
    return respond(
        NumberRoute(
            number=number,
            group_id=group_id,
            matched=matched,
            matched_prefix=prefix,
            targets=targets,
            rule_attrs=attrs,
        )
    )
