"""Load-balancer state: destinations with their resources, as ``lb_list`` shows them.

Scenario section ``"load_balancer"`` (absent section = no destinations)::

    {
      "destinations": [
        {"id": 1, "group": 1, "uri": "sip:127.0.0.1:5083",
         "enabled": true,           # false: disabled (lb_list "enabled": "no")
         "auto_reenable": true,     # false: probing may not re-enable it ("off")
         "attrs": "",               # shown when non-empty
         "resources": [{"name": "pstn", "max": 10, "load": 0}]}]
    }

The section is the module's *database*. ``lb_reload`` rebuilds the destinations from it
and copies the status flags of destinations matching by id, group and URI (as
``lb_inherit_state`` does); capacities changed by ``lb_resize`` are lost, while current
loads (dialog profile sizes in OpenSIPS) are kept.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..world import StatePart


@dataclass
class Resource:
    """One resource of a destination: its capacity and current load."""

    name: str
    max: int
    load: int = 0


@dataclass
class LbDestination:
    """A load-balancer destination."""

    id: int
    group: int
    uri: str
    enabled: bool = True
    auto_reenable: bool = True
    attrs: str = ""
    resources: list[Resource] = field(default_factory=list)

    def resource(self, name: str) -> Resource | None:
        """The resource with this exact name."""
        return next((r for r in self.resources if r.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """The scenario-schema form."""
        return {
            "id": self.id,
            "group": self.group,
            "uri": self.uri,
            "enabled": self.enabled,
            "auto_reenable": self.auto_reenable,
            "attrs": self.attrs,
            "resources": [{"name": r.name, "max": r.max, "load": r.load} for r in self.resources],
        }


def _destination(raw: Mapping[str, Any]) -> LbDestination:
    return LbDestination(
        id=int(raw["id"]),
        group=int(raw.get("group", 1)),
        uri=str(raw["uri"]),
        enabled=bool(raw.get("enabled", True)),
        auto_reenable=bool(raw.get("auto_reenable", True)),
        attrs=str(raw.get("attrs", "")),
        resources=[
            Resource(str(r["name"]), int(r["max"]), int(r.get("load", 0)))
            for r in raw.get("resources", [])
        ],
    )


class LoadBalancerState(StatePart):
    """Runtime load-balancer data plus the 'database' it is reloaded from."""

    key = "load_balancer"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self._db: list[LbDestination] = []
        self.destinations: list[LbDestination] = []

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace database and runtime view with the scenario section."""
        self._db = [_destination(d) for d in section.get("destinations", [])]
        self.destinations = copy.deepcopy(self._db)

    def set_database(self, section: Mapping[str, Any]) -> None:
        """Replace only the database (an operator editing the table); ``lb_reload`` applies it."""
        self._db = [_destination(d) for d in section.get("destinations", [])]

    def find(self, dst_id: int) -> LbDestination | None:
        """The first destination with this id (the module scans its list in order)."""
        return next((d for d in self.destinations if d.id == dst_id), None)

    def reload(self) -> None:
        """``lb_reload``: fresh data from the database, status flags inherited."""
        fresh = copy.deepcopy(self._db)
        for new in fresh:
            old = next(
                (
                    d
                    for d in self.destinations
                    if d.id == new.id and d.group == new.group and d.uri.lower() == new.uri.lower()
                ),
                None,
            )
            if old is None:
                continue
            new.enabled, new.auto_reenable = old.enabled, old.auto_reenable
            for res in new.resources:
                kept = old.resource(res.name)
                if kept is not None:
                    res.load = kept.load
        self.destinations = fresh

    def snapshot(self) -> Any:
        """Runtime destinations in the scenario schema."""
        return {"destinations": [d.to_json() for d in self.destinations]}
