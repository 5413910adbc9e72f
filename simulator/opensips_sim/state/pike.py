"""Pike state: the IP addresses the flood detector is tracking, and which are blocked.

Scenario section ``"pike"`` (absent section = empty tree)::

    {"ips": [{"ip": "10.0.0.66", "blocked": true},
             {"ip": "10.0.0.7"}]}          # tracked, not blocked

Only blocked ("red") addresses are listed by ``pike_list``; ``pike_rm`` unblocks a
tracked address and keeps tracking it, as the module does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from ..world import StatePart


def ip_bytes(text: str) -> bytes | None:
    """The packed address, or None when ``text`` is no IPv4/IPv6 literal."""
    try:
        return ipaddress.ip_address(text).packed
    except ValueError:
        return None


class PikeState(StatePart):
    """Tracked addresses (packed bytes) mapped to their blocked flag."""

    key = "pike"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.nodes: dict[bytes, bool] = {}

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace the tracked addresses."""
        self.nodes = {}
        for raw in section.get("ips", []):
            packed = ip_bytes(str(raw["ip"]))
            if packed is None:
                raise ValueError(f"pike: bad ip {raw['ip']!r}")
            self.nodes[packed] = bool(raw.get("blocked", False))

    def blocked(self) -> list[bytes]:
        """Blocked addresses in tree order (by address bytes)."""
        return sorted(ip for ip, red in self.nodes.items() if red)

    def snapshot(self) -> Any:
        """Tracked addresses in the scenario schema."""
        return {
            "ips": [
                {"ip": str(ipaddress.ip_address(ip)), "blocked": red}
                for ip, red in sorted(self.nodes.items())
            ]
        }
