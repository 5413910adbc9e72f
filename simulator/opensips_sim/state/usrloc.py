"""usrloc: the ``location`` table of registered AORs and their contacts.

Scenario section ``usrloc`` (every key optional)::

    {
      "hash_size": 512,                  # slots; decides the ul_dump order as in OpenSIPS
      "use_domain": false,               # false: "alice@host" is stored as "alice"
      "domain": "127.0.0.1",             # use_domain: the domain of scenario AORs given
                                         # without one ("alice" -> "alice@127.0.0.1")
      "branch_flags": ["NAT", ...],       # names of branch flags 0, 1, ... (ul_add cflags)
      "aors": {"alice": [CONTACT, ...]},
      "generate": {"aors": 1000, "contacts_per_aor": 1, "user_prefix": "user",
                   "expires": [600, 3600]},
      "motion": {"registrations_per_minute": 6, "users": ["dave", "erin"],
                 "expires": [60, 300]}
    }

    CONTACT = {"contact": "sip:alice@127.0.0.1:5071", "expires_in": 3597 (0 = permanent),
               "q": -1 (unset) or 0..1000, "callid": "...", "cseq": 1,
               "user_agent": "...", "received": "", "path": "", "socket": "udp:...",
               "flags": 0, "cflags": "", "methods": 4294967295, "contact_id": "..."}

Contacts are removed when they expire (at the next tick: any MI call, ``/sim/state`` or a
clock move), counting ``usrloc:location-expires``.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import MIBlocked
from ..hashing import core_hash
from ..world import StatePart

TABLE = "location"
DEFAULT_SOCKET = "udp:127.0.0.1:5060"
ALL_METHODS = 0xFFFFFFFF
MI_CALLID = "dfjrewr12386fd6-343@opensips.mi"
MI_USER_AGENT = "OpenSIPS MI Server"
#: The domain scenario AORs get under ``use_domain`` (the lab's SIP domain, its address).
DEFAULT_DOMAIN = "127.0.0.1"


@dataclass(slots=True)
class Contact:
    """One registered contact of an AOR."""

    contact: str
    contact_id: int
    expires: int  # absolute epoch seconds; 0 = permanent
    q: int  # -1 = not given, else 0..1000 (thousandths)
    callid: str
    cseq: int
    user_agent: str = ""
    received: str = ""
    path: str = ""
    socket: str = DEFAULT_SOCKET
    flags: int = 0
    cflags: str = ""
    methods: int = ALL_METHODS
    attr: str = ""
    state: str = "CS_NEW"


def q_text(q: int) -> str:
    """OpenSIPS ``q2str``: ``""`` when unset, ``"1"``, ``"0.5"``, ``"0.123"``."""
    if q < 0:
        return ""
    if q >= 1000:
        return "1"
    if q == 0:
        return "0"
    return ("0." + f"{q:03d}").rstrip("0")


def parse_q(text: str) -> int | None:
    """OpenSIPS ``str2q`` (``qvalue.c``), state for state: leading blanks skipped, ``0``s
    then ``.`` and digits (only three count), or ``1`` with ``.`` and ``0``s; ``01`` is 1,
    ``.``, ``0.`` and ``1.`` are read; in thousandths, ``None`` when refused."""
    state, q, order, digits = "start", 0, 100, 1
    for ch in text:
        if state == "start":
            if ch in " \t":
                continue
            if ch not in "01.":
                return None
            q, state = (1000, "1") if ch == "1" else (0, "0" if ch == "0" else "0.")
        elif state == "0":
            if ch == "1":
                q, state = 1000, "1"
            elif ch == ".":
                state = "0."
            elif ch != "0":
                return None
        elif state == "1":
            if ch != ".":
                return None
            state = "1."
        elif state in ("1.", "1.0"):
            if ch != "0":
                return None
            state = "1.0"
        elif ch in "0123456789":  # "0." then "0.N"
            if state == "0.":
                q, order, state = int(ch) * order, order // 10, "0.N"
            elif digits <= 3:
                q, order, digits = q + int(ch) * order, order // 10, digits + 1
        else:
            return None
    return None if state == "start" else q


TIMER_INTERVAL = 60
"""usrloc's ``timer_interval`` (its default): how often expired contacts are purged."""


