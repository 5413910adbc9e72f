"""Dispatcher state: partitions of destination sets, as ``ds_list`` shows them.

Scenario section ``"dispatcher"`` (every key optional; absent section = no partitions)::

    {
      "partitions": [                      # or "sets": [...] for the "default" partition
        {"name": "default",
         "sets": [
           {"id": 1,
            "destinations": [
              {"uri": "sip:127.0.0.1:5081",
               "state": "active",           # active | inactive | probing
               "weight": 1, "priority": 0,
               "attrs": "attr1",            # omitted from ds_list when absent
               "description": "ds dst A",   # shown by ds_list full=1 when non-empty
               "socket": "udp:127.0.0.1:5060",          # optional
               "resolved_addresses": ["127.0.0.1:5081"],  # default: host:port of the URI
               "first_hit_counter": 0,
               "failure_count": 0}]}]}],    # "p" failures counted so far
      "probing_threshold": 3,              # failures before "p" makes a destination Probing
      "flap": {"uri": "sip:127.0.0.1:5082", "set": 1,
               "partition": "default", "period": 20}   # lively: cycles the destination
    }

The section is the module's *database*: ``ds_reload`` rebuilds the runtime view from it,
keeping the runtime state of destinations that still exist unless ``inherit_state`` says
no (as OpenSIPS 3.6 does). ``flap`` cycles one destination Active -> Probing -> Inactive,
one phase per ``period`` seconds of the world clock, from a phase offset drawn from the
world's seeded random source at load time.

``ds_set_state`` follows ``_ds_set_state`` (modules/dispatcher/dispatch.c, 3.6.8): state
``p`` on an active destination only counts a failure and the destination turns Probing when
the count reaches ``probing_threshold`` (module default 3); ``p`` on an inactive destination
sets nothing Probing, but its second half (clear the Inactive flag) still runs, so it ends
Active. ``a`` and ``i`` keep the failure count.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..world import StatePart

DsState = Literal["active", "inactive", "probing"]
DS_STATES: tuple[DsState, ...] = ("active", "inactive", "probing")
DEFAULT_PARTITION = "default"
FLAP_CYCLE: tuple[DsState, ...] = ("active", "probing", "inactive")


@dataclass
class Destination:
    """One destination of a set."""

    uri: str
    state: DsState = "active"
    weight: int = 1
    priority: int = 0
    attrs: str | None = None
    description: str = ""
    socket: str | None = None
    resolved_addresses: list[str] = field(default_factory=list)
    first_hit_counter: int = 0
    failure_count: int = 0

    def to_json(self) -> dict[str, Any]:
        """The scenario-schema form of this destination."""
        out: dict[str, Any] = {
            "uri": self.uri,
            "state": self.state,
            "weight": self.weight,
            "priority": self.priority,
            "description": self.description,
            "resolved_addresses": list(self.resolved_addresses),
            "first_hit_counter": self.first_hit_counter,
        }
        if self.failure_count:
            out["failure_count"] = self.failure_count
        if self.attrs is not None:
            out["attrs"] = self.attrs
        if self.socket is not None:
            out["socket"] = self.socket
        return out


@dataclass
class DsSet:
    """A destination set (``setid``)."""

    id: int
    destinations: list[Destination] = field(default_factory=list)


@dataclass
class Partition:
    """A dispatcher partition: its sets in load order."""

    name: str
    sets: list[DsSet] = field(default_factory=list)

    def find_set(self, set_id: int) -> DsSet | None:
        """The set with this id, if loaded."""
        return next((s for s in self.sets if s.id == set_id), None)


@dataclass
class Flap:
    """A destination that cycles its state with time (lively scenarios)."""

    partition: str
    set_id: int
    uri: str
    period: float
    offset: float
    last_phase: int | None = None


def resolved_from_uri(uri: str) -> list[str]:
    """``host:port`` of a SIP URI, as the module resolves a literal address."""
    rest = uri.split(":", 1)[1] if uri.lower().startswith(("sip:", "sips:")) else uri
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    if "@" in rest:
        rest = rest.rsplit("@", 1)[1]
    if rest.startswith("["):
        host, _, tail = rest.partition("]")
        port = tail[1:] if tail.startswith(":") else "5060"
        return [f"{host}]:{port}"]
    host, _, port = rest.partition(":")
    return [f"{host}:{port or '5060'}"]


def _destination(raw: Mapping[str, Any]) -> Destination:
    state = str(raw.get("state", "active")).lower()
    if state not in DS_STATES:
        raise ValueError(f"dispatcher: bad destination state {state!r}")
    uri = str(raw["uri"])
    attrs = raw.get("attrs")
    socket = raw.get("socket")
    return Destination(
        uri=uri,
        state=state,
        weight=int(raw.get("weight", 1)),
        priority=int(raw.get("priority", 0)),
        attrs=None if attrs is None else str(attrs),
        description=str(raw.get("description", "")),
        socket=None if socket is None else str(socket),
        resolved_addresses=[str(a) for a in raw.get("resolved_addresses", [])]
        or resolved_from_uri(uri),
        first_hit_counter=int(raw.get("first_hit_counter", 0)),
        failure_count=int(raw.get("failure_count", 0)),
    )


def _partitions(section: Mapping[str, Any]) -> list[Partition]:
    raw_parts = list(section.get("partitions", []))
    if "sets" in section:
        raw_parts.insert(0, {"name": DEFAULT_PARTITION, "sets": section["sets"]})
    parts = []
    for raw in raw_parts:
        sets = [
            DsSet(int(s["id"]), [_destination(d) for d in s.get("destinations", [])])
            for s in raw.get("sets", [])
        ]
        parts.append(Partition(str(raw.get("name", DEFAULT_PARTITION)), sets))
    return parts


class DispatcherState(StatePart):
    """Runtime dispatcher data plus the 'database' it is reloaded from."""

    key = "dispatcher"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self._db: list[Partition] = []
        self.partitions: list[Partition] = []
        self.flap: Flap | None = None
        self.probing_threshold = 3

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace database and runtime view with the scenario section."""
        self._db = _partitions(section)
        self.partitions = copy.deepcopy(self._db)
        self.flap = None
        self.probing_threshold = int(section.get("probing_threshold", 3))
        raw_flap = section.get("flap")
        if raw_flap:
            period = float(raw_flap.get("period", 20))
            self.flap = Flap(
                partition=str(raw_flap.get("partition", DEFAULT_PARTITION)),
                set_id=int(raw_flap["set"]),
                uri=str(raw_flap["uri"]),
                period=period,
                offset=self.world.rng.random() * period * len(FLAP_CYCLE),
            )

    def set_database(self, section: Mapping[str, Any]) -> None:
        """Replace only the database (an operator editing the table); ``ds_reload`` applies it."""
        self._db = _partitions(section)

    def partition(self, name: str) -> Partition | None:
        """A runtime partition by name."""
        return next((p for p in self.partitions if p.name == name), None)

    def find(self, partition: Partition, set_id: int, uri: str) -> Destination | None:
        """The destination with this URI (case-insensitive, as the module compares)."""
        ds_set = partition.find_set(set_id)
        if ds_set is None:
            return None
        low = uri.lower()
        return next((d for d in ds_set.destinations if d.uri.lower() == low), None)

    def set_state(self, dest: Destination, wanted: DsState) -> None:
        """``ds_set_state`` from MI: ``a`` clears Inactive and Probing; ``i`` sets Inactive
        (clears Probing); ``p`` counts a failure and sets Probing only at the threshold
        (ignored on an inactive destination), then clears Inactive."""
        if wanted != "probing":
            dest.state = wanted
            return
        if dest.state != "inactive":
            dest.failure_count += 1
            if dest.failure_count >= self.probing_threshold:
                dest.failure_count = self.probing_threshold
                dest.state = "probing"
            return
        dest.state = "active"

    def reload(self, names: list[str], *, inherit_state: bool) -> None:
        """Rebuild the named partitions from the database (``ds_reload``)."""
        for name in names:
            fresh = next((copy.deepcopy(p) for p in self._db if p.name == name), None)
            old = self.partition(name)
            if fresh is None or old is None:
                continue
            for ds_set in fresh.sets:
                for dest in ds_set.destinations:
                    dest.first_hit_counter = 0
                    previous = self.find(old, ds_set.id, dest.uri)
                    if inherit_state and previous is not None:
                        dest.state = previous.state
            self.partitions[self.partitions.index(old)] = fresh

    def tick(self, now: float) -> None:
        """Move the flapping destination to the state of the current phase."""
        flap = self.flap
        if flap is None or flap.period <= 0:
            return
        phase = int((now + flap.offset) // flap.period)
        if phase == flap.last_phase:
            return
        flap.last_phase = phase
        part = self.partition(flap.partition)
        dest = self.find(part, flap.set_id, flap.uri) if part else None
        if dest is not None:
            dest.state = FLAP_CYCLE[phase % len(FLAP_CYCLE)]

    def snapshot(self) -> Any:
        """Runtime partitions in the scenario schema."""
        return {
            "partitions": [
                {
                    "name": p.name,
                    "sets": [
                        {"id": s.id, "destinations": [d.to_json() for d in s.destinations]}
                        for s in p.sets
                    ],
                }
                for p in self.partitions
            ]
        }
