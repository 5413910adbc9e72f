"""clusterer MI commands (``modules/clusterer/clusterer_mod.c``, ``sharing_tags.c``):
listing clusters, topology, capabilities and sharing tags, changing node states and tags,
and running MI commands on other nodes.

``cluster_send_mi`` only *sends* the command: the answer is ``OK`` once the destination is
reachable, and whatever the command answers stays on that node. ``cluster_broadcast_mi``
sends to every reachable node, then runs the command locally and answers with the local
result. Carried parameters travel as a positional list of strings.
"""

from __future__ import annotations

from typing import Any

from .. import dispatch
from ..errors import MIError, bad_array_item, bad_type
from ..params import Params, c_valueint
from ..registry import HANDLERS, LEVELS, CallContext, Level, PartialFailure, command
from ..state.clusterer import Cluster, ClustererState, SharingTag
from ..world import World

NODE_DISABLED, NODE_ENABLED = 0, 1


def _carried_args(params: Params) -> tuple[list[str] | None, bool]:
    """The carried parameters as strings, and whether every item could be converted.

    A non-array ``cmd_params`` is a parameter error; an empty array means no parameters.
    """
    if not params.has("cmd_params"):
        return None, True
    raw = params.raw("cmd_params")
    if not isinstance(raw, list):
        raise bad_type("cmd_params")
    args: list[str] = []
    for item in raw:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            return None, False
        args.append(item if isinstance(item, str) else str(c_valueint(item)))
    return args or None, True


def _run_carried(world: World, name: str, args: list[str] | None) -> Any:
    """Run a carried command as a node does on receipt (``cl_run_mi_cmd``)."""
    info = dispatch.available(name)
    if info is None:
        raise MIError(400, "Command to be run not found")
    if "MI_ASYNC_RPL_FLAG" in info.flags:
        raise MIError(400, "Async commands not supported")
    impl = HANDLERS.get(name)
    if info.named_only or (impl is not None and impl.named_only):
        raise MIError(400, "Commands requiring named params not supported")
    return dispatch.run(world, name, args)


def _carried_level(params: Params) -> Level:
    """The carried command's own level: sending a read to one peer changes nothing anywhere.

    A carried command that cannot run here (unknown, params matching no recipe, or not
    implemented by the simulator) changes nothing either: the peer refuses it, so ``read``.
    """
    try:
        args, _ = _carried_args(params)
        resolved = dispatch.resolve(params.text("cmd_name"), args)
    except MIError:
        return "read"
    return resolved.level if resolved.impl is not None else "read"


def _broadcast_level(params: Params) -> Level:
    """The higher of ``write`` and the carried level: a broadcast acts on every node."""
    return max("write", _carried_level(params), key=LEVELS.index)


def _positive(params: Params, name: str) -> int:
    value = params.integer(name)
    if value < 1:
        raise MIError(400, f"Bad value for '{name}'")
    return value


@command("cluster_send_mi", level=_carried_level)
def cluster_send_mi(ctx: CallContext, params: Params) -> Any:
    """Send an MI command to one node of a cluster (runs there, not here)."""
    state = ctx.world.get(ClustererState)
    cluster_id = _positive(params, "cluster_id")
    node_id = _positive(params, "destination")
    if node_id == state.node_id:
        raise MIError(400, "Local node specified as destination")
    name = params.text("cmd_name")
    args, packed = _carried_args(params)
    cluster = state.cluster(cluster_id)
    if not packed or cluster is None:
        raise MIError(400, "Send error")
    if not cluster.enabled:
        return "Local node disabled"
    node = cluster.node(node_id)
    if node is None:
        raise MIError(400, "Send error")
    if not state.is_up(node):
        raise MIError(400, "Destination down")
    ctx.notes["cluster_targets"] = [node_id]
    _run_on_peer(ctx, state, node_id, name, args)
    return "OK"


@command("cluster_broadcast_mi", level=_broadcast_level)
def cluster_broadcast_mi(ctx: CallContext, params: Params) -> Any:
    """Run an MI command on every reachable node of a cluster, then here; answer with ours.

    Bulk: under a ``partial`` fault it stops after that many targets (peers first, this
    node last) and raises :class:`PartialFailure`.
    """
    state = ctx.world.get(ClustererState)
    cluster_id = _positive(params, "cluster_id")
    name = params.text("cmd_name")
    args, packed = _carried_args(params)
    cluster = state.cluster(cluster_id)
    peers = _reachable_peers(state, cluster) if packed and cluster and cluster.enabled else []
    limit = ctx.partial
    for applied, node_id in enumerate(peers):
        if limit is not None and applied >= limit:
            raise PartialFailure(applied)
        ctx.notes.setdefault("cluster_targets", []).append(node_id)
        _run_on_peer(ctx, state, node_id, name, args)
    if limit is not None and limit <= len(peers):
        raise PartialFailure(len(peers))
    if not packed:
        raise bad_array_item("cmd_params")
    result = _run_carried(ctx.world, name, args)
    if limit is not None:
        raise PartialFailure(len(peers) + 1)
    return result


def _reachable_peers(state: ClustererState, cluster: Cluster) -> list[int]:
    return [n.node_id for n in cluster.nodes if state.is_up(n)]