class UsrlocState(StatePart):
    """The ``location`` table: AORs in hash-slot order, each with its contacts."""

    key = "usrloc"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self._clear()

    def _clear(self) -> None:
        self.hash_size = 512
        self.use_domain = False
        self.domain = DEFAULT_DOMAIN
        self.branch_flags: list[str] = []
        self._records: dict[str, list[Contact]] = {}
        self._order: list[tuple[int, str]] = []
        self._expiry: list[tuple[int, str, int]] = []
        self._motion: dict[str, Any] | None = None
        self._next_registration = 0.0
        #: Hash slots whose lock was left held (``ul_rm_contact`` with an unreadable
        #: ``contact``): whoever takes one next waits forever.
        self.held_slots: set[int] = set()

    # ---- loading -------------------------------------------------------------------------

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace the table with the scenario section (schema in the module docstring)."""
        self._clear()
        self.hash_size = int(section.get("hash_size", 512))
        self.use_domain = bool(section.get("use_domain", False))
        self.domain = str(section.get("domain", DEFAULT_DOMAIN))
        self.branch_flags = [str(f) for f in section.get("branch_flags", [])]
        now = int(self.world.clock.now())
        for aor, contacts in section.get("aors", {}).items():
            for spec in contacts:
                self._insert(self.keyed(aor), self._contact_from_spec(spec, now))
        if "generate" in section:
            self._generate(section["generate"], now)
        self._motion = dict(section["motion"]) if "motion" in section else None
        self._next_registration = self.world.clock.now()

    def _contact_from_spec(self, spec: Mapping[str, Any], now: int) -> Contact:
        expires_in = int(spec.get("expires_in", 3600))
        contact_id = spec.get("contact_id")
        return Contact(
            contact=str(spec["contact"]),
            contact_id=int(contact_id) if contact_id is not None else self._new_contact_id(),
            expires=0 if expires_in == 0 else now + expires_in,
            q=int(spec.get("q", -1)),
            callid=str(spec.get("callid", f"{self.world.rng.getrandbits(32):08x}@sim")),
            cseq=int(spec.get("cseq", 1)),
            user_agent=str(spec.get("user_agent", "")),
            received=str(spec.get("received", "")),
            path=str(spec.get("path", "")),
            socket=str(spec.get("socket", DEFAULT_SOCKET)),
            flags=int(spec.get("flags", 0)),
            cflags=str(spec.get("cflags", "")),
            methods=int(spec.get("methods", ALL_METHODS)),
            attr=str(spec.get("attr", "")),
        )

    def _generate(self, spec: Mapping[str, Any], now: int) -> None:
        """Bulk generation: records and the slot index are built in one pass, then sorted."""
        rng = self.world.rng
        count = int(spec.get("aors", 0))
        per_aor = int(spec.get("contacts_per_aor", 1))
        prefix = str(spec.get("user_prefix", "user"))
        low, high = (int(x) for x in spec.get("expires", [600, 3600]))
        span = high - low + 1
        for n in range(count):
            user = f"{prefix}{n}"
            aor = self.keyed(user)
            host = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
            record = self._records.get(aor)
            if record is None:
                record = self._records[aor] = []
                self._order.append((core_hash(aor, self.hash_size), aor))
            for k in range(per_aor):
                expires = now + low + int(rng.random() * span)
                contact_id = rng.getrandbits(63)
                record.append(
                    Contact(
                        contact=f"sip:{user}@{host}:{5060 + k}",
                        contact_id=contact_id,
                        expires=expires,
                        q=-1,
                        callid=f"{n}-{k}@{host}",
                        cseq=1 + k,
                        user_agent="sim-generated",
                    )
                )
                self._expiry.append((expires, aor, contact_id))
        self._order = sorted(set(self._order))
        heapq.heapify(self._expiry)

    # ---- queries -------------------------------------------------------------------------

    def keyed(self, user_or_aor: str) -> str:
        """The AOR a registration of ``user_or_aor`` is kept under: with ``use_domain``,
        ``user@domain`` (a REGISTER's To URI names the domain: the 4.0.1 lab's SIPp
        registrations became ``alice@127.0.0.1``); without, as given."""
        if self.use_domain and "@" not in user_or_aor:
            return f"{user_or_aor}@{self.domain}"
        return user_or_aor

    def normalize_aor(self, aor: str) -> str | None:
        """OpenSIPS ``mi_fix_aor``: strip the domain unless ``use_domain``; ``None`` when a
        domain is required but missing."""
        at = aor.find("@")
        if self.use_domain:
            return aor if at >= 0 else None
        return aor[:at] if at >= 0 else aor

    def branch_flag_names(self, mask: int) -> str:
        """``bitmask_to_flag_list``: the names of the set branch flags, space-separated
        (bits without a configured name are not printed)."""
        names = self.branch_flags
        return " ".join(names[bit] for bit in range(min(32, len(names))) if mask >> bit & 1)

    def aors(self) -> Iterator[str]:
        """AORs in ``ul_dump`` order (hash slot, then name)."""
        for _slot, aor in self._order:
            yield aor

    def contacts(self, aor: str) -> list[Contact] | None:
        """The contacts of ``aor`` (``None`` when the AOR is not registered)."""
        return self._records.get(aor)

    def contact_count(self) -> int:
        """All contacts in the table."""
        return sum(len(c) for c in self._records.values())

    # ---- changes -------------------------------------------------------------------------

    def _new_contact_id(self) -> int:
        return int(self.world.rng.getrandbits(63))

    def _insert(self, aor: str, contact: Contact) -> None:
        record = self._records.get(aor)
        if record is None:
            record = self._records[aor] = []
            bisect.insort(self._order, (core_hash(aor, self.hash_size), aor))
        record.append(contact)
        # OpenSIPS keeps contacts ordered by q, highest first; equal q keep arrival order.
        record.sort(key=lambda c: -c.q)
        if contact.expires:
            heapq.heappush(self._expiry, (contact.expires, aor, contact.contact_id))

    def _drop_aor(self, aor: str) -> None:
        del self._records[aor]
        key = (core_hash(aor, self.hash_size), aor)
        index = bisect.bisect_left(self._order, key)
        del self._order[index]

    def add(
        self,
        aor: str,
        contact_uri: str,
        *,
        expires_in: int,
        q: int,
        flags: int,
        cflags: str,
        methods: int,
    ) -> None:
        """``ul_add``: insert the contact, or update it when the AOR already has it."""
        now = int(self.world.clock.now())
        expires = 0 if expires_in == 0 else now + expires_in
        existing = self.find_contact(aor, contact_uri)
        if existing is not None:
            existing.expires = expires
            existing.q = q
            existing.flags = flags
            existing.cflags = cflags
            existing.methods = methods
            existing.callid = MI_CALLID
            existing.user_agent = MI_USER_AGENT
            existing.socket = ""  # mem_update_ucontact copies ul_add's empty socket
            if expires:
                heapq.heappush(self._expiry, (expires, aor, existing.contact_id))
            record = self._records[aor]
            record.sort(key=lambda c: -c.q)
            return
        self._insert(
            aor,
            Contact(
                contact=contact_uri,
                contact_id=self._new_contact_id(),
                expires=expires,
                q=q,
                callid=MI_CALLID,
                cseq=1,
                user_agent=MI_USER_AGENT,
                socket="",  # ul_add gives no socket: no "Socket" key, as on a real 3.6.8
                flags=flags,
                cflags=cflags,
                methods=methods,
            ),
        )

    def find_contact(self, aor: str, contact_uri: str) -> Contact | None:
        """The contact of ``aor`` whose URI is exactly ``contact_uri``."""
        for contact in self._records.get(aor, ()):
            if contact.contact == contact_uri:
                return contact
        return None

    def remove_aor(self, aor: str) -> bool:
        """``ul_rm``: drop the AOR and all its contacts; False when it was not there."""
        if aor not in self._records:
            return False
        self._drop_aor(aor)
        return True

    def remove_contact(self, aor: str, contact_uri: str) -> bool:
        """``ul_rm_contact``: drop one contact (and the AOR when it was the last)."""
        record = self._records.get(aor)
        contact = self.find_contact(aor, contact_uri)
        if record is None or contact is None:
            return False
        record.remove(contact)
        if not record:
            self._drop_aor(aor)
        return True

    def register(self, aor: str, contact_uri: str, expires_in: int, now: float) -> None:
        """A REGISTER seen by the simulated proxy (lively motion): add or refresh."""
        existing = self.find_contact(aor, contact_uri)
        counters = self.world.counters
        for name in ("core:rcv_requests", "sl:sent_replies", "sl:2xx_replies"):
            counters.incr(name)
        counters.incr("registrar:accepted_regs")
        if existing is not None:
            existing.expires = int(now) + expires_in
            existing.cseq += 1
            heapq.heappush(self._expiry, (existing.expires, aor, existing.contact_id))
            return
        rng = self.world.rng
        self._insert(
            aor,
            Contact(
                contact=contact_uri,
                contact_id=self._new_contact_id(),
                expires=int(now) + expires_in,
                q=-1,
                callid=f"{rng.getrandbits(32):08x}-{aor.split('@')[0]}@sim",
                cseq=1,
                user_agent=f"sim-{aor.split('@')[0]}",
            ),
        )

    # ---- locks ---------------------------------------------------------------------------

    def leak_lock(self, aor: str) -> None:
        """Leave the lock of ``aor``'s hash slot held, as ``ul_rm_contact`` does when its
        ``contact`` cannot be read (3.4.18 to 4.0.1: it returns without unlocking)."""
        self.held_slots.add(core_hash(aor, self.hash_size))

    def take_lock(self, aor: str | None) -> None:
        """Take ``aor``'s slot lock (None: every slot, a walk of the whole table) as the MI
        command does; raises `MIBlocked` when a leaked lock is in the way."""
        if self.held_slots and (aor is None or core_hash(aor, self.hash_size) in self.held_slots):
            raise MIBlocked(
                "a usrloc hash slot lock was left held (ul_rm_contact given a contact it "
                "cannot read): the MI process waits for it forever"
            )

    # ---- time ----------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Run registrations of the lively motion, then drop expired contacts. Nothing
        moves once a slot lock is leaked: usrloc's timer (and the SIP workers registering
        into that slot) wait for it; the simulator freezes the whole table."""
        if self.held_slots:
            return
        if self._motion:
            self._move(now)
        # usrloc's timer (every timer_interval, 60 s) purges what expired before its last
        # run; a contact expired since then is still listed, as "expired" (real 4.0.1)
        started = self.world.started_at
        last_run = started + (now - started) // TIMER_INTERVAL * TIMER_INTERVAL
        while self._expiry and self._expiry[0][0] <= last_run:
            expires, aor, contact_id = heapq.heappop(self._expiry)
            record = self._records.get(aor)
            if record is None:
                continue
            for contact in record:
                if contact.contact_id == contact_id and contact.expires == expires:
                    record.remove(contact)
                    self.world.counters.incr("usrloc:location-expires")
                    if not record:
                        self._drop_aor(aor)
                    break

    def _move(self, now: float) -> None:
        motion = self._motion or {}
        rate = float(motion.get("registrations_per_minute", 0))
        users = list(motion.get("users", [])) or ["user"]
        low, high = motion.get("expires", [60, 300])
        if rate <= 0:
            return
        rng = self.world.rng
        while self._next_registration <= now:
            at = self._next_registration
            user = users[rng.randrange(len(users))]
            port = 5071 + users.index(user)  # alice 5071, bob 5072, ... as captured
            contact = f"sip:{user}@127.0.0.1:{port}"
            self.register(self.keyed(user), contact, rng.randint(low, high), at)
            self._next_registration = at + rng.expovariate(rate / 60.0)

    # ---- views ---------------------------------------------------------------------------

    def statistics(self) -> dict[str, int | str]:
        """Gauges: registered users and the ``location`` table's users and contacts."""
        users = len(self._records)
        return {
            "usrloc:registered_users": users,
            f"usrloc:{TABLE}-users": users,
            f"usrloc:{TABLE}-contacts": self.contact_count(),
        }

    def snapshot(self) -> Any:
        """The table as plain JSON: AOR -> contacts with absolute expiry times."""
        return {
            "table": TABLE,
            "hash_size": self.hash_size,
            "aors": {
                aor: [
                    {
                        "contact": c.contact,
                        "contact_id": str(c.contact_id),
                        "expires": c.expires,
                        "q": c.q,
                        "callid": c.callid,
                        "cseq": c.cseq,
                        "user_agent": c.user_agent,
                        "socket": c.socket,
                        "flags": c.flags,
                        "cflags": c.cflags,
                        "methods": c.methods,
                    }
                    for c in self._records[aor]
                ]
                for aor in self.aors()
            },
        }
