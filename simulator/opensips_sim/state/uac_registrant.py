"""uac_registrant state: the registrations OpenSIPS keeps towards registrars.

Scenario section ``"uac_registrant"`` (absent section = no registrant)::

    {"registrants": [
        {"aor": "sip:trunk@127.0.0.1", "contact": "sip:trunk@127.0.0.1:5060",
         "registrar": "sip:127.0.0.1:5099", "expires": 600, "enabled": true,
         "state": "REGISTER_TIMEOUT_STATE",          # default NOT_REGISTERED_STATE
         "last_register_sent_ago": 40,               # absent: never (the epoch)
         "registration_t_out_in": 535,               # absent: none (the epoch)
         "socket": "udp:127.0.0.1:5060",             # absent: none chosen yet
         "ip": "127.0.0.1"}]}      # where a registrar answered from: default the
                                   # registrar's IP when REGISTERED_STATE, else none

``reg_list`` prints them in that order (the lab's hash table has one bucket).

The states and times move by themselves, as ``run_timer_check`` and ``reg_tm_cback`` of
``modules/uac_registrant/registrant.c`` move them: a timer runs every ``timer_interval``
seconds (section key, default 30 as in the lab; OpenSIPS's own default is 100) from
start. It sends a REGISTER for an enabled registrant that is not registered, whose
registration is due (``registration_t_out``), or whose failure's retry time has come
(``last_register_sent`` = then, ``REGISTERING_STATE``); a disabled one in a failed state
unregisters. A registrant with ``"answers": true`` has a registrar that answers 200 at once
(``REGISTERED_STATE``, due again ``expires - timer_interval`` later); without it (the
default, as the lab's registrar at a port where nothing listens) tm times the request out
after ``reply_timeout`` seconds (section key, tm's fr_timeout: 5):
``REGISTER_TIMEOUT_STATE``, retried ``expires - timer_interval`` after that (on the lab:
sent 04:05:04, timed out 04:05:09, ``registration_t_out`` 04:14:39). A real reply fixes
where later requests go (``dst_IP``/``ip`` in ``reg_list``) and tm's 408 clears it. Measured
on a real 3.6.8 lab, with and without a registrar answering 200 (a second OpenSIPS with
``save()``): ``reg_enable`` sends at once; 200 -> ``REGISTERED_STATE``, ``registration_t_out``
= sent + expires - timer_interval; ``reg_disable`` -> un-REGISTER, 200 -> ``NOT_REGISTERED``
with ``ip`` kept; registrar gone -> ``REGISTER_TIMEOUT_STATE``, ``ip`` gone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..sipuri import host_port
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
    answers: bool = False
    """Whether its registrar answers (200 at once) or not (timed out by tm)."""
    ip: str | None = None
    """Where its requests go since a registrar answered (``forced_to_su``), printed as
    ``dst_IP``/``ip`` by ``reg_list``; tm's 408 (a faked reply) clears it."""
    request_sent: float = 0.0
    """When the REGISTER or un-REGISTER now in flight was sent."""

    def coords(self) -> tuple[str, str, str]:
        """What the MI commands find it by: AOR, contact, registrar."""
        return (self.aor, self.contact, self.registrar)


FAILED = frozenset(
    {
        "REGISTER_TIMEOUT_STATE",
        "INTERNAL_ERROR_STATE",
        "WRONG_CREDENTIALS_STATE",
        "REGISTRAR_ERROR_STATE",
    }
)
"""States retried by the timer once ``registration_t_out`` has passed."""
IN_FLIGHT = frozenset({REGISTERING, UNREGISTERING})
TIMER_INTERVAL = 30
REPLY_TIMEOUT = 5


