"""A simulated clusterer cluster: N simulated OpenSIPS nodes that see each other.

``opensips-sim --nodes N --port P`` serves nodes 1..N on ports P..P+N-1. Each node is a whole
:class:`~opensips_sim.simulator.Simulator` (its own world, journal and fault rules; one
shared clock), and each node's clusterer state points at the *live* worlds of the others, so:

* every node's ``clusterer_list`` lists the other nodes, and all agree;
* a node that is stopped (``down``), disabled (``clusterer_set_status`` of itself), or cut
  from a peer (``partition``) shows in its peers' link states after the ping interval, as
  clusterer's heartbeats notice it (``modules/clusterer/topology.c``: ping_interval 4 s,
  ping_timeout 1 s, no_ping_retries 3). A node's own view of a peer it disabled, or of
  every peer when it disabled itself, is ``Down`` at once (``cl_set_state``). Two real
  3.6.8 nodes showed the same (``captures/opensips-3.6.8/cluster/``): a peer killed or
  disabled was ``Probe`` 2.5-5.4 s later and ``Down`` 3.4-3.5 s after that; here ``Probe``
  comes at the next ping (``ping_interval``) and ``Down`` after ``no_ping_retries`` retries
  ``ping_timeout`` apart;
* ``cluster_send_mi`` / ``cluster_broadcast_mi`` run the carried command on the peer's world
  and journal it there (``http_method`` ``"BIN"``);
* dialog and usrloc replication: a change to a Call-ID's dialogs or to an AOR's contacts on
  one node is copied to every peer it has an ``Up`` link to, after the MI request or clock
  step that made it (what dialog's and usrloc's ``*-repl`` capabilities do); a peer whose link
  comes back up is sent the node's whole tables (the capability's sync);
* sharing tags: ``vip`` is active on node 1 and backup elsewhere; ``clusterer_shtag_set_active``
  on a node makes it active there and backup on the peers it reaches.

The control API of every node has ``GET /sim/cluster`` (nodes, ports, faults, each node's
view of each link) and ``POST /sim/cluster`` to act on any node: ``{"node_id": 2, "fault":
"down" | "up" | "slow" | "fast" | "partition" | "heal", "peer": 3, "seconds": 2}``. A node
that is ``down`` refuses connections, its control API included: address it through a peer's.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import scenarios
from .clock import Clock
from .faults import FaultRule
from .simulator import Settings, Simulator
from .state.clusterer import ClustererState
from .state.dialog import STATE_DELETED, DialogState
from .state.usrloc import UsrlocState
from .wire import WireServer
from .world import World

CLUSTER_ID = 1
BIN_BASE_PORT = 5566
PING_INTERVAL = 4.0
PING_TIMEOUT = 1.0
NO_PING_RETRIES = 3
SHARING_TAG = "vip"
CAPABILITIES = ("dialog-dlg-repl", "dialog-prof-repl", "usrloc-contact-repl")
NODE_FAULTS = ("down", "up", "slow", "fast", "partition", "heal")


class ClusterError(ValueError):
    """A control request the cluster cannot carry out (bad node id, fault or peer)."""


def node_scenario(base: Mapping[str, Any], node_id: int, nodes: int) -> dict[str, Any]:
    """``base`` with its clusterer section replaced by node ``node_id``'s view of the cluster."""
    data = copy.deepcopy(dict(base))
    data["clusterer"] = {
        "node_id": node_id,
        "clusters": [
            {
                "cluster_id": CLUSTER_ID,
                "enabled": True,
                "nodes": [
                    {
                        "node_id": peer,
                        "db_id": peer,
                        "url": f"bin:127.0.0.1:{BIN_BASE_PORT + peer - 1}",
                        "link_state": "Up",
                        "description": f"node{peer}",
                    }
                    for peer in range(1, nodes + 1)
                    if peer != node_id
                ],
                "capabilities": [{"name": name, "synced": True} for name in CAPABILITIES],
                "sharing_tags": [
                    {"tag": SHARING_TAG, "state": "active" if node_id == 1 else "backup"}
                ],
            }
        ],
    }
    return data


@dataclass
class _Link:
    """One direction of a link: whether messages get through, and since when."""

    reachable: bool = True
    since: float = 0.0
    shown: str = "Up"


@dataclass
class _Pending:
    """Replication work a node owes its peers."""

    callids: set[str] = field(default_factory=set)
    aors: set[str] = field(default_factory=set)


