"""Dynamic-routing state: gateways, carriers and prefix rules per partition.

Scenario section ``"drouting"`` (absent section = one empty partition)::

    {
      "use_partitions": false,          # true: MI calls must name a partition
      "loaded_ago": 0,                  # seconds before the start the tables were loaded
      "partitions": [                   # or gateways/carriers/rules at the top level
        {"name": "Default",             # the name OpenSIPS uses without partitions
         "gateways": [
           {"id": "gw1", "address": "127.0.0.1:5085",
            "state": "active",          # active | inactive | probing | disabled
            "attrs": ""}],
         "carriers": [
           {"id": "carrier1", "gateways": ["gw1"], "enabled": true, "attrs": ""}],
         "rules": [
           {"id": 1, "groups": [1], "prefix": "40", "priority": 0,
            "gateways": ["gw1", "#carrier1"],   # "#id" is a carrier, as in dr_rules
            "attrs": ""}]}]
    }

Gateway states map to the module's flags: ``inactive`` = disabled by probing,
``probing`` = disabled and being probed, ``disabled`` = disabled by MI (no
auto re-enable). The section is the module's *database*: ``dr_reload`` rebuilds a
partition from it and keeps the runtime status of gateways and carriers that still
exist, unless ``inherit_state`` says no.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..world import StatePart

DEFAULT_PARTITION = "Default"
GW_STATES = ("active", "inactive", "probing", "disabled")


@dataclass
class Gateway:
    """A gateway and its status flags (``DSBL``, ``NOEN``, probe-on-disable)."""

    id: str
    address: str
    disabled: bool = False
    no_reenable: bool = False
    probing: bool = False
    attrs: str = ""

    @property
    def state_text(self) -> str:
        """The ``State`` string of ``dr_gw_status``."""
        if not self.disabled:
            return "Active"
        if self.no_reenable:
            return "Disabled MI"
        if self.probing:
            return "Probing"
        return "Inactive"

    def to_json(self) -> dict[str, Any]:
        """The scenario-schema form."""
        state = "active"
        if self.disabled:
            state = "disabled" if self.no_reenable else "probing" if self.probing else "inactive"
        return {"id": self.id, "address": self.address, "state": state, "attrs": self.attrs}


@dataclass
class Carrier:
    """A carrier: an ordered list of gateway ids."""

    id: str
    gateways: list[str] = field(default_factory=list)
    enabled: bool = True
    attrs: str = ""


@dataclass
class Rule:
    """A routing rule: prefix (may be empty), groups, priority and destinations."""

    id: int
    groups: list[int]
    prefix: str
    priority: int
    gateways: list[str]
    attrs: str = ""


@dataclass
class DrPartition:
    """One drouting partition and the time of its last (re)load."""

    name: str
    gateways: dict[str, Gateway] = field(default_factory=dict)
    carriers: dict[str, Carrier] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    loaded_at: float = 0.0

    def match(self, number: str, group: int) -> tuple[Rule, int] | None:
        """Longest-prefix rule of ``group`` for ``number`` and the matched length.

        Prefix-less rules match last, with length 0. Among rules on one prefix the
        highest priority wins. A number with a non-digit only reaches prefix-less rules.
        """
        candidates = [r for r in self.rules if group in r.groups]
        if number.isdigit():
            for length in range(len(number), 0, -1):
                hit = [r for r in candidates if r.prefix == number[:length]]
                if hit:
                    return max(hit, key=lambda r: r.priority), length
        bare = [r for r in candidates if not r.prefix]
        return (max(bare, key=lambda r: r.priority), 0) if bare else None


def _gateway(raw: Mapping[str, Any]) -> Gateway:
    state = str(raw.get("state", "active")).lower()
    if state not in GW_STATES:
        raise ValueError(f"drouting: bad gateway state {state!r}")
    return Gateway(
        id=str(raw["id"]),
        address=str(raw.get("address", "")),
        disabled=state != "active",
        no_reenable=state == "disabled",
        probing=state == "probing",
        attrs=str(raw.get("attrs", "")),
    )


def _partition(raw: Mapping[str, Any], name: str, now: float) -> DrPartition:
    gws = [_gateway(g) for g in raw.get("gateways", [])]
    crs = [
        Carrier(
            str(c["id"]),
            [str(g) for g in c.get("gateways", [])],
            bool(c.get("enabled", True)),
            str(c.get("attrs", "")),
        )
        for c in raw.get("carriers", [])
    ]
    rules = [
        Rule(
            id=int(r.get("id", i + 1)),
            groups=[int(g) for g in r.get("groups", [0])],
            prefix=str(r.get("prefix", "")),
            priority=int(r.get("priority", 0)),
            gateways=[str(g) for g in r.get("gateways", [])],
            attrs=str(r.get("attrs", "")),
        )
        for i, r in enumerate(raw.get("rules", []))
    ]
    return DrPartition(
        name=name,
        gateways={g.id: g for g in sorted(gws, key=lambda g: g.id)},
        carriers={c.id: c for c in sorted(crs, key=lambda c: c.id)},
        rules=rules,
        loaded_at=now,
    )


def _raw_partitions(section: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    raw_parts = list(section.get("partitions", []))
    if any(k in section for k in ("gateways", "carriers", "rules")) or not raw_parts:
        raw_parts.insert(0, {"name": DEFAULT_PARTITION, **section})
    return {str(p.get("name", DEFAULT_PARTITION)): copy.deepcopy(p) for p in raw_parts}


class DroutingState(StatePart):
    """Runtime drouting data plus the 'database' it is reloaded from."""

    key = "drouting"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.use_partitions = False
        self._db: dict[str, Mapping[str, Any]] = {DEFAULT_PARTITION: {}}
        self.partitions: dict[str, DrPartition] = {
            DEFAULT_PARTITION: DrPartition(DEFAULT_PARTITION, loaded_at=world.started_at)
        }

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace database and runtime view with the scenario section."""
        self.use_partitions = bool(section.get("use_partitions", False))
        self._db = _raw_partitions(section)
        # "loaded_ago": seconds before the scenario's start the tables were loaded (a real
        # server loads them at startup; dr_reload_status shows that time)
        now = self.world.clock.now() - float(section.get("loaded_ago", 0))
        self.partitions = {name: _partition(raw, name, now) for name, raw in self._db.items()}

    def set_database(self, section: Mapping[str, Any]) -> None:
        """Replace only the database rows of the partitions already loaded (an operator
        editing the tables); ``dr_reload`` applies them."""
        for name, raw in _raw_partitions(section).items():
            if name in self._db:
                self._db[name] = raw

    def default(self) -> DrPartition:
        """The partition used when no partition is named (the first one)."""
        return next(iter(self.partitions.values()))

    def reload(self, name: str, *, inherit_state: bool) -> None:
        """``dr_reload`` of one partition: fresh data, runtime status optionally kept."""
        old = self.partitions[name]
        fresh = _partition(self._db[name], name, self.world.clock.now())
        if inherit_state:
            for gw in fresh.gateways.values():
                prev = old.gateways.get(gw.id)
                if prev is not None:
                    gw.disabled, gw.no_reenable = prev.disabled, prev.no_reenable
            for cr in fresh.carriers.values():
                prev_cr = old.carriers.get(cr.id)
                if prev_cr is not None:
                    cr.enabled = prev_cr.enabled
        self.partitions[name] = fresh

    def snapshot(self) -> Any:
        """Runtime partitions in the scenario schema, plus their load times."""
        return {
            "use_partitions": self.use_partitions,
            "partitions": [
                {
                    "name": p.name,
                    "loaded_at": p.loaded_at,
                    "gateways": [g.to_json() for g in p.gateways.values()],
                    "carriers": [
                        {"id": c.id, "gateways": c.gateways, "enabled": c.enabled, "attrs": c.attrs}
                        for c in p.carriers.values()
                    ],
                    "rules": [
                        {
                            "id": r.id,
                            "groups": r.groups,
                            "prefix": r.prefix,
                            "priority": r.priority,
                            "gateways": r.gateways,
                            "attrs": r.attrs,
                        }
                        for r in p.rules
                    ],
                }
                for p in self.partitions.values()
            ],
        }
