"""Permissions state: the ``address`` table of each partition.

Scenario section ``"permissions"`` (absent section = no partition has an address table)::

    {"partitions": [                      # or "addresses": [...] for "default"
      {"name": "default",
       "addresses": [
         {"grp": 1, "ip": "10.0.0.10", "port": 0,
          "proto": "any",                 # any | udp | tcp | tls | sctp | ws | wss
          "pattern": "", "context_info": ""}]}]}

The section is the module's *database*; ``address_reload`` copies it into the runtime
table, so runtime and database only differ if the database is edited behind the module.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..world import StatePart

DEFAULT_PARTITION = "default"


@dataclass
class Address:
    """One row of the address table."""

    grp: int
    ip: str
    port: int = 0
    proto: str = "any"
    pattern: str = ""
    context_info: str = ""

    @property
    def mask(self) -> str:
        """The host mask the module prints (32 for IPv4, 128 for IPv6)."""
        return "32" if ipaddress.ip_address(self.ip).version == 4 else "128"

    def to_json(self) -> dict[str, Any]:
        """The scenario-schema form."""
        return {
            "grp": self.grp,
            "ip": self.ip,
            "port": self.port,
            "proto": self.proto,
            "pattern": self.pattern,
            "context_info": self.context_info,
        }


@dataclass
class PermPartition:
    """A permissions partition with its address table."""

    name: str
    addresses: list[Address] = field(default_factory=list)


def _address(raw: Mapping[str, Any]) -> Address:
    ip = str(ipaddress.ip_address(str(raw["ip"])))
    return Address(
        grp=int(raw.get("grp", 0)),
        ip=ip,
        port=int(raw.get("port", 0)),
        proto=str(raw.get("proto", "any")).lower(),
        pattern=str(raw.get("pattern") or ""),
        context_info=str(raw.get("context_info") or ""),
    )


def _perm_partitions(section: Mapping[str, Any]) -> list[PermPartition]:
    raw_parts = list(section.get("partitions", []))
    if "addresses" in section:
        raw_parts.insert(0, {"name": DEFAULT_PARTITION, "addresses": section["addresses"]})
    return [
        PermPartition(
            str(p.get("name", DEFAULT_PARTITION)),
            [_address(a) for a in p.get("addresses", [])],
        )
        for p in raw_parts
    ]


class PermissionsState(StatePart):
    """Runtime address tables plus the 'database' they are reloaded from."""

    key = "permissions"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self._db: list[PermPartition] = []
        self.partitions: list[PermPartition] = []

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace database and runtime tables with the scenario section."""
        self._db = _perm_partitions(section)
        self.partitions = copy.deepcopy(self._db)

    def set_database(self, section: Mapping[str, Any]) -> None:
        """Replace only the database rows of the partitions already loaded (an operator
        editing the table); ``address_reload`` applies them."""
        for part in _perm_partitions(section):
            self._db = [part if p.name == part.name else p for p in self._db]

    def partition(self, name: str) -> PermPartition | None:
        """A partition by name."""
        return next((p for p in self.partitions if p.name == name), None)

    def reload(self, name: str | None = None) -> None:
        """``address_reload``: runtime tables become the database rows again."""
        for i, part in enumerate(self.partitions):
            if name is None or part.name == name:
                db = next(p for p in self._db if p.name == part.name)
                self.partitions[i] = copy.deepcopy(db)

    def snapshot(self) -> Any:
        """Runtime tables in the scenario schema."""
        return {
            "partitions": [
                {"name": p.name, "addresses": [a.to_json() for a in p.addresses]}
                for p in self.partitions
            ]
        }
