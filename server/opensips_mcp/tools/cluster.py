"""cluster toolset (clusterer): nodes, topology, sharing tags, capabilities, node status,
sharing-tag activation, and a guided drain of this node."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from opensips_mcp import errors
from opensips_mcp.catalog import AccessLevel
from opensips_mcp.errors import ErrorCode, MCPToolError
from opensips_mcp.runtime import ToolCall, runtime_of
from opensips_mcp.tools import Toolset
from opensips_mcp.tools.paging import ITEMS_BUDGET, json_size, respond
from opensips_mcp.tools.parsing import as_int, as_text, dicts
from opensips_mcp.tools.progress import report_progress
from opensips_mcp.tools.untrusted import Output

TOOLSET = Toolset(
    "cluster",
    "Clusterer: nodes, topology, sharing tags, capabilities; node status, tags, drain.",
)

ClusterId = Annotated[int, Field(ge=1, description="The cluster id (cluster_status lists them).")]
MAX_SAMPLES = 120
MAX_NODES = 100


class ClusterNode(Output):
    """Another node of the cluster, as this node sees it."""

    node_id: int
    url: str | None
    link_state: str | None = Field(description="Up, Down, Probe ... (the link from this node).")
    enabled: bool | None
    next_hop: str | None
    description: str | None
    neighbours: list[int] = Field(description="Nodes it has a link to (topology).")
    instance: str | None = Field(default=None, description="Its configured instance, if any.")


class SharingTag(Output):
    """A sharing tag: which node owns a shared resource (e.g. a virtual IP)."""

    tag: str
    state: str = Field(description="active (this node owns it) or backup.")


class Capability(Output):
    """A replicated capability (dialog, usrloc ...) and its sync state."""

    name: str
    state: str


class ClusterInfo(Output):
    """One cluster as seen from this node."""

    cluster_id: int
    local_node_id: int | None = Field(description="This node's id (from the topology).")
    local_neighbours: list[int]
    nodes: list[ClusterNode]
    sharing_tags: list[SharingTag]
    capabilities: list[Capability]


class ClusterStatus(Output):
    """Every cluster this node belongs to."""

    clusters: list[ClusterInfo]
    problems: list[str] = Field(description="Parts that could not be read, and why.")
    size_limited: bool = Field(
        description="True when clusters or nodes (beyond 100) were left out to stay under 64 KB."
    )


async def _read(call: ToolCall, command: str, problems: list[str], required: bool = False) -> Any:
    try:
        return (await call.mi(command)).result
    except MCPToolError as exc:
        if required or exc.code in (ErrorCode.UNREACHABLE, ErrorCode.TIMEOUT):
            raise
        problems.append(str(exc))
        return None


def _topology(result: Any) -> dict[int, dict[int, list[int]]]:
    out: dict[int, dict[int, list[int]]] = {}
    for cluster in dicts(result, "Clusters"):
        cid = as_int(cluster.get("cluster_id"))
        if cid is None:
            continue
        out[cid] = {
            node_id: [n for n in (as_int(x) for x in node.get("Neighbours", []) or []) if n]
            for node in dicts(cluster, "Nodes")
            if (node_id := as_int(node.get("node_id"))) is not None
        }
    return out


def _local_node(listed: list[int], topology: Mapping[int, list[int]]) -> int | None:
    # clusterer_list shows the other nodes; the topology shows every node, this one first.
    others = [n for n in topology if n not in listed]
    if len(others) == 1:
        return others[0]
    return next(iter(topology), None) if not others else None


async def read_clusters(
    call: ToolCall, cluster_id: int | None, *, required: bool = False
) -> ClusterStatus:
    """Nodes, topology, sharing tags and capabilities per cluster (``cluster_id``: one).
    A read that fails is listed in ``problems``; with ``required``, a failed
    ``clusterer_list`` raises its error instead."""
    problems: list[str] = []
    listing = await _read(call, "clusterer_list", problems, required=required)
    topology = _topology(await _read(call, "clusterer_list_topology", problems))
    tags_result = await _read(call, "clusterer_list_shtags", problems)
    caps_result = await _read(call, "clusterer_list_cap", problems)
    tags: dict[int, list[SharingTag]] = {}
    for t in dicts(tags_result):
        cid = as_int(t.get("Cluster"))
        if cid is not None:
            state = str(t.get("State", "")).strip().lower()
            tags.setdefault(cid, []).append(SharingTag(tag=str(t.get("Tag", "")), state=state))
    caps: dict[int, list[Capability]] = {}
    for c in dicts(caps_result, "Clusters"):
        cid = as_int(c.get("cluster_id"))
        if cid is not None:
            caps[cid] = [
                Capability(name=str(x.get("name", "")), state=str(x.get("state", "")))
                for x in dicts(c, "Capabilities")
            ]
    instance_of = {
        i.config.cluster_node_id: name
        for name, i in call.runtime.instances.items()
        if i.config.cluster_node_id is not None
    }
    nodes: dict[int, list[ClusterNode]] = {}
    for cluster in dicts(listing, "Clusters"):
        cid = as_int(cluster.get("cluster_id"))
        if cid is None:
            continue
        links = topology.get(cid, {})
        nodes[cid] = [
            ClusterNode(
                node_id=as_int(n.get("node_id")) or 0,
                url=as_text(n.get("url")),
                link_state=as_text(n.get("link_state")),
                enabled=None if n.get("state") is None else str(n.get("state")) == "enabled",
                next_hop=as_text(n.get("next_hop")),
                description=as_text(n.get("description")),
                neighbours=links.get(as_int(n.get("node_id")) or 0, []),
                instance=instance_of.get(as_int(n.get("node_id")) or 0),
            )
            for n in dicts(cluster, "Nodes")
        ]
    ids = sorted(set(nodes) | set(topology) | set(tags) | set(caps))
    clusters: list[ClusterInfo] = []
    used = 0
    cut = False
    for cid in ids:
        if cluster_id is not None and cid != cluster_id:
            continue
        links = topology.get(cid, {})
        local = _local_node([n.node_id for n in nodes.get(cid, [])], links)
        listed = nodes.get(cid, [])
        cut = cut or len(listed) > MAX_NODES
        info = ClusterInfo(
            cluster_id=cid,
            local_node_id=local,
            local_neighbours=links.get(local, []) if local is not None else [],
            nodes=listed[:MAX_NODES],
            sharing_tags=tags.get(cid, []),
            capabilities=caps.get(cid, []),
        )
        used += json_size(info)
        if clusters and used > ITEMS_BUDGET:
            cut = True
            break
        clusters.append(info)
    return ClusterStatus(clusters=clusters, problems=problems, size_limited=cut)


@TOOLSET.tool(
    uses=[
        "clusterer_list",
        "clusterer_list_topology",
        "clusterer_list_shtags",
        "clusterer_list_cap",
    ],
    idempotent=True,
    title="Cluster status",
)
async def cluster_status(
    ctx: Context,
    cluster_id: Annotated[int | None, Field(ge=1, description="Only this cluster.")] = None,
) -> Annotated[CallToolResult, ClusterStatus]:
    """The clusters this OpenSIPS node belongs to: its own node id, the other nodes (link
    state, enabled, next hop), the topology (who links to whom), sharing tags (which node
    is active for each) and replicated capabilities (synced or not)."""
    async with runtime_of(ctx).tool_call(ctx, "cluster_status") as call:
        return respond(await read_clusters(call, cluster_id))


class NodeChange(Output):
    """A node's status after a change."""

    cluster_id: int
    node_id: int | None = Field(description="The node changed (null: this node).")
    enabled: bool
    seen_enabled: bool | None = Field(
        description="The node's state read back (other nodes only; null for this node)."
    )


