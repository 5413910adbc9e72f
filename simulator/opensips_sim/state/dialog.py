"""dialog: the dialog hash table, dialog profiles and dialog timeouts.

Dialogs live in hash entries (``core_hash(callid) & (hash_size-1)``) and are listed entry by
entry, in arrival order within an entry, exactly as ``dlg_list`` walks the real table. The
dialog ID printed by OpenSIPS is ``reverse_hex(h_entry) "." reverse_hex(h_id)`` and the
``db_id`` is ``(h_entry << 32) + h_id``.

Scenario section ``dialog`` (every key optional)::

    {
      "hash_size": 4096,
      "default_timeout": 900,          # seconds from start to timeout for new dialogs
      "bye_seconds": 5,                # an ended dialog stays listed (state 5) this long
      "profiles": {"inbound": {"has_value": false}, "caller": {"has_value": true}},
      "dialogs": [DIALOG, ...],
      "generate": {"count": 50000, "users": 1000, "profiles": {"inbound": "",
                   "caller": "$caller"}},
      "motion": {"calls_per_minute": 4, "duration": [20, 180], "users": ["alice", "bob"],
                 "profiles": {"inbound": "", "caller": "$caller"}}
    }

    DIALOG = {"callid": "...", "h_id": 1656553807 (optional), "state": 4,
              "started_ago": 60, "timeout_in": 840 (0 = no timeout),
              "from_uri": "...", "to_uri": "...", "user_flags": "",
              "caller": LEG, "callees": [LEG, ...],
              "profiles": [["inbound", ""], ["caller", "alice"]],
              "values": [["name", "value"]]}
    LEG = {"tag": "...", "contact": "...", "cseq": "1", "route_set": "",
           "bind_addr": "udp:127.0.0.1:5060", "sdp": "...", "sent_sdp": null}

States: 1 unconfirmed, 2 early, 3 confirmed (not acked), 4 confirmed, 5 deleted. Early
dialogs (1, 2) have no start time and no timeout yet, as in OpenSIPS. A dialog whose
timeout passes is removed and counted in ``dialog:expired_dialogs``.

A dialog ended by MI (``dlg_end_dlg``, ``profile_end_dlgs``) leaves its profiles and the
active count at once but stays listed in state 5 until its BYE transactions end, as on a real
3.6.8 (``dual_bye_event`` then the last ``unref_dlg``): ``bye_seconds`` (default 5, the lab's
``tm`` ``fr_timeout``), then it disappears.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..hashing import core_hash, parse_reverse_hex, reverse_hex
from ..world import StatePart

DEFAULT_SOCKET = "udp:127.0.0.1:5060"
STATE_UNCONFIRMED, STATE_EARLY, STATE_CONFIRMED_NA, STATE_CONFIRMED, STATE_DELETED = 1, 2, 3, 4, 5


def sdp_for(user: str, port: int) -> str:
    """A small audio SDP like SIPp's (one string object per user/port pair is enough)."""
    return (
        f"v=0\r\no={user} 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
        f"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    )


@dataclass(slots=True)
class Leg:
    """One side of a dialog as ``dlg_list`` prints it."""

    tag: str
    contact: str
    cseq: str
    route_set: str = ""
    bind_addr: str | None = DEFAULT_SOCKET
    sdp: str | None = None
    sent_sdp: str | None = None


@dataclass(slots=True)
class Dialog:
    """One dialog of the table."""

    h_entry: int
    h_id: int
    seq: int
    state: int
    start_ts: int
    timeout_ts: int
    callid: str
    from_uri: str
    to_uri: str
    caller: Leg | None
    callees: list[Leg]
    profiles: list[tuple[str, str]] = field(default_factory=list)
    values: list[tuple[str, str]] = field(default_factory=list)
    user_flags: str = ""
    end_at: float = 0.0

    @property
    def did(self) -> str:
        """The ID OpenSIPS prints (``dlg_get_did``)."""
        return f"{reverse_hex(self.h_entry)}.{reverse_hex(self.h_id)}"

    @property
    def db_id(self) -> int:
        """``(h_entry << 32) + h_id``, printed as a decimal string."""
        return (self.h_entry << 32) + self.h_id

    @property
    def sort_key(self) -> tuple[int, int]:
        """Position in the table walk: hash entry, then arrival."""
        return (self.h_entry, self.seq)


@dataclass(frozen=True)
class Profile:
    """A dialog profile as configured (``profiles_with_value`` / ``profiles_no_value``)."""

    name: str
    has_value: bool
    shared: bool = False
    replicated: bool = False


class DialogState(StatePart):
    """The dialog table, indexed for hash-order paging, ID and Call-ID lookups."""

    key = "dialog"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self._clear()

    def _clear(self) -> None:
        self.hash_size = 4096
        self.default_timeout = 43200
        self.bye_seconds = 5.0
        self.profiles: dict[str, Profile] = {}
        self._table: dict[tuple[int, int], Dialog] = {}
        self._order: list[tuple[int, int]] = []
        self._by_hid: dict[tuple[int, int], Dialog] = {}
        self._by_callid: dict[str, list[Dialog]] = {}
        self._next_id: dict[int, int] = {}
        self._seq = 0
        self._profile_counts: dict[str, dict[str, int]] = {}
        self._state_counts = [0] * 6
        self._timeouts: list[tuple[int, int, int]] = []
        self._ends: list[tuple[float, int, int]] = []
        self._byes: list[tuple[float, int, int]] = []
        self._motion: dict[str, Any] | None = None
        self._next_call = 0.0
        self._bulk = False

    # ---- loading -------------------------------------------------------------------------

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace the table with the scenario section (schema in the module docstring)."""
        self._clear()
        self.hash_size = int(section.get("hash_size", 4096))
        self.default_timeout = int(section.get("default_timeout", 43200))
        self.bye_seconds = float(section.get("bye_seconds", 5))
        for name, spec in section.get("profiles", {}).items():
            self.profiles[name] = Profile(
                name=name,
                has_value=bool(spec.get("has_value", False)),
                shared=bool(spec.get("shared", False)),
                replicated=bool(spec.get("replicated", False)),
            )
            self._profile_counts[name] = {}
        now = int(self.world.clock.now())
        for spec in section.get("dialogs", []):
            self._from_spec(spec, now)
        if "generate" in section:
            self._generate(section["generate"], now)
        self._motion = dict(section["motion"]) if "motion" in section else None
        self._next_call = self.world.clock.now()

    @staticmethod
    def _leg(spec: Mapping[str, Any]) -> Leg:
        return Leg(
            tag=str(spec.get("tag", "")),
            contact=str(spec.get("contact", "")),
            cseq=str(spec.get("cseq", "0")),
            route_set=str(spec.get("route_set", "")),
            bind_addr=spec.get("bind_addr", DEFAULT_SOCKET),
            sdp=spec.get("sdp"),
            sent_sdp=spec.get("sent_sdp"),
        )

    def _from_spec(self, spec: Mapping[str, Any], now: int) -> Dialog:
        state = int(spec.get("state", STATE_CONFIRMED))
        confirmed = state >= STATE_CONFIRMED_NA
        start = now - int(spec.get("started_ago", 0)) if confirmed else 0
        timeout_in = int(spec.get("timeout_in", self.default_timeout))
        timeout = now + timeout_in if confirmed and timeout_in else 0
        dialog = self.create(
            callid=str(spec["callid"]),
            from_uri=str(spec.get("from_uri", "")),
            to_uri=str(spec.get("to_uri", "")),
            state=state,
            start_ts=start,
            timeout_ts=timeout,
            caller=self._leg(spec["caller"]) if "caller" in spec else None,
            callees=[self._leg(leg) for leg in spec.get("callees", [])],
            h_id=spec.get("h_id"),
            user_flags=str(spec.get("user_flags", "")),
        )
        # Scenario lists the links in the order dlg_list_ctx prints them.
        for name, value in reversed([tuple(p) for p in spec.get("profiles", [])]):
            self.link_profile(dialog, str(name), str(value))
        dialog.values = [(str(n), str(v)) for n, v in spec.get("values", [])]
        return dialog

    def _generate(self, spec: Mapping[str, Any], now: int) -> None:
        """Bulk generation: dialogs are appended to the table walk, then sorted once."""
        rng = self.world.rng
        users = max(2, int(spec.get("users", 1000)))
        links = dict(spec.get("profiles", {}))
        sdps = (sdp_for("sim", 5080), sdp_for("sim", 5084))
        self._bulk = True
        try:
            for n in range(int(spec.get("count", 0))):
                self.start_call(
                    f"user{int(rng.random() * users)}",
                    f"user{int(rng.random() * users)}",
                    callid=f"{n}-gen@10.0.0.1",
                    at=now - 1 - int(rng.random() * 3600),
                    links=links,
                    sdps=sdps,
                )
        finally:
            self._bulk = False
            self._order.sort()
            heapq.heapify(self._timeouts)

    # ---- the table -----------------------------------------------------------------------

    def _new_h_id(self, h_entry: int) -> int:
        next_id = self._next_id.get(h_entry)
        if next_id is None:
            next_id = self.world.rng.getrandbits(31)
        self._next_id[h_entry] = (next_id + 1) & 0xFFFFFFFF
        return next_id

    def create(
        self,
        *,
        callid: str,
        from_uri: str,
        to_uri: str,
        state: int,
        start_ts: int,
        timeout_ts: int,
        caller: Leg | None,
        callees: list[Leg],
        h_id: int | None = None,
        user_flags: str = "",
    ) -> Dialog:
        """Link a new dialog into its hash entry and count it as processed."""
        h_entry = core_hash(callid, self.hash_size)
        self._seq += 1
        dialog = Dialog(
            h_entry=h_entry,
            h_id=int(h_id) if h_id is not None else self._new_h_id(h_entry),
            seq=self._seq,
            state=state,
            start_ts=start_ts,
            timeout_ts=timeout_ts,
            callid=callid,
            from_uri=from_uri,
            to_uri=to_uri,
            caller=caller,
            callees=callees,
            user_flags=user_flags,
        )
        key = dialog.sort_key
        self._table[key] = dialog
        if self._bulk or (self._order and key > self._order[-1]):
            self._order.append(key)
        else:
            bisect.insort(self._order, key)
        self._by_hid[(h_entry, dialog.h_id)] = dialog
        self._by_callid.setdefault(callid, []).append(dialog)
        self._state_counts[state] += 1
        if timeout_ts:
            if self._bulk:
                self._timeouts.append((timeout_ts, *key))
            else:
                heapq.heappush(self._timeouts, (timeout_ts, *key))
        self.world.counters.incr("dialog:processed_dialogs")
        return dialog

    def remove(self, dialog: Dialog) -> None:
        """Unlink a dialog (it ended, timed out or was terminated)."""
        key = dialog.sort_key
        if self._table.pop(key, None) is None:
            return
        index = bisect.bisect_left(self._order, key)
        del self._order[index]
        del self._by_hid[(dialog.h_entry, dialog.h_id)]
        same_callid = self._by_callid[dialog.callid]
        same_callid.remove(dialog)
        if not same_callid:
            del self._by_callid[dialog.callid]
        for name, value in dialog.profiles:
            self._uncount(name, value)
        self._state_counts[dialog.state] -= 1
        dialog.state = STATE_DELETED

    def end(self, dialog: Dialog) -> None:
        """End a dialog by MI: BYEs sent, state 5, out of its profiles and of the active
        count at once; it stays listed until its BYE transactions end (``bye_seconds``)."""
        if dialog.state != STATE_DELETED:
            for name, value in dialog.profiles:
                self._uncount(name, value)
            dialog.profiles = []
            self._state_counts[dialog.state] -= 1
            dialog.state = STATE_DELETED
            self._state_counts[STATE_DELETED] += 1
        if self.bye_seconds <= 0:
            self.remove(dialog)
            return
        heapq.heappush(self._byes, (self.world.clock.now() + self.bye_seconds, *dialog.sort_key))

    def __len__(self) -> int:
        return len(self._order)

    def walk(self) -> Iterator[Dialog]:
        """Every dialog in ``dlg_list`` order."""
        table = self._table
        for key in self._order:
            yield table[key]

    def page(self, index: int, counter: int) -> list[Dialog]:
        """``dlg_list`` with ``index``/``counter``, C ``unsigned int`` arithmetic included:
        skip ``index`` dialogs, then print until ``index + counter`` (at least one)."""
        start = index & 0xFFFFFFFF
        limit = (start + (counter & 0xFFFFFFFF)) & 0xFFFFFFFF
        keys = self._order[start : max(start + 1, limit)]
        return [self._table[key] for key in keys]

    def by_did(self, did: str) -> Dialog | None:
        """Lookup by the printed ID (``h_entry.h_id`` in reverse hex)."""
        entry_text, dot, id_text = did.partition(".")
        if not dot:
            return None
        h_entry = parse_reverse_hex(entry_text)
        h_id = parse_reverse_hex(id_text)
        if h_entry is None or h_id is None:
            return None
        return self._by_hid.get((h_entry, h_id))

    def by_callid(self, callid: str, from_tag: str | None = None) -> Dialog | None:
        """The first dialog (table order) with this Call-ID (and caller tag)."""
        for dialog in self._by_callid.get(callid, ()):
            if from_tag is None or (dialog.caller is not None and dialog.caller.tag == from_tag):
                return dialog
        return None

    def by_dialog_id(self, dialog_id: str) -> Dialog | None:
        """``get_dlg_by_dialog_id``: the printed ID first, else an active dialog's Call-ID."""
        dialog = self.by_did(dialog_id)
        if dialog is not None:
            return dialog
        for dialog in self._by_callid.get(dialog_id, ()):
            if dialog.state <= STATE_CONFIRMED:
                return dialog
        return None

    # ---- profiles ------------------------------------------------------------------------

    def _uncount(self, name: str, value: str) -> None:
        counts = self._profile_counts.setdefault(name, {})
        left = counts.get(value, 0) - 1
        if left > 0:
            counts[value] = left
        else:
            counts.pop(value, None)

    def link_profile(self, dialog: Dialog, name: str, value: str) -> bool:
        """Put ``dialog`` in profile ``name`` (with ``value``); False when already there."""
        if (name, value) in dialog.profiles:
            return False
        dialog.profiles.insert(0, (name, value))
        counts = self._profile_counts.setdefault(name, {})
        counts[value] = counts.get(value, 0) + 1
        return True

    def unlink_profile(self, dialog: Dialog, name: str, value: str | None) -> int:
        """Take ``dialog`` out of profile ``name`` (every value when ``value`` is None)."""
        kept, dropped = [], 0
        for link in dialog.profiles:
            if link[0] == name and (value is None or link[1] == value):
                self._uncount(*link)
                dropped += 1
            else:
                kept.append(link)
        dialog.profiles = kept
        return dropped

    def profile_size(self, name: str, value: str | None) -> int:
        """Dialogs in the profile; with a value, only those with it (valued profiles)."""
        counts = self._profile_counts.get(name, {})
        if value is None or not self.profiles[name].has_value:
            return sum(counts.values())
        return counts.get(value, 0)

    def profile_values(self, name: str) -> list[tuple[str, int]]:
        """(value, count) in the order of the profile's hash map (16 slots, then value)."""
        counts = self._profile_counts.get(name, {})
        return sorted(counts.items(), key=lambda item: (core_hash(item[0], 16), item[0]))

    def in_profile(self, dialog: Dialog, name: str, value: str | None) -> bool:
        """True when the dialog is linked to the profile (with that value, if given)."""
        return any(n == name and (value is None or v == value) for n, v in dialog.profiles)

    # ---- calls (lively motion and generation) --------------------------------------------

    def start_call(
        self,
        caller: str,
        callee: str,
        *,
        callid: str,
        at: float,
        links: Mapping[str, str],
        sdps: tuple[str, str] | None = None,
        duration: float = 0.0,
    ) -> Dialog:
        """A confirmed call ``caller`` -> ``callee`` that started at ``at``."""
        tag = callid.split("@", 1)[0]
        caller_sdp, callee_sdp = sdps or (sdp_for(caller, 5080), sdp_for(callee, 5084))
        dialog = self.create(
            callid=callid,
            from_uri=f"sip:{caller}@127.0.0.1",
            to_uri=f"sip:{callee}@127.0.0.1",
            state=STATE_CONFIRMED,
            start_ts=int(at),
            timeout_ts=int(at) + self.default_timeout,
            caller=Leg(
                tag=f"{tag}A", contact=f"sip:{caller}@127.0.0.1:5074", cseq="0", sdp=caller_sdp
            ),
            callees=[
                Leg(
                    tag=f"{tag}B",
                    contact=f"sip:{callee}@127.0.0.1:5072;transport=UDP",
                    cseq="1",
                    sdp=callee_sdp,
                )
            ],
        )
        for name, template in reversed(list(links.items())):
            if name in self.profiles:
                self.link_profile(dialog, name, caller if template == "$caller" else template)
        if duration:
            dialog.end_at = at + duration
            heapq.heappush(self._ends, (dialog.end_at, *dialog.sort_key))
        return dialog

    def _count_transaction(self, requests: int) -> None:
        counters = self.world.counters
        for name in (
            "core:rcv_requests",
            "core:fwd_requests",
            "core:rcv_replies",
            "core:fwd_replies",
            "tm:received_replies",
            "tm:relayed_replies",
        ):
            counters.incr(name, requests)
        for name in ("tm:UAS_transactions", "tm:UAC_transactions", "tm:2xx_transactions"):
            counters.incr(name)

    def tick(self, now: float) -> None:
        """Start and end calls of the lively motion, then expire timed-out dialogs."""
        if self._motion:
            self._move(now)
        while self._byes and self._byes[0][0] <= now:
            _at, h_entry, seq = heapq.heappop(self._byes)
            dialog = self._table.get((h_entry, seq))
            if dialog is not None:
                self.remove(dialog)
        while self._ends and self._ends[0][0] <= now:
            _at, h_entry, seq = heapq.heappop(self._ends)
            dialog = self._table.get((h_entry, seq))
            if dialog is not None and dialog.state != STATE_DELETED:
                self._count_transaction(1)
                self.remove(dialog)
        while self._timeouts and self._timeouts[0][0] <= now:
            timeout, h_entry, seq = heapq.heappop(self._timeouts)
            dialog = self._table.get((h_entry, seq))
            if (
                dialog is not None
                and dialog.timeout_ts == timeout
                and dialog.state != STATE_DELETED
            ):
                self.remove(dialog)
                self.world.counters.incr("dialog:expired_dialogs")

    def _move(self, now: float) -> None:
        motion = self._motion or {}
        rate = float(motion.get("calls_per_minute", 0))
        users = list(motion.get("users", ["alice", "bob"]))
        low, high = motion.get("duration", [20, 180])
        links = dict(motion.get("profiles", {}))
        if rate <= 0 or len(users) < 2:
            return
        rng = self.world.rng
        while self._next_call <= now:
            at = self._next_call
            caller, callee = rng.sample(users, 2)
            callid = f"{rng.getrandbits(32):08x}-sim@127.0.0.1"
            self.start_call(
                caller,
                callee,
                callid=callid,
                at=at,
                links=links,
                duration=rng.uniform(float(low), float(high)),
            )
            self._count_transaction(2)
            self._next_call = at + rng.expovariate(rate / 60.0)

    # ---- views ---------------------------------------------------------------------------

    def statistics(self) -> dict[str, int | str]:
        """Gauges: confirmed (active) and early dialogs."""
        counts = self._state_counts
        return {
            "dialog:active_dialogs": counts[STATE_CONFIRMED_NA] + counts[STATE_CONFIRMED],
            "dialog:early_dialogs": counts[STATE_UNCONFIRMED] + counts[STATE_EARLY],
        }

    def snapshot(self) -> Any:
        """Profiles and every dialog (ID, Call-ID, state, times, profile links)."""
        return {
            "profiles": {
                p.name: {
                    "has_value": p.has_value,
                    "counts": dict(self._profile_counts.get(p.name, {})),
                }
                for p in self.profiles.values()
            },
            "dialogs": [
                {
                    "id": d.did,
                    "db_id": str(d.db_id),
                    "callid": d.callid,
                    "state": d.state,
                    "from_uri": d.from_uri,
                    "to_uri": d.to_uri,
                    "start_ts": d.start_ts,
                    "timeout_ts": d.timeout_ts,
                    "profiles": [list(link) for link in d.profiles],
                }
                for d in self.walk()
            ],
        }
