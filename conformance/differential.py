"""Differential conformance: the same MI calls to a real OpenSIPS and to a simulator started
from its snapshot must get the same answers.

    OPENSIPS_MI_URL=http://127.0.0.1:8990/mi make differential      # or:
    python -m conformance.differential --mi-url URL [--examples N] [--steps N]

Each Hypothesis example is a sequence of MI calls. Before it, the real server is read into a
scenario (``opensips_sim.snapshot``) and a simulator is started from it with its clock set
to the server's "Now" (then moving in real time); each call then goes to both (to the real
one in one write over a keep-alive socket, ``opensips_sim.upstream``), and the answers must
be equal after the
command's normaliser (:data:`NORMALISERS`: values that move with time). After the sequence
the real server's registrations, dispatcher and gateway states are put back
(``opensips_sim.snapshot.restore``).

Calls: every command ``which`` lists except :data:`DENY` (with reasons), each with the
parameter sets of its recipes (the simulator's registry of the 3.6.8 commands): values from
the snapshot (AORs, contacts, dialog IDs, destinations, gateways, ...), bad values, and
invalid parameter sets (a name no recipe has, a count no recipe has). Commands the simulator
does not implement get only the invalid sets (the simulator checks recipes exactly as
OpenSIPS does; a valid call would answer "Not implemented by opensips-sim"). Writes are sent
only for :data:`WRITES` (undone after each sequence, or harmless in the lab).

The run starts with a sweep (every command's invalid sets, each sendable recipe with the
first value of each pool, then each parameter of it given each of ``ODD_VALUES``), then
draws the sequences. A difference fails the run unless
``conformance/expected-differences.toml`` lists its command and kind with a reason. The run
prints the commands exercised, steps run and differences per command, and exits 1 on an
unexpected difference.

Last, raw HTTP probes at the edges of what mi_http reads (request sizes, JSON its parser
refuses, JSON-RPC envelopes: ``conformance.wire_probes``) go to the real server and to the
simulator's own wire, and, given the server's FIFO and datagram socket (``--mi-fifo``,
``--mi-datagram``, or ``make lab``'s environment), raw mi_fifo and mi_datagram probes
(``conformance.stream_probes``) to both; a probe answered differently is a difference of
kind ``wire``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import sys
import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import stream_probes, wire_probes
from opensips_mcp.catalog.catalog import pick_version
from opensips_mcp.versions import parse_version
from opensips_sim.clock import Clock
from opensips_sim.errors import MIError
from opensips_sim.params import Params
from opensips_sim.persona import DEFAULT as SIM_DEFAULT_VERSION
from opensips_sim.persona import VERSIONS as SIM_VERSIONS
from opensips_sim.persona import persona
from opensips_sim.registry import HANDLERS, CommandInfo, commands
from opensips_sim.simulator import Settings as SimSettings
from opensips_sim.simulator import Simulator, load_all_parts
from opensips_sim.snapshot import read_scenario, restore, server_now
from opensips_sim.upstream import Upstream, UpstreamCallError

EXPECTED_FILE = Path(__file__).with_name("expected-differences.toml")

#: Commands never sent, and why.
DENY: dict[str, str] = {
    "kill": "stops the lab's OpenSIPS",
    "t_hash": "65,536 entries (2.5 MB): on a loaded lab it holds the MI process for minutes",
    "shm_check": "may abort OpenSIPS when it finds a corrupted fragment (debug builds)",
    "mem_pkg_dump": "floods the lab's log with the memory map",
    "mem_shm_dump": "floods the lab's log with the memory map",
    "cluster_send_mi": "carries any command (kill included) to a peer",
    "cluster_broadcast_mi": "carries any command (kill included) to every peer",
    "dlg_end_dlg": "ends the lab's held SIPp calls, which cannot be put back",
    "profile_end_dlgs": "ends the lab's held SIPp calls, which cannot be put back",
    "t_uac_dlg": "sends SIP requests out of the lab",
    "t_uac_cancel": "cancels the lab's transactions",
    "t_reply": "answers the lab's transactions",
    "reg_force_register": "sends REGISTER requests out of the lab",
    "event_subscribe": "makes OpenSIPS send events to an address",
    "raise_event": "raises events to subscribers of the lab",
    "log_level": "changes the log level of the lab's processes",
    "xlog_level": "changes the xlog level of the lab's processes",
    "log_level_filter": "changes which processes log",
    "log_mute_state": "mutes the lab's log",
    "ul_flush": "writes the location table to the database",
    "ul_sync": "rewrites the location table in the database",
    "dlg_db_sync": "reloads dialogs from the database",
    "trace_start": "starts SIP tracing to a destination",
    "sip_trace": "switches SIP tracing",
    "cache_store": "writes the lab's cache",
    "cache_remove": "removes the lab's cache entries",
    "tls_reload": "reloads the lab's TLS domains from the database",
    "reload_routes": "reloads the lab's script",
    "cc_reload": "reloads call center data from the database",
    "cc_dispatcher_restart": "restarts call center dispatching",
    "rtpengine_reload": "reloads rtpengine sets",
    "rtpengine_enable": "switches rtpengine nodes",
    "b2b_trigger_scenario": "starts B2B calls",
    "b2b_bridge": "bridges B2B calls",
    "b2b_terminate_call": "ends B2B calls",
    "ds_push_script_attrs": "edits dispatcher attributes",
}

#: Writes that may be sent: undone by the restore after each sequence, or harmless.
WRITES = frozenset(
    {
        "ul_add",
        "ul_rm",
        "ul_rm_contact",
        "ds_set_state",
        "dr_gw_status",
        "dr_carrier_status",
        "reset_statistics",
        "reset_all_statistics",
        "pike_rm",
        "shv_set",
        "dlg_push_var",
        "dlg_set_profile",
        "dlg_unset_profile",
        "lb_status",
        "ds_reload",
        "dr_reload",
        "lb_reload",
        "address_reload",
        "dp_reload",
        "reg_enable",  # put back by the restore (snapshot._restore_registrants)
        "reg_disable",
        "reg_reload",  # reloads the registrants from the database: what the snapshot read
        "tcp:close",  # 4.0: the lab holds no TCP connection (tcp:list), so nothing closes
    }
)

#: Commands sent only with their recipes the simulator classes as reads, and why.
READ_RECIPES_ONLY: dict[str, str] = {
    "core:profiling_proc": "setting a level changes the lab's processes; the snapshot "
    "does not read profiling levels back",
}


def command_info(name: str, version: str = SIM_DEFAULT_VERSION) -> CommandInfo | None:
    """A 3.6 command, or one ``version`` has and 3.6 has not (4.0's ``tcp:close``)."""
    return commands().get(name) or persona(version).new_commands.get(name)


#: Keys whose values move with the clock, replaced by "<time>" in every answer.
#: "Date" (dr_reload_status: the last reload) is carried as seconds ago, so it can land a
#: second apart when the run's clocks straddle a second (seen once against 4.0.1).
TIME_KEYS = frozenset(
    {
        "Now",
        "Up since",
        "Up time",
        "Expires",
        "timestart",
        "timeout",
        "datestart",
        "dateout",
        "Date",
    }
)
#: Statistics groups whose values move by themselves (memory, load, network).
MOVING_GROUPS = ("shmem:", "pkmem:", "load:", "net:", "core:timestamp")


def _times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<time>" if k in TIME_KEYS else _times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_times(v) for v in value]
    return value


def _statistics(value: Any) -> Any:
    """Statistic values that move by themselves (memory, load, network, time) -> "<n>"."""
    if not isinstance(value, dict):
        return value
    return {k: "<n>" if str(k).startswith(MOVING_GROUPS) else v for k, v in value.items()}


def _processes(value: Any) -> Any:
    """``ps``: PIDs differ between any two servers."""
    if isinstance(value, dict) and isinstance(value.get("Processes"), list):
        return {
            "Processes": [p | {"PID": "<pid>"} for p in value["Processes"] if isinstance(p, dict)]
        }
    return value


def _contact_ids(value: Any) -> Any:
    """``ul_dump``/``ul_show_contact``: ContactIDs of contacts added during the run are drawn
    from a counter each server keeps."""
    if isinstance(value, dict):
        return {k: "<id>" if k == "ContactID" else _contact_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_contact_ids(v) for v in value]
    return value


#: reg_list fields a registrant's own timer moves (REGISTER sent, timed out, socket chosen).
REGISTRATION_PROGRESS = ("state", "last_register_sent", "registration_t_out")


def _registration_progress(value: Any) -> Any:
    """``reg_list``: the registration progress moves by itself on the server (an enabled
    registrant towards a registrar that does not answer goes NOT_REGISTERED -> REGISTERING
    -> REGISTER_TIMEOUT on its timer): compared by type; ``socket`` (printed once a
    REGISTER was sent) left out."""
    if isinstance(value, dict):
        return {
            k: f"<{type(v).__name__}>" if k in REGISTRATION_PROGRESS else _registration_progress(v)
            for k, v in value.items()
            if k != "socket"
        }
    if isinstance(value, list):
        return [_registration_progress(v) for v in value]
    return value


#: One normaliser per command whose answer moves with time (applied to results only, after
#: the clock keys of :data:`TIME_KEYS` are replaced in every answer).
NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "get_statistics": _statistics,
    "ps": _processes,
    "ul_dump": _contact_ids,
    "ul_show_contact": _contact_ids,
    "reg_list": _registration_progress,
}