@TOOLSET.tool(
    uses=[
        ("clusterer_set_status", ("cluster_id", "status")),
        ("clusterer_set_status", ("cluster_id", "node_id", "status")),
        "clusterer_list",
    ],
    min_level=AccessLevel.WRITE,
    idempotent=True,
    title="Enable or disable a cluster node",
)
async def cluster_set_node_status(
    ctx: Context,
    cluster_id: ClusterId,
    enabled: Annotated[bool, Field(description="false disables the node, true enables it.")],
    node_id: Annotated[
        int | None,
        Field(
            ge=1,
            description="Another node to enable/disable as seen from this one; "
            "omit for this node itself.",
        ),
    ] = None,
) -> Annotated[CallToolResult, NodeChange]:
    """Enable or disable this node in a cluster (it stops or resumes talking to the
    cluster), or another node as seen from here. To drain this node watching its calls,
    use cluster_drain_node."""
    params: dict[str, Any] = {"cluster_id": cluster_id, "status": 1 if enabled else 0}
    if node_id is not None:
        params["node_id"] = node_id
    seen: bool | None = None
    async with runtime_of(ctx).tool_call(ctx, "cluster_set_node_status") as call:
        await call.mi("clusterer_set_status", params)
        if node_id is not None:
            status = await read_clusters(call, cluster_id)
            for info in status.clusters:
                for node in info.nodes:
                    if node.node_id == node_id:
                        seen = node.enabled
    return respond(
        NodeChange(cluster_id=cluster_id, node_id=node_id, enabled=enabled, seen_enabled=seen)
    )


class TagChange(Output):
    """A sharing tag after activation, read back."""

    tag: str
    cluster_id: int
    state: str | None = Field(description="The tag's state here now (null: not listed).")


@TOOLSET.tool(
    uses=["clusterer_shtag_set_active", "clusterer_list_shtags"],
    min_level=AccessLevel.WRITE,
    idempotent=True,
    title="Activate a sharing tag",
)
async def cluster_activate_sharing_tag(
    ctx: Context,
    tag: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_.\-]+$",
            description="The sharing tag name, e.g. 'vip1'.",
        ),
    ],
    cluster_id: ClusterId,
) -> Annotated[CallToolResult, TagChange]:
    """Make this node active for a sharing tag (it takes over the shared resource, e.g.
    a virtual IP); the other nodes that hold it go to backup. Returns the state read back."""
    async with runtime_of(ctx).tool_call(ctx, "cluster_activate_sharing_tag") as call:
        await call.mi("clusterer_shtag_set_active", {"tag": f"{tag}/{cluster_id}"})
        listed = await call.mi("clusterer_list_shtags")
    state = next(
        (
            str(t.get("State", "")).strip().lower()
            for t in dicts(listed.result)
            if str(t.get("Tag")) == tag and as_int(t.get("Cluster")) == cluster_id
        ),
        None,
    )
    return respond(TagChange(tag=tag, cluster_id=cluster_id, state=state))


