"""Clusterer state: clusters, peer nodes (each a whole simulated OpenSIPS), capabilities
and sharing tags.

Scenario section ``"clusterer"`` (absent section = no clusters)::

    {
      "node_id": 1,                      # this node's id (default: the world's node_id)
      "clusters": [
        {"cluster_id": 1,
         "enabled": true,                # this node's own state in the cluster
         "nodes": [                      # the other nodes of the cluster
           {"node_id": 2, "db_id": 2, "url": "bin:127.0.0.1:5567",
            "link_state": "Up",          # Up | Probe | Down, while the node is enabled
            "enabled": true,
            "description": "absent peer",     # "none" when absent
            "neighbours": [3],                # the peer's own links, for the topology
            "state": {...}}],            # a scenario for the peer's own world
         "capabilities": [{"name": "dialog-dlg-repl", "synced": true}],
         "sharing_tags": [{"tag": "vip", "state": "active"}]}]   # active | backup
    }

Every peer node is a separate :class:`~opensips_sim.world.World` (same clock, its own
seed and state), so ``cluster_send_mi`` changes the peer and nothing here. A node id that
appears in several clusters is one world. A disabled peer shows ``link_state`` ``Down``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..world import StatePart, World

LINK_STATES = ("Up", "Probe", "Down")


@dataclass
class Node:
    """A peer node as this node sees it."""

    node_id: int
    db_id: int
    url: str
    link_state: str = "Up"
    enabled: bool = True
    description: str | None = None
    neighbours: list[int] = field(default_factory=list)

    @property
    def link(self) -> str:
        """The link state shown by ``clusterer_list``."""
        return self.link_state if self.enabled else "Down"

    @property
    def is_up(self) -> bool:
        """Whether messages reach the node."""
        return self.link == "Up"


@dataclass
class Capability:
    """A registered capability (e.g. ``dialog-dlg-repl``) and its sync state."""

    name: str
    synced: bool = True


@dataclass
class SharingTag:
    """A sharing tag of a cluster."""

    tag: str
    active: bool = False


@dataclass
class Cluster:
    """One cluster: this node's state in it, the other nodes, capabilities, tags."""

    cluster_id: int
    enabled: bool = True
    nodes: list[Node] = field(default_factory=list)
    capabilities: list[Capability] = field(default_factory=list)
    sharing_tags: list[SharingTag] = field(default_factory=list)

    def node(self, node_id: int) -> Node | None:
        """A peer node of this cluster."""
        return next((n for n in self.nodes if n.node_id == node_id), None)

    def tag(self, name: str) -> SharingTag | None:
        """A sharing tag of this cluster."""
        return next((t for t in self.sharing_tags if t.tag == name), None)


def _node(raw: Mapping[str, Any]) -> Node:
    link = str(raw.get("link_state", "Up"))
    if link not in LINK_STATES:
        raise ValueError(f"clusterer: bad link_state {link!r}")
    node_id = int(raw["node_id"])
    description = raw.get("description")
    return Node(
        node_id=node_id,
        db_id=int(raw.get("db_id", node_id)),
        url=str(raw.get("url", f"bin:127.0.0.{node_id}:5566")),
        link_state=link,
        enabled=bool(raw.get("enabled", True)),
        description=None if description is None else str(description),
        neighbours=[int(n) for n in raw.get("neighbours", [])],
    )


def _cluster(raw: Mapping[str, Any]) -> Cluster:
    return Cluster(
        cluster_id=int(raw["cluster_id"]),
        enabled=bool(raw.get("enabled", True)),
        nodes=[_node(n) for n in raw.get("nodes", [])],
        capabilities=[
            Capability(str(c["name"]), bool(c.get("synced", True)))
            for c in raw.get("capabilities", [])
        ],
        sharing_tags=[
            SharingTag(str(t["tag"]), str(t.get("state", "backup")).lower() == "active")
            for t in raw.get("sharing_tags", [])
        ],
    )


class ClustererState(StatePart):
    """This node's view of its clusters, and the worlds of its peers."""

    key = "clusterer"

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.node_id = world.node_id
        self.clusters: list[Cluster] = []
        self.peers: Mapping[int, World] = {}
        #: In a simulated cluster (``cluster.py``): this node's live view of a peer's link.
        self.link_oracle: Callable[[int], str] | None = None
        #: In a simulated cluster: told of each command run on a peer (for its journal).
        self.carried_hook: Callable[[int, str, list[str] | None, Any], None] | None = None

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace clusters and build one world per peer node from its ``state``."""
        self.node_id = int(section.get("node_id", self.world.node_id))
        self.clusters = [_cluster(c) for c in section.get("clusters", [])]
        peers: dict[int, World] = {}
        self.peers = peers
        for raw_cluster in section.get("clusters", []):
            for raw_node in raw_cluster.get("nodes", []):
                node_id = int(raw_node["node_id"])
                if node_id not in peers:
                    peers[node_id] = World(
                        seed=self.world.seed * 1000 + node_id,
                        clock=self.world.clock,
                        node_id=node_id,
                    )
                peer_state = raw_node.get("state")
                if peer_state:
                    peers[node_id].load(peer_state)

    def cluster(self, cluster_id: int) -> Cluster | None:
        """A cluster this node belongs to."""
        return next((c for c in self.clusters if c.cluster_id == cluster_id), None)

    def link_of(self, node: Node) -> str:
        """The link state ``clusterer_list`` shows for ``node``."""
        if self.link_oracle is not None:
            return self.link_oracle(node.node_id)
        return node.link

    def is_up(self, node: Node) -> bool:
        """Whether messages reach ``node``."""
        return self.link_of(node) == "Up"

    def tick(self, now: float) -> None:
        """Let time pass on every peer too (the peers of a simulated cluster tick alone)."""
        if self.link_oracle is not None:
            return
        for peer in self.peers.values():
            peer.tick()

    def snapshot(self) -> Any:
        """Clusters in the scenario schema, with each peer's whole state."""
        return {
            "node_id": self.node_id,
            "clusters": [
                {
                    "cluster_id": c.cluster_id,
                    "enabled": c.enabled,
                    "nodes": [
                        {
                            "node_id": n.node_id,
                            "db_id": n.db_id,
                            "url": n.url,
                            "link_state": n.link_state,
                            "enabled": n.enabled,
                            "description": n.description,
                            "neighbours": n.neighbours,
                        }
                        for n in c.nodes
                    ],
                    "capabilities": [{"name": x.name, "synced": x.synced} for x in c.capabilities],
                    "sharing_tags": [
                        {"tag": t.tag, "state": "active" if t.active else "backup"}
                        for t in c.sharing_tags
                    ],
                }
                for c in self.clusters
            ],
            "peers": {str(node_id): peer.snapshot() for node_id, peer in self.peers.items()},
        }