def normalise(command: str, answer: Any) -> Any:
    """The answer with its time-moving values replaced (see :data:`NORMALISERS`)."""
    answer = _times(answer)
    if isinstance(answer, dict) and "result" in answer:
        fix = NORMALISERS.get(command)
        if fix is not None:
            answer = answer | {"result": fix(answer["result"])}
    return answer


# ---- calls ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One MI call of a sequence: ``command`` is the 3.x name (the simulator's handler, the
    key of the report and of ``expected-differences.toml``), ``sent`` the name the server's
    version answers to (4.x: ``module:name``), when it differs."""

    command: str
    params: Any
    sent: str | None = None

    @property
    def method(self) -> str:
        """The name on the wire."""
        return self.sent or self.command

    def body(self, ident: int) -> bytes:
        """The JSON-RPC request."""
        request: dict[str, Any] = {"jsonrpc": "2.0", "method": self.method, "id": ident}
        if self.params is not None:
            request["params"] = self.params
        return json.dumps(request).encode()


def value_pools(scenario: dict[str, Any]) -> dict[str, list[Any]]:
    """Parameter values by parameter name, from the snapshot (plus a few that exist nowhere)."""
    usrloc = scenario.get("usrloc", {}).get("aors", {})
    dialogs = scenario.get("dialog", {}).get("dialogs", [])
    profiles = list(scenario.get("dialog", {}).get("profiles", {}))
    ds = [
        (str(s["id"]), d["uri"])
        for p in scenario.get("dispatcher", {}).get("partitions", [])
        for s in p.get("sets", [])
        for d in s.get("destinations", [])
    ]
    gws = [g["id"] for g in scenario.get("drouting", {}).get("gateways", [])]
    carriers = [c["id"] for c in scenario.get("drouting", {}).get("carriers", [])]
    shv = [v["name"] for v in scenario.get("cfgutils", {}).get("shared_vars", [])]
    stats = list(scenario.get("statistics", {}).get("values", {}))
    contacts = [c["contact"] for cs in usrloc.values() for c in cs]
    lb = scenario.get("load_balancer", {}).get("destinations", [])
    registrants = scenario.get("uac_registrant", {}).get("registrants", [])
    return {
        "table_name": ["location", "nope"],
        "aor": [*usrloc, *(r["aor"] for r in registrants), "zed", "alice@example.com"],
        "contact": [*contacts, *(r["contact"] for r in registrants), "sip:zed@127.0.0.1:5999"],
        "registrar": [*(r["registrar"] for r in registrants), "sip:127.0.0.1:1"],
        "expires": [0, 60, 3600],
        "q": ["1", "0.5", "2"],
        "flags": [0],
        "cflags": [0],
        "methods": [4294967295],
        "brief": [0, 1],
        "dialog_id": [d["callid"] for d in dialogs] + ["0.0"],
        "dlg_id": [d["callid"] for d in dialogs] + ["0.0"],
        "callid": [d["callid"] for d in dialogs] + ["nope@x"],
        "from_tag": ["nope"],
        "index": [0, 1, 5],
        "counter": [1, 2, 10],
        "profile": [*profiles, "nope"],
        "value": ["alice", "bob", ""],
        "DID": [d["callid"] for d in dialogs],
        "dlg_val_name": ["v1"],
        "dlg_val_value": ["x"],
        "state": ["a", "i", "p", "x"],
        "group": [g for g, _ in ds] + ["9", "x", "nope:1"],
        "address": [u for _, u in ds] + ["sip:127.0.0.1:1"],
        "partition": ["default", "nope"],
        "full": [0, 1],
        "inherit_state": ["y", "n"],
        "gw_id": [*gws, "nope"],
        "carrier_id": [*carriers, "nope"],
        "status": [0, 1],
        "partition_name": ["nope"],
        "statistics": [
            ["all"],
            ["dialog:"],
            ["usrloc:", "tm:"],
            [s.partition(":")[2] for s in stats[:3]],
            ["dialog:active_dialogs"],
            ["nope"],
        ],
        "name": [*shv, "nope"],
        "type": ["int", "str"],
        "ip": ["192.0.2.66", "bad"],
        "id": [d["id"] for d in lb] + [99],
        "cluster_id": [1, 9],
        "node_id": [1, 2, 9],
        "dpid": [1, 9],
        "input": ["0301234", "x"],
        "number": ["+4912345", "1"],
        "uri": ["sip:alice@127.0.0.1"],
        "mask": [32],
        "port": [0, 5060],
        "proto": ["udp", "any"],
        "context_info": ["x"],
        "pattern": [""],
    }


GENERIC: list[Any] = ["x", 1, "", "1"]
#: Calls per sequence of the sweep (the state is put back after each).
SWEEP_CHUNK = 20


def _invalid_calls(
    name: str, sent: str | None = None, version: str = SIM_DEFAULT_VERSION
) -> list[Call]:
    """Parameter sets no recipe of ``name`` takes in ``version`` (never executed)."""
    info = command_info(name, version)
    assert info is not None
    recipes = persona(version).recipes.get(name, info.recipes)
    sizes = {len(r) for r in recipes}
    bad_size = next(n for n in range(1, 8) if n not in sizes)
    calls = [
        Call(name, {"zz_nope": 1}, sent),
        Call(name, {f"p{i}": "x" for i in range(bad_size)}, sent),
    ]
    if not info.named_only:
        calls.append(Call(name, ["x"] * bad_size, sent))
    return calls


def _sendable_recipes(name: str, version: str = SIM_DEFAULT_VERSION) -> list[tuple[str, ...]]:
    """The recipes (``version``'s) sent with real values: the simulator implements the
    command and it only reads, or it is one of :data:`WRITES`."""
    info = command_info(name, version)
    if name not in HANDLERS or info is None:
        return []
    recipes = list(persona(version).recipes.get(name, info.recipes))
    if name in READ_RECIPES_ONLY:
        impl = HANDLERS[name]
        return [r for r in recipes if impl.level_for(Params(dict.fromkeys(r, "1"))) == "read"]
    if not (name in WRITES or _reads_only(name, version)):
        return []
    return recipes


def call_strategy(
    offered: list[str],
    pools: dict[str, list[Any]],
    names: dict[str, str] | None = None,
    version: str = SIM_DEFAULT_VERSION,
) -> st.SearchStrategy[Call]:
    """One call: a valid recipe with pooled values, or an invalid parameter set.
    ``names``: 3.x name -> the name the server's version answers to (see :func:`names_of`)."""
    names = names or {}
    strategies: list[st.SearchStrategy[Call]] = []
    for name in offered:
        if command_info(name, version) is None:
            continue
        sent = names.get(name)
        strategies.extend(st.just(c) for c in _invalid_calls(name, sent, version))
        for recipe in _sendable_recipes(name, version):
            if not recipe:
                strategies.append(st.just(Call(name, None, sent)))
                continue
            values = {p: st.sampled_from(pools.get(p, []) + GENERIC) for p in recipe}
            strategies.append(st.fixed_dictionaries(values).map(_maker(name, sent)))
    return st.one_of(strategies)


def _each_recipe(
    offered: list[str], names: dict[str, str] | None, version: str
) -> Iterator[tuple[str, str | None, tuple[str, ...] | None]]:
    """``(name, sent, recipe)`` for every offered command the version's catalog knows: first
    with recipe None (the command itself), then once per sendable recipe."""
    names = names or {}
    for name in offered:
        if command_info(name, version) is None:
            continue
        sent = names.get(name)
        yield name, sent, None
        for recipe in _sendable_recipes(name, version):
            yield name, sent, recipe


def sweep(
    offered: list[str],
    pools: dict[str, list[Any]],
    names: dict[str, str] | None = None,
    version: str = SIM_DEFAULT_VERSION,
) -> list[Call]:
    """Every command at least once: its invalid sets, and each sendable recipe with the
    first value of each parameter's pool."""
    calls: list[Call] = []
    for name, sent, recipe in _each_recipe(offered, names, version):
        if recipe is None:
            calls.extend(_invalid_calls(name, sent, version))
        else:
            params = {p: (pools.get(p) or GENERIC)[0] for p in recipe}
            calls.append(Call(name, params or None, sent))
    return calls


ODD_VALUES: list[Any] = [
    -1, 0, 1.5, 2.0, 2**31, 2**63, -(2**63), "", " 1", "-1", "0x10", "1e3", "99999999999",
    "é", "x" * 300,
]  # fmt: skip
"""What the typed-value sweep puts in each parameter: numbers past C ``int``, fractions,
numeric-looking text, blanks, non-ASCII and long text. Only strings and numbers: another
JSON type can stop a real server (``opensips_mcp.mi.jsonrpc.unreadable_value``)."""


def typed_values(
    offered: list[str],
    pools: dict[str, list[Any]],
    names: dict[str, str] | None = None,
    version: str = SIM_DEFAULT_VERSION,
) -> list[Call]:
    """Every sendable recipe with parameters, each parameter in turn given each of
    :data:`ODD_VALUES`, the others the first value of their pool: how each command reads
    what it was not built for (``ul_add``'s contact and ``q``, a partition of a bad type)."""
    calls: list[Call] = []
    for name, sent, recipe in _each_recipe(offered, names, version):
        base = {p: (pools.get(p) or GENERIC)[0] for p in recipe or ()}
        for param in recipe or ():
            calls.extend(Call(name, base | {param: odd}, sent) for odd in ODD_VALUES)
    return calls


def _maker(name: str, sent: str | None = None) -> Callable[[dict[str, Any]], Call]:
    def make(params: dict[str, Any]) -> Call:
        return Call(name, params, sent)

    return make


# ---- versions ------------------------------------------------------------------------------


def impersonated_version(version_answer: Any) -> str:
    """The simulator persona for a server's ``version`` answer: the same version, else the
    same major.minor, else the closest older one (:data:`opensips_sim.persona.VERSIONS`)."""
    reported, _ = parse_version(version_answer)
    if reported is None:
        return SIM_DEFAULT_VERSION
    return pick_version(reported, SIM_VERSIONS)


def names_of(version: str, which: list[str]) -> dict[str, str]:
    """3.x name (the simulator's handler) -> the name ``version`` lists in ``which``, for
    every listed command the simulator implements under a 3.x name. A 4.x name is kept as
    sent (4.0 dropped some 3.x names, and bare local names may be ambiguous); a listed
    command with no 3.x counterpart (new in 4.x) is left out."""
    me = persona(version)
    found: dict[str, str] = {}
    for name in which:
        try:
            handler = me.translate(name)
        except MIError:
            continue
        found.setdefault(handler, name)
    return found


#: A bare AOR (no domain) that no lab registers: asked with ``ul_show_contact``.
PROBE_AOR = "opensips-mcp-probe"


async def probe_use_domain(up: Upstream) -> bool | None:
    """Whether usrloc runs with ``use_domain`` (a module parameter no MI command shows):
    ``ul_show_contact`` of a bare AOR answers ``400 "Domain missing in AOR"`` with it on and
    ``404 "AOR not found"`` with it off (measured on real 3.4.18 and 4.0.1 labs); ``None``
    without usrloc or when the answer says neither."""
    params = {"table_name": "location", "aor": PROBE_AOR}
    try:
        await up.call("ul_show_contact", params)
    except UpstreamCallError as exc:
        if exc.code == 400 and "Domain missing" in exc.message:
            return True
        return False if exc.code == 404 else None
    return False  # the probe AOR is registered: a bare AOR was accepted


def usrloc_domains(scenario: dict[str, Any], use_domain: bool | None) -> dict[str, Any]:
    """``scenario`` with usrloc's ``use_domain`` as probed (:func:`probe_use_domain`): the
    snapshot cannot read the parameter, and 4.x defaults it on where 3.x has it off."""
    usrloc = scenario.get("usrloc")
    if use_domain is None or not isinstance(usrloc, dict) or "use_domain" in usrloc:
        return scenario
    return scenario | {"usrloc": usrloc | {"use_domain": use_domain}}


def _reads_only(name: str, version: str = SIM_DEFAULT_VERSION) -> bool:
    """True for a command whose every recipe the simulator classes as a read."""
    impl = HANDLERS[name]
    info = command_info(name, version)
    assert info is not None
    return all(impl.level_for(Params(dict.fromkeys(r, "1"))) == "read" for r in info.recipes)


# ---- the run -------------------------------------------------------------------------------


@dataclass
class Report:
    """What the run did and found."""

    steps: int = 0
    sequences: int = 0
    exercised: Counter[str] = field(default_factory=Counter)
    differences: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    failure_counts: dict[tuple[str, int, str], int] = field(default_factory=dict)
    """Dispatcher probing failure counts the last sequence's simulator ended with, by
    (partition, set, URI): carried into the next (see :func:`with_failure_counts`)."""
    pike_unblocked: list[str] = field(default_factory=list)
    """Addresses pike tracks unblocked in the last sequence's simulator: carried into the
    next (see :func:`with_pike_unblocked`)."""

    def add(self, command: str, kind: str, detail: str) -> None:
        """Record one difference (details of the first few are kept)."""
        found = self.differences[(command, kind)]
        if len(found) < 3:
            found.append(detail)
        else:
            found.append("")


def kind_of(real: Any, sim: Any) -> str:
    """``outcome`` (result vs error), ``error`` (different errors) or ``result``."""
    if not isinstance(real, dict) or not isinstance(sim, dict):
        return "status"
    if ("error" in real) != ("error" in sim):
        return "outcome"
    return "error" if "error" in real else "result"


async def _answer_of_real(up: Upstream, body: bytes) -> Any:
    reply = await up.post(body)
    if reply.status != 200:
        return {"http_status": reply.status}
    return reply.json()


def failure_counts(sim: Simulator) -> dict[tuple[str, int, str], int]:
    """The simulator's dispatcher probing failure counts, by (partition, set, URI)."""
    section = sim.world.snapshot().get("dispatcher", {})
    return {
        (str(p["name"]), int(s["id"]), str(d["uri"])): int(d["failure_count"])
        for p in section.get("partitions", [])
        for s in p.get("sets", [])
        for d in s.get("destinations", [])
        if d.get("failure_count")
    }


def with_failure_counts(
    scenario: dict[str, Any], counts: dict[tuple[str, int, str], int]
) -> dict[str, Any]:
    """``scenario`` with the dispatcher failure counts of the previous sequence.

    A count is not readable through MI, so the snapshot has none, and the real server keeps
    it across ``ds_set_state a``/``i`` (``_ds_set_state`` resets it only with
    ``DS_RESET_FAIL_DST``), so the restore after a sequence leaves what the sequence's
    ``p`` calls counted. The simulator of the previous sequence counted the same ``p``
    calls: its counts are the server's, provided the server's were 0 when the run began (a
    fresh lab)."""
    if not counts or "dispatcher" not in scenario:
        return scenario
    section = copy.deepcopy(scenario["dispatcher"])
    parts = section.get("partitions", [])
    if "sets" in section:  # the scenario shorthand for the default partition
        parts = [*parts, {"name": "default", "sets": section["sets"]}]
    for part in parts:
        for dset in part.get("sets", []):
            for dest in dset.get("destinations", []):
                key = (str(part.get("name")), int(dset["id"]), str(dest.get("uri")))
                if key in counts:
                    dest["failure_count"] = counts[key]
    return scenario | {"dispatcher": section}


def pike_unblocked(sim: Simulator) -> list[str]:
    """The addresses the simulator's pike tracks without blocking them."""
    ips = sim.world.snapshot().get("pike", {}).get("ips", [])
    return [str(i["ip"]) for i in ips if not i.get("blocked")]


def with_pike_unblocked(scenario: dict[str, Any], unblocked: list[str]) -> dict[str, Any]:
    """``scenario`` with the addresses pike tracks unblocked after the previous sequence.

    ``pike_list`` lists only blocked addresses and nothing blocks one again through MI, so a
    ``pike_rm`` leaves the server tracking an address (``pike_rm`` again: 400 "IP not
    blocked") that the next snapshot does not carry (the simulator would answer 404 "Match
    not found"). The previous sequence's simulator unblocked the same addresses."""
    if not unblocked or "pike" not in scenario:
        return scenario
    ips = list(scenario["pike"].get("ips", []))
    listed = {str(i.get("ip")) for i in ips}
    ips += [{"ip": ip, "blocked": False} for ip in unblocked if ip not in listed]
    return scenario | {"pike": scenario["pike"] | {"ips": ips}}


async def run_sequence(
    up: Upstream,
    calls: list[Call],
    report: Report,
    version: str = SIM_DEFAULT_VERSION,
    use_domain: bool | None = None,
) -> None:
    """Snapshot, then each call to both (the simulator impersonating ``version``, usrloc's
    ``use_domain`` as probed), compared; then put the real state back."""
    now = await server_now(up)  # whole seconds
    scenario = await read_scenario(up, now=now)  # the simulator starts at the same "now"
    scenario = usrloc_domains(scenario, use_domain)
    scenario = with_failure_counts(scenario, report.failure_counts)
    scenario = with_pike_unblocked(scenario, report.pike_unblocked)
    local = time.time()
    # on the same host, this clock is the server's to the fraction of a second it does not
    # print; the simulator's clock then moves with real time from there
    start = local if abs(local - now) < 2 else now
    sim = Simulator(scenario, clock=Clock(start), settings=SimSettings(opensips_version=version))
    try:
        for ident, call in enumerate(calls, 1):
            body = call.body(ident)
            real = await _answer_of_real(up, body)
            reply = await sim.handle_mi(body)
            mine: Any = (
                json.loads(reply.body) if reply.kind == "json" else {"http_status": reply.status}
            )
            report.steps += 1
            report.exercised[call.command] += 1
            a, b = normalise(call.command, real), normalise(call.command, mine)
            if a != b:
                shown = json.dumps(call.params)[:120]
                detail = f"{shown}: real {json.dumps(a)[:300]} | sim {json.dumps(b)[:300]}"
                report.add(call.command, kind_of(real, mine), detail)
    finally:
        report.failure_counts = failure_counts(sim)
        report.pike_unblocked = pike_unblocked(sim)
        await restore(up, scenario)
    report.sequences += 1


def load_expected(
    path: Path = EXPECTED_FILE, version: str = SIM_DEFAULT_VERSION
) -> dict[tuple[str, str], str]:
    """(command, kind) -> reason, from ``expected-differences.toml``: the entries whose
    ``versions`` list ``version`` (an entry without ``versions`` holds for every version)."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text("utf-8"))
    return {
        (d["command"], d["kind"]): d["reason"]
        for d in data.get("difference", [])
        if version in d.get("versions", [version])
    }


def main(argv: list[str] | None = None) -> int:
    """Run the differential check; 0 when every difference is expected."""
    parser = argparse.ArgumentParser(prog="python -m conformance.differential")
    parser.add_argument("--mi-url", default=os.environ.get("OPENSIPS_MI_URL", ""))
    parser.add_argument(
        "--mi-fifo",
        default=os.environ.get("OPENSIPS_MI_FIFO", ""),
        help="the server's mi_fifo FIFO, for the FIFO probes (make lab's OPENSIPS_MI_FIFO)",
    )
    parser.add_argument(
        "--mi-fifo-reply-dir",
        default=os.environ.get("OPENSIPS_MI_FIFO_REPLY_DIR", "/tmp/"),
        help="mi_fifo's reply_dir on the server (default /tmp/, the module's own)",
    )
    parser.add_argument(
        "--mi-datagram",
        default=os.environ.get("OPENSIPS_MI_DATAGRAM", ""),
        help="the server's mi_datagram socket, host:port or /path (OPENSIPS_MI_DATAGRAM)",
    )
    parser.add_argument("--examples", type=int, default=int(os.environ.get("DIFF_EXAMPLES", 40)))
    parser.add_argument("--steps", type=int, default=int(os.environ.get("DIFF_STEPS", 12)))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.mi_url:
        print("differential: set OPENSIPS_MI_URL (e.g. make lab) or --mi-url", file=sys.stderr)
        return 2
    load_all_parts()
    started = time.monotonic()
    report = Report()
    with asyncio.Runner() as runner:
        up = Upstream(args.mi_url)
        version = impersonated_version(runner.run(up.call("version")))
        use_domain = runner.run(probe_use_domain(up))
        which = sorted(str(c) for c in runner.run(up.call("which")))
        names = names_of(version, which)  # 3.x name -> the version's own
        sent_as = {n: w for n, w in names.items() if n != w}
        offered = sorted(names)
        pools = value_pools(runner.run(read_scenario(up)))
        sendable = [c for c in offered if c not in DENY]

        @settings(
            max_examples=args.examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            st.lists(
                call_strategy(sendable, pools, sent_as, version), min_size=1, max_size=args.steps
            )
        )
        def sequences(calls: list[Call]) -> None:
            runner.run(run_sequence(up, calls, report, version, use_domain))

        swept = sweep(sendable, pools, sent_as, version)
        swept += typed_values(sendable, pools, sent_as, version)
        for start in range(0, len(swept), SWEEP_CHUNK):
            runner.run(
                run_sequence(up, swept[start : start + SWEEP_CHUNK], report, version, use_domain)
            )
        sequences()
        runner.run(up.close())
        for probe, detail in runner.run(wire_probes.compare(args.mi_url, version)).items():
            report.add(f"wire: {probe}", "wire", detail)
        if args.mi_fifo or args.mi_datagram:
            streams = stream_probes.compare(
                version, args.mi_fifo or None, args.mi_fifo_reply_dir, args.mi_datagram or None
            )
            for probe, detail in runner.run(streams).items():
                report.add(f"wire: {probe}", "wire", detail)
    known = [n for n in offered if command_info(n, version) is not None]
    new = sorted(sent_as.get(n, n) for n in offered if command_info(n, version) is None)
    expected = load_expected(version=version)
    unexpected = {k: v for k, v in report.differences.items() if k not in expected}
    print(
        f"differential: {args.mi_url} (OpenSIPS {version}) vs a simulator started from its "
        f"snapshot, impersonating {version} (usrloc use_domain: {use_domain})"
    )
    print(
        f"  offered by the server: {len(which)}; a command the simulator knows: "
        f"{len(known)} ({len([n for n in known if n in sent_as])} sent under their {version} "
        f"name); denied: {len([n for n in known if n in DENY])}"
    )
    if len(known) < len(which):
        print(f"  not compared (unknown to the simulator): {', '.join(new)}")
    print(
        f"  commands exercised: {len(report.exercised)}; sequences: {report.sequences}; "
        f"steps: {report.steps}; {time.monotonic() - started:.0f} s"
    )
    print("  exercised: " + ", ".join(f"{c}({n})" for c, n in sorted(report.exercised.items())))
    sent = [f"{len(wire_probes.probes(b'/mi'))} over mi_http"]
    if args.mi_fifo:
        sent.append(f"{len(stream_probes.fifo_probes(args.mi_fifo_reply_dir))} over mi_fifo")
    if args.mi_datagram:
        udp = not args.mi_datagram.startswith("/")
        probes = stream_probes.datagram_probes(version, udp=udp)
        sent.append(f"{len(probes)} over mi_datagram ({'udp' if udp else 'unix'})")
    print(f"  raw wire probes: {', '.join(sent)}")
    never = sorted(set(sendable) & set(known) - set(report.exercised))
    if never:
        print(f"  offered but not drawn this run: {', '.join(never)}")
    by_command: Counter[str] = Counter()
    for (command, _kind), details in report.differences.items():
        by_command[command] += len(details)
    print(f"  differences: {sum(by_command.values())} in {len(report.differences)} (command, kind)")
    for (command, kind), details in sorted(report.differences.items()):
        tag = "expected" if (command, kind) in expected else "UNEXPECTED"
        print(f"  - {tag} {command} [{kind}] x{len(details)}")
        for detail in details[: 2 if tag == "UNEXPECTED" else 0]:
            if detail:
                print(f"      {detail}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