# --- drain --------------------------------------------------------------------------------


class DrainSample(Output):
    """Calls on this node at one moment of the drain."""

    after_seconds: float
    active_dialogs: int | None


class DrainReport(Output):
    """How the drain went."""

    cluster_id: int
    node_id: int | None = Field(description="This node's id in the cluster.")
    disabled: bool = Field(description="The node was disabled (it stays disabled).")
    dialogs_at_start: int | None
    dialogs_now: int | None
    drained: bool = Field(description="No calls left on this node.")
    waited_seconds: float
    samples: list[DrainSample] = Field(description="The count at each check (the last 120).")
    notice: str


async def _active_dialogs(call: ToolCall) -> int | None:
    # OpenSIPS takes the bare name ("dialog:active_dialogs" would match nothing)
    answer = await call.mi("get_statistics", {"statistics": ["active_dialogs"]})
    result = answer.result
    return as_int(result.get("dialog:active_dialogs")) if isinstance(result, Mapping) else None


@TOOLSET.tool(
    uses=[
        ("clusterer_set_status", ("cluster_id", "status")),
        "clusterer_list",
        "clusterer_list_topology",
        "get_statistics",
    ],
    min_level=AccessLevel.WRITE,
    title="Drain this cluster node",
)
async def cluster_drain_node(
    ctx: Context,
    cluster_id: ClusterId,
    node_id: Annotated[
        int | None,
        Field(
            ge=1,
            description="This node's id, as a check: refused if it is not the node "
            "this server manages (drain another node through its own server).",
        ),
    ] = None,
    wait_seconds: Annotated[
        float, Field(ge=0, le=600, description="How long to watch the calls drain (0-600).")
    ] = 60,
    poll_seconds: Annotated[
        float, Field(ge=0.5, le=60, description="Seconds between two counts of the calls.")
    ] = 5,
) -> Annotated[CallToolResult, DrainReport]:
    """Drain the node this server manages: disable it in the cluster (it stops taking
    part, so new calls go to the other nodes), then count its calls in progress every
    poll_seconds until none are left or wait_seconds pass, reporting progress. Calls are
    never ended: they finish on their own. The node stays disabled; bring it back with
    cluster_set_node_status(enabled=true)."""
    disable = {"cluster_id": cluster_id, "status": 0}
    async with runtime_of(ctx).tool_call(ctx, "cluster_drain_node") as call:
        call.check("clusterer_set_status", disable)
        # required: without clusterer (or when the listing fails) the agent gets that
        # error (not_available...), not "not in that cluster".
        status = await read_clusters(call, cluster_id, required=True)
        local = status.clusters[0].local_node_id if status.clusters else None
        if not status.clusters:
            raise errors.tool_error(
                ErrorCode.INVALID_PARAMS,
                "This node is not in that cluster (see cluster_status); nothing was changed.",
            )
        if node_id is not None and local is not None and node_id != local:
            raise errors.tool_error(
                ErrorCode.INVALID_PARAMS,
                f"Node {node_id} is not the node this server manages (node {local}); nothing "
                "was changed. Drain it through the MCP server of that node.",
            )
        start = await _active_dialogs(call)
        await call.mi("clusterer_set_status", disable)
        t0 = time.monotonic()
        count = start
        samples = [DrainSample(after_seconds=0.0, active_dialogs=count)]
        await report_progress(ctx, 0, wait_seconds, f"node disabled; {count} calls in progress")
        while count != 0 and (left := wait_seconds - (time.monotonic() - t0)) > 0:
            await asyncio.sleep(min(poll_seconds, left))
            count = await _active_dialogs(call)
            waited = round(time.monotonic() - t0, 3)
            samples.append(DrainSample(after_seconds=waited, active_dialogs=count))
            await report_progress(
                ctx, min(waited, wait_seconds), wait_seconds, f"{count} calls in progress"
            )
        waited = round(time.monotonic() - t0, 3)
    drained = count == 0
    notice = (
        "All calls have ended. The node stays disabled: enable it with "
        "cluster_set_node_status(enabled=true) when done."
        if drained
        else "Calls are still in progress; they were not ended. Call cluster_drain_node "
        "again to keep watching (the node is already disabled), or re-enable it with "
        "cluster_set_node_status(enabled=true)."
    )
    return respond(
        DrainReport(
            cluster_id=cluster_id,
            node_id=local,
            disabled=True,
            dialogs_at_start=start,
            dialogs_now=count,
            drained=drained,
            waited_seconds=waited,
            samples=samples[-MAX_SAMPLES:],
            notice=notice,
        )
    )