def registrar_ip(uri: str) -> str | None:
    """The IP address of a registrar URI's host (``sip:127.0.0.1:5099`` -> 127.0.0.1), or
    None for a host name (OpenSIPS prints the address DNS gave it; this model has no DNS)."""
    where = host_port(uri)
    if where is None:
        return None
    host = where[1:].partition("]")[0] if where.startswith("[") else where.rpartition(":")[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _answered_from(raw: Mapping[str, Any], state: str) -> str | None:
    """A scenario registrant's ``ip``: as given, else its registrar's when registered (a
    registered one has had an answer)."""
    if raw.get("ip"):
        return str(raw["ip"])
    return registrar_ip(str(raw["registrar"])) if state == REGISTERED else None


class RegistrantState(StatePart):
    """The registrants, in list order, moved by the registrant timer and the replies."""

    key = "uac_registrant"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.records: list[Registrant] = []
        self.timer_interval = TIMER_INTERVAL
        self.reply_timeout = REPLY_TIMEOUT
        self._next_run = self.world.clock.now() + self.timer_interval

    def send_register(self, r: Registrant, now: float) -> None:
        """A REGISTER goes out now (its reply comes in :meth:`tick`)."""
        r.state, r.last_register_sent, r.request_sent = REGISTERING, now, now

    def send_unregister(self, r: Registrant, now: float) -> None:
        """An un-REGISTER (expires 0) goes out now."""
        r.state, r.request_sent = UNREGISTERING, now

    def tick(self, now: float) -> None:
        """Replies in time order with the timer's runs up to ``now``."""
        while self._next_run <= now:
            run = self._next_run
            self._replies(run)
            for r in self.records:
                self._timer_check(r, run)
            self._next_run = run + self.timer_interval
        self._replies(now)

    def _replies(self, now: float) -> None:
        for r in self.records:
            # A reply may send the next request (enabled or disabled meanwhile): settle
            # until this registrant has nothing in flight that has been answered by now.
            while r.state in IN_FLIGHT:
                at = r.request_sent + (0.0 if r.answers else self.reply_timeout)
                if at > now:
                    break
                self._reply(r, at)

    def _reply(self, r: Registrant, at: float) -> None:
        """``reg_tm_cback``: a 200 from an answering registrar, else tm's 408 (a faked
        reply: where the registrar answered from is forgotten)."""
        if not r.answers:
            r.ip = None
            r.state = "REGISTER_TIMEOUT_STATE"
            r.registration_t_out = at + r.expires - self.timer_interval
            return
        if r.ip is None:
            r.ip = registrar_ip(r.registrar)
        if not r.enabled:
            if r.state == REGISTERING:
                self.send_unregister(r, at)
            else:
                r.state, r.registration_t_out = NOT_REGISTERED, 0.0
        elif r.state == UNREGISTERING:
            self.send_register(r, at)
        else:
            r.state = REGISTERED
            r.registration_t_out = at + r.expires - self.timer_interval

    def _timer_check(self, r: Registrant, now: float) -> None:
        """``run_timer_check`` for one registrant at a timer run."""
        if r.state in FAILED:
            if now < r.registration_t_out:
                return
            if r.enabled:
                self.send_register(r, now)
            else:
                self.send_unregister(r, now)
        elif r.state == REGISTERED and now < r.registration_t_out:
            return
        elif r.state in (REGISTERED, NOT_REGISTERED) and r.enabled:
            self.send_register(r, now)

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace the registrants."""
        now = self.world.clock.now()
        self.timer_interval = int(section.get("timer_interval", TIMER_INTERVAL))
        self.reply_timeout = int(section.get("reply_timeout", REPLY_TIMEOUT))
        self._next_run = now + self.timer_interval
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
                    answers=bool(raw.get("answers", False)),
                    request_sent=0.0 if sent_ago is None else now - float(sent_ago),
                    ip=_answered_from(raw, state),
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
            if r.answers:
                item["answers"] = True
            if r.ip is not None:
                item["ip"] = r.ip
            out.append(item)
        section: dict[str, Any] = {"registrants": out}
        if self.timer_interval != TIMER_INTERVAL:
            section["timer_interval"] = self.timer_interval
        if self.reply_timeout != REPLY_TIMEOUT:
            section["reply_timeout"] = self.reply_timeout
        return section
