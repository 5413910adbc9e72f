"""uac_registrant state: the registrations OpenSIPS keeps towards registrars.

Scenario section ``"uac_registrant"`` (absent section = no registrant)::

    {"registrants": [
        {"aor": "sip:trunk@127.0.0.1", "contact": "sip:trunk@127.0.0.1:5060",
         "registrar": "sip:127.0.0.1:5099", "expires": 600, "enabled": true,
         "state": "REGISTER_TIMEOUT_STATE",          # default NOT_REGISTERED_STATE
         "last_register_sent_ago": 40,               # absent: never (the epoch)
         "registration_t_out_in": 535,               # absent: none (the epoch)
         "socket": "udp:127.0.0.1:5060"}]}           # absent: none chosen yet

``reg_list`` prints them in that order (the lab's hash table has one bucket). The state
and the times move by themselves on a real server (its timer sends REGISTER every
``timer_interval``): the simulator keeps them as seeded and changes them only on MI calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..world import StatePart

NOT_REGISTERED = "NOT_REGISTERED_STATE"
REGISTERING = "REGISTERING_STATE"
REGISTERED = "REGISTERED_STATE"
UNREGISTERING = "UNREGISTERING_STATE"
#: The states ``registrant.h`` names (printed as is by ``reg_list``).
STATES = frozenset(
    {
        NOT_REGISTERED,
        REGISTERING,
        "AUTHENTICATING_STATE",
        REGISTERED,
        "REGISTER_TIMEOUT_STATE",
        "INTERNAL_ERROR_STATE",
        "WRONG_CREDENTIALS_STATE",
        "REGISTRAR_ERROR_STATE",
        UNREGISTERING,
        "AUTHENTICATING_UNREGISTER_STATE",
    }
)


@dataclass
class Registrant:
    """One registration; times are epoch seconds, 0 for none."""

    aor: str
    contact: str
    registrar: str
    expires: int
    enabled: bool
    state: str = NOT_REGISTERED
    last_register_sent: float = 0.0
    registration_t_out: float = 0.0
    socket: str | None = None

    def coords(self) -> tuple[str, str, str]:
        """What the MI commands find it by: AOR, contact, registrar."""
        return (self.aor, self.contact, self.registrar)


class RegistrantState(StatePart):
    """The registrants, in list order."""

    key = "uac_registrant"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.records: list[Registrant] = []

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace the registrants."""
        now = self.world.clock.now()
        self.records = []
        for raw in section.get("registrants", []):
            state = str(raw.get("state", NOT_REGISTERED))
            if state not in STATES:
                raise ValueError(f"uac_registrant: unknown state {state!r}")
            sent_ago = raw.get("last_register_sent_ago")
            t_out_in = raw.get("registration_t_out_in")
            self.records.append(
                Registrant(
                    aor=str(raw["aor"]),
                    contact=str(raw["contact"]),
                    registrar=str(raw["registrar"]),
                    expires=int(raw.get("expires", 3600)),
                    enabled=bool(raw.get("enabled", True)),
                    state=state,
                    last_register_sent=0.0 if sent_ago is None else now - float(sent_ago),
                    registration_t_out=0.0 if t_out_in is None else now + float(t_out_in),
                    socket=None if raw.get("socket") is None else str(raw["socket"]),
                )
            )

    def find(self, aor: str, contact: str, registrar: str) -> Registrant | None:
        """The registrant with these coordinates, if any."""
        return next((r for r in self.records if r.coords() == (aor, contact, registrar)), None)

    def snapshot(self) -> Any:
        """The registrants in the scenario schema."""
        now = self.world.clock.now()
        out = []
        for r in self.records:
            item: dict[str, Any] = {
                "aor": r.aor,
                "contact": r.contact,
                "registrar": r.registrar,
                "expires": r.expires,
                "enabled": r.enabled,
                "state": r.state,
            }
            if r.last_register_sent:
                item["last_register_sent_ago"] = round(now - r.last_register_sent)
            if r.registration_t_out:
                item["registration_t_out_in"] = round(r.registration_t_out - now)
            if r.socket is not None:
                item["socket"] = r.socket
            out.append(item)
        return {"registrants": out}