def _run_on_peer(
    ctx: CallContext, state: ClustererState, node_id: int, name: str, args: list[str] | None
) -> None:
    """Run a carried command on a peer; its failure stays there (noted, not answered)."""
    error: Any = None
    try:
        _run_carried(state.peers[node_id], name, args)
    except MIError as err:
        error = err.to_json()
        ctx.notes.setdefault("cluster_errors", {})[node_id] = error
    if state.carried_hook is not None:
        state.carried_hook(node_id, name, args, error)


def _clusters(ctx: CallContext) -> list[Cluster]:
    return ctx.world.get(ClustererState).clusters


@command("clusterer_list", level="read")
def clusterer_list(ctx: CallContext, params: Params) -> Any:
    """The other nodes of every cluster and how this node sees them."""
    state = ctx.world.get(ClustererState)
    return {
        "Clusters": [
            {
                "cluster_id": c.cluster_id,
                "Nodes": [
                    {
                        "node_id": n.node_id,
                        "db_id": n.db_id,
                        "url": n.url,
                        "link_state": state.link_of(n),
                        "state": "enabled" if n.enabled else "disabled",
                        "next_hop": str(n.node_id) if state.is_up(n) else "none",
                        "description": n.description if n.description is not None else "none",
                    }
                    for n in c.nodes
                ],
            }
            for c in state.clusters
        ]
    }


@command("clusterer_list_topology", level="read")
def clusterer_list_topology(ctx: CallContext, params: Params) -> Any:
    """Every node of every cluster (this one first) with the neighbours it has links to."""
    state = ctx.world.get(ClustererState)
    out = []
    for c in state.clusters:
        nodes = [
            {
                "node_id": state.node_id,
                "Neighbours": [n.node_id for n in c.nodes if state.is_up(n)],
            }
        ]
        for n in c.nodes:
            up = state.is_up(n)
            neighbours = [x for x in n.neighbours if x != state.node_id] if up else []
            if up:
                neighbours.append(state.node_id)
            nodes.append({"node_id": n.node_id, "Neighbours": neighbours})
        out.append({"cluster_id": c.cluster_id, "Nodes": nodes})
    return {"Clusters": out}


@command("clusterer_list_cap", level="read")
def clusterer_list_cap(ctx: CallContext, params: Params) -> Any:
    """Registered capabilities per cluster and whether they are synced."""
    return {
        "Clusters": [
            {
                "cluster_id": c.cluster_id,
                "Capabilities": [
                    {
                        "name": cap.name,
                        "state": "Ok" if cap.synced else "not synced",
                        "enabled": "yes",
                    }
                    for cap in c.capabilities
                ],
            }
            for c in _clusters(ctx)
        ]
    }


@command("clusterer_list_shtags", level="read")
def clusterer_list_shtags(ctx: CallContext, params: Params) -> Any:
    """Every sharing tag with its cluster and state (an array, as the module answers)."""
    return [
        {"Tag": t.tag, "Cluster": c.cluster_id, "State": "active" if t.active else "backup"}
        for c in _clusters(ctx)
        for t in c.sharing_tags
    ]


@command("clusterer_set_status", level="write")
def clusterer_set_status(ctx: CallContext, params: Params) -> Any:
    """Enable (1) or disable (0) this node, or another node as seen from here."""
    state = ctx.world.get(ClustererState)
    cluster_id = _positive(params, "cluster_id")
    node_id = _positive(params, "node_id") if params.has("node_id") else state.node_id
    status = params.integer("status")
    if status not in (NODE_DISABLED, NODE_ENABLED):
        raise MIError(400, "Bad value for 'status'")
    cluster = state.cluster(cluster_id)
    if cluster is None:
        raise MIError(404, "Cluster id not found")
    if node_id == state.node_id:
        cluster.enabled = status == NODE_ENABLED
        return "OK"
    node = cluster.node(node_id)
    if node is None:
        raise MIError(404, "Node id not found")
    node.enabled = status == NODE_ENABLED
    return "OK"


@command("clusterer_shtag_set_active", level="write")
def clusterer_shtag_set_active(ctx: CallContext, params: Params) -> Any:
    """Make sharing tag ``name/cluster_id`` active here; reachable peers go to backup."""
    state = ctx.world.get(ClustererState)
    raw = params.text("tag")
    if "/" not in raw:
        raise MIError(400, "Bad tag format <name/cluster_id>")
    name, _, cid_text = raw.partition("/")
    name, cid_text = name.strip(), cid_text.strip()
    if not cid_text.isdigit():
        raise MIError(400, "Bad cluster ID in tag")
    cluster = state.cluster(int(cid_text))
    if cluster is None:
        raise MIError(404, "Cluster ID not found")
    tag = cluster.tag(name)
    if tag is None:
        # the module creates a tag it does not know yet
        tag = SharingTag(name)
        cluster.sharing_tags.append(tag)
    was_active, tag.active = tag.active, True
    if not was_active:
        for node_id in _reachable_peers(state, cluster):
            peer_cluster = state.peers[node_id].get(ClustererState).cluster(cluster.cluster_id)
            peer_tag = peer_cluster.tag(name) if peer_cluster else None
            if peer_tag is not None:
                peer_tag.active = False
    return "OK"