class SimulatedCluster:
    """N simulated nodes of one clusterer cluster, with links, replication and node faults."""

    def __init__(
        self,
        nodes: int,
        scenario: str | Mapping[str, Any] = "quiet",
        *,
        seed: int = 0,
        clock: Clock | None = None,
        faults: list[Mapping[str, Any]] | None = None,
        settings: Settings | None = None,
        ping_interval: float = PING_INTERVAL,
        ping_timeout: float = PING_TIMEOUT,
        no_ping_retries: int = NO_PING_RETRIES,
    ) -> None:
        if nodes < 1:
            raise ClusterError("a cluster has at least 1 node")
        self.clock = clock or Clock()
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.no_ping_retries = no_ping_retries
        base = scenarios.load(scenario)
        self.node_ids = list(range(1, nodes + 1))
        self.sims: dict[int, Simulator] = {}
        self.servers: dict[int, WireServer] = {}
        self.ports: dict[int, int] = {}
        self.host = "127.0.0.1"
        self.running = dict.fromkeys(self.node_ids, True)
        self.partitions: set[frozenset[int]] = set()
        self.slow_rules: dict[int, FaultRule] = {}
        self._links: dict[tuple[int, int], _Link] = {}
        self._settling: set[tuple[int, int]] = set()
        self._clusters: dict[int, Any] = {}
        self._signature: tuple[Any, ...] | None = None
        self._pending = {node: _Pending() for node in self.node_ids}
        self._replicating = False
        now = self.clock.now()
        for node in self.node_ids:
            sim = Simulator(
                node_scenario(base, node, nodes),
                seed=seed * 1000 + node,
                clock=self.clock,
                faults=faults or (),
                settings=settings,
            )
            sim.cluster = self
            sim.after_apply.append(self.replicate)
            sim.world_hooks.append(functools.partial(self._attach, node))
            self._attach(node, sim.world)
            self.sims[node] = sim
            for peer in self.node_ids:
                if peer != node:
                    self._links[(node, peer)] = _Link(since=now)

    # ---- serving -------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> dict[int, int]:
        """Listen: node k on ``port + k - 1`` (``port`` 0: each on a free port)."""
        self.host = host
        for node in self.node_ids:
            wanted = port + node - 1 if port else 0
            self.servers[node] = WireServer(self.sims[node])
            self.ports[node] = await self.servers[node].start(host, wanted)
        return dict(self.ports)

    async def close(self) -> None:
        """Stop every node."""
        for node, server in self.servers.items():
            if self.running[node]:
                await server.close()

    def url(self, node: int) -> str:
        """Node ``node``'s MI endpoint."""
        return f"http://{self.host}:{self.ports[node]}/mi"

    # ---- node faults ---------------------------------------------------------------------

    async def apply(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Carry out one ``POST /sim/cluster`` request; returns the new :meth:`describe`."""
        node = self._node_id(request.get("node_id"))
        fault = request.get("fault")
        if fault not in NODE_FAULTS:
            raise ClusterError(f"'fault' is one of {', '.join(NODE_FAULTS)}")
        if fault == "down" and self.running[node]:
            self.running[node] = False
            await self.servers[node].close()
        elif fault == "up" and not self.running[node]:
            self.servers[node] = WireServer(self.sims[node])
            await self.servers[node].start(self.host, self.ports[node])
            self.running[node] = True
        elif fault == "slow":
            seconds = request.get("seconds", 1.0)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise ClusterError("'seconds' is a number > 0")
            self._clear_slow(node)
            rule = {"action": "delay", "seconds": float(seconds), "when": "before_apply"}
            self.slow_rules[node] = self.sims[node].faults.add(rule)
        elif fault == "fast":
            self._clear_slow(node)
        elif fault in ("partition", "heal"):
            peer = self._node_id(request.get("peer"))
            if peer == node:
                raise ClusterError("'peer' is another node of the cluster")
            pair = frozenset((node, peer))
            if fault == "partition":
                self.partitions.add(pair)
            else:
                self.partitions.discard(pair)
        self.refresh()
        return self.describe()

    def _clear_slow(self, node: int) -> None:
        rule = self.slow_rules.pop(node, None)
        if rule is not None:
            self.sims[node].faults.remove(rule.id)

    def _node_id(self, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw not in self.sims:
            raise ClusterError(f"'node_id'/'peer' is one of {self.node_ids}")
        return raw

    def describe(self) -> dict[str, Any]:
        """Nodes, their ports and faults, and each node's view of each link."""
        self.refresh()
        return {
            "cluster_id": CLUSTER_ID,
            "ping_interval": self.ping_interval,
            "ping_timeout": self.ping_timeout,
            "no_ping_retries": self.no_ping_retries,
            "nodes": [
                {
                    "node_id": node,
                    "url": self.url(node) if node in self.ports else None,
                    "running": self.running[node],
                    "enabled": self._enabled(node),
                    "slow": node in self.slow_rules,
                    "links": {
                        str(peer): self.link_state(node, peer)
                        for peer in self.node_ids
                        if peer != node
                    },
                }
                for node in self.node_ids
            ],
            "partitions": sorted(sorted(pair) for pair in self.partitions),
        }

    # ---- links ---------------------------------------------------------------------------

    def _cluster_of(self, node: int) -> Any:
        # cached per world (_attach): looked up for every node on every request
        return self._clusters.get(node)

    def _enabled(self, node: int) -> bool:
        cluster = self._cluster_of(node)
        return bool(cluster is not None and cluster.enabled)

    def _peer_enabled_here(self, node: int, peer: int) -> bool:
        cluster = self._cluster_of(node)
        entry = cluster.node(peer) if cluster is not None else None
        return bool(entry is not None and entry.enabled)

    def _reachable(self, node: int, peer: int, enabled: Mapping[int, bool] | None = None) -> bool:
        """Whether ``peer`` answers ``node``'s pings (a stopped or disabled node does not)."""
        peer_enabled = enabled[peer] if enabled is not None else self._enabled(peer)
        return (
            self.running[node]
            and self.running[peer]
            and peer_enabled
            and frozenset((node, peer)) not in self.partitions
        )

    def refresh(self) -> None:
        """Bring every link to the clock's time; sync peers whose link came up.

        Runs after every request of every node, so it is cheap when nothing changed: a
        full pass only when a node's running/enabled state or a partition changed, else
        only over the links still moving between states (N nodes have N*(N-1) links)."""
        now = self.clock.now()
        clusters = self._clusters
        flags = tuple(bool(c is not None and c.enabled) for c in clusters.values())
        signature = (flags, tuple(self.running.values()), frozenset(self.partitions))
        if signature != self._signature:
            self._signature = signature
            links = list(self._links)
        else:
            links = list(self._settling)
        if not links:
            return
        enabled = dict(zip(clusters, flags, strict=True))
        came_up: list[tuple[int, int]] = []
        for pair in links:
            link = self._links[pair]
            reachable = self._reachable(*pair, enabled=enabled)
            if reachable != link.reachable:
                link.reachable, link.since = reachable, now
            shown = self._shown(link, now)
            if shown == "Up" and link.shown != "Up":
                came_up.append(pair)
            link.shown = shown
            if shown == ("Up" if reachable else "Down"):
                self._settling.discard(pair)
            else:
                self._settling.add(pair)
        for node, peer in came_up:
            self._sync(node, peer)

    def _shown(self, link: _Link, now: float) -> str:
        elapsed = now - link.since
        if link.reachable:
            return "Up" if link.shown == "Up" or elapsed >= self.ping_interval else link.shown
        if elapsed < self.ping_interval:
            return link.shown
        if elapsed < self.ping_interval + self.ping_timeout * self.no_ping_retries:
            return "Probe"
        return "Down"

    def link_state(self, node: int, peer: int) -> str:
        """``Up``, ``Probe`` or ``Down``: ``node``'s view of its link to ``peer``."""
        if not self._enabled(node) or not self._peer_enabled_here(node, peer):
            return "Down"
        return self._links[(node, peer)].shown

    def _up(self, node: int, peer: int) -> bool:
        return self.link_state(node, peer) == "Up" and self._reachable(node, peer)

    # ---- wiring a node's world -----------------------------------------------------------

    def _attach(self, node: int, world: World) -> None:
        """Point ``world``'s clusterer at the live peers and watch its replicated tables."""
        clusterer = world.get(ClustererState)
        self._clusters[node] = clusterer.cluster(CLUSTER_ID)
        clusterer.peers = _LivePeers(self, node)
        clusterer.link_oracle = lambda peer: self.link_state(node, peer)
        clusterer.carried_hook = lambda peer, name, args, error: self._journal_carried(
            node, peer, name, args, error
        )
        world.after_tick.append(self.replicate)
        dialogs = world.get(DialogState)
        _watch(dialogs, "create", lambda d, *a, **k: self._touch(node, callid=d.callid))
        _watch(dialogs, "remove", lambda _r, d, *a, **k: self._touch(node, callid=d.callid))
        _watch(dialogs, "end", lambda _r, d, *a, **k: self._touch(node, callid=d.callid))
        usrloc = world.get(UsrlocState)
        _watch(usrloc, "_insert", lambda _r, aor, *a, **k: self._touch(node, aor=aor))
        _watch(usrloc, "_drop_aor", lambda _r, aor, *a, **k: self._touch(node, aor=aor))
        _watch(usrloc, "remove_contact", lambda _r, aor, *a, **k: self._touch(node, aor=aor))
        _watch(usrloc, "add", lambda _r, aor, *a, **k: self._touch(node, aor=aor))
        _watch(usrloc, "register", lambda _r, aor, *a, **k: self._touch(node, aor=aor))

    def _journal_carried(
        self, origin: int, peer: int, name: str, args: list[str] | None, error: Any
    ) -> None:
        sim = self.sims[peer]
        entry = sim._entry("BIN", f"cluster:{CLUSTER_ID}/from:{origin}")
        entry.update(
            method=name,
            params=args,
            applied=error is None,
            error_code=None if error is None else error.get("code"),
            outcome="answered",
        )
        sim.journal.record(entry)

    # ---- replication ---------------------------------------------------------------------

    def _touch(self, node: int, *, callid: str | None = None, aor: str | None = None) -> None:
        if self._replicating:
            return
        pending = self._pending[node]
        if callid is not None:
            pending.callids.add(callid)
        if aor is not None:
            pending.aors.add(aor)

    def replicate(self) -> None:
        """Send every node's pending dialog and contact changes to the peers it reaches."""
        self.refresh()
        for node in self.node_ids:
            pending = self._pending[node]
            if not pending.callids and not pending.aors:
                continue
            self._pending[node] = _Pending()
            for peer in self.node_ids:
                if peer != node and self._up(node, peer):
                    self._copy(node, peer, pending.callids, pending.aors)

    def _sync(self, node: int, peer: int) -> None:
        """A link came up: ``node`` sends ``peer`` everything it holds (capability sync)."""
        source = self.sims[node].world
        callids = {d.callid for d in source.get(DialogState).walk()}
        aors = set(source.get(UsrlocState).aors())
        self._copy(node, peer, callids, aors, only_missing=True)

    def _copy(
        self,
        node: int,
        peer: int,
        callids: set[str],
        aors: set[str],
        *,
        only_missing: bool = False,
    ) -> None:
        source, target = self.sims[node].world, self.sims[peer].world
        self._replicating = True
        try:
            for callid in sorted(callids):
                if only_missing and target.get(DialogState)._by_callid.get(callid):
                    continue
                _copy_dialogs(source, target, callid)
            for aor in sorted(aors):
                if only_missing and target.get(UsrlocState).contacts(aor) is not None:
                    continue
                _copy_contacts(source, target, aor)
        finally:
            self._replicating = False


class _LivePeers(Mapping[int, World]):
    """The current world of every other node (a reset replaces a node's world)."""

    def __init__(self, cluster: SimulatedCluster, node: int) -> None:
        self._cluster = cluster
        self._node = node

    def __getitem__(self, peer: int) -> World:
        if peer == self._node or peer not in self._cluster.sims:
            raise KeyError(peer)
        return self._cluster.sims[peer].world

    def __iter__(self) -> Iterator[int]:
        return (n for n in self._cluster.node_ids if n != self._node)

    def __len__(self) -> int:
        return len(self._cluster.node_ids) - 1


def _watch(part: object, name: str, after: Callable[..., None]) -> None:
    """Call ``after(result, *args, **kwargs)`` after each call of ``part.name``."""
    original = getattr(part, name)
    if getattr(original, "_watched", False):
        return

    def watched(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        after(result, *args, **kwargs)
        return result

    watched._watched = True  # type: ignore[attr-defined]
    setattr(part, name, watched)


def _copy_dialogs(source: World, target: World, callid: str) -> None:
    """Make ``target``'s dialogs of ``callid`` copies of ``source``'s (none: removed)."""
    src, dst = source.get(DialogState), target.get(DialogState)
    for dialog in list(dst._by_callid.get(callid, ())):
        dst.remove(dialog)
    for dialog in src._by_callid.get(callid, ()):
        if dialog.state == STATE_DELETED:
            continue  # ended: peers drop their copy at once (replicate_dialog_deleted)
        replica = dst.create(
            callid=dialog.callid,
            from_uri=dialog.from_uri,
            to_uri=dialog.to_uri,
            state=dialog.state,
            start_ts=dialog.start_ts,
            timeout_ts=dialog.timeout_ts,
            caller=copy.deepcopy(dialog.caller),
            callees=copy.deepcopy(dialog.callees),
            h_id=dialog.h_id,
            user_flags=dialog.user_flags,
        )
        # a replicated dialog was not processed by this node
        target.counters.incr("dialog:processed_dialogs", -1)
        for name, value in reversed(dialog.profiles):
            if name in dst.profiles:
                dst.link_profile(replica, name, value)
        replica.values = list(dialog.values)


def _copy_contacts(source: World, target: World, aor: str) -> None:
    """Make ``target``'s contacts of ``aor`` copies of ``source``'s (none: AOR removed)."""
    src, dst = source.get(UsrlocState), target.get(UsrlocState)
    dst.remove_aor(aor)
    for contact in src.contacts(aor) or ():
        dst._insert(aor, copy.copy(contact))
