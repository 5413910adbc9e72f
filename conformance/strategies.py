"""Hypothesis strategies built from the catalog: MI calls, roles, fault plans, secrets.

Values are drawn from :class:`Facts` (identifiers the target actually has: dialog IDs,
AORs, gateways, ...) mixed with arbitrary small values, so that generated calls both hit
real objects (and change them) and miss (and get the module's error).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st

from conformance.harness import FAULT_HOLD_SECONDS, ToolOutcome
from conformance.oracle import CARRIERS, NEVER_SEND, expect
from conformance.versions import target_catalog

Params = dict[str, Any] | list[Any] | None


@dataclass(frozen=True)
class MICall:
    """One ``mi_execute`` call: a command and its params (``None``: omitted)."""

    command: str
    params: Params = None

    def arguments(self) -> dict[str, Any]:
        """The ``mi_execute`` tool arguments."""
        args: dict[str, Any] = {"command": self.command}
        if self.params is not None:
            args["params"] = self.params
        return args

    def __str__(self) -> str:
        return f"mi_execute({self.command!r}, {self.params!r})"


@dataclass(frozen=True)
class Facts:
    """Identifiers the target has, read through the MCP server (see :func:`read_facts`)."""

    dialog_ids: tuple[str, ...] = ()
    callids: tuple[str, ...] = ()
    contacts: tuple[tuple[str, str], ...] = ()
    ds_destinations: tuple[tuple[int, str], ...] = ()
    gateways: tuple[str, ...] = ()
    carriers: tuple[str, ...] = ()
    lb_resources: tuple[tuple[int, str], ...] = ()
    profiles: tuple[str, ...] = ()
    shared_vars: tuple[str, ...] = ()
    pike_ips: tuple[str, ...] = ()
    registrants: tuple[tuple[str, str, str], ...] = ()
    """uac_registrant's registrants: (AOR, contact, registrar)."""

    @property
    def aors(self) -> tuple[str, ...]:
        """The registered AORs."""
        return tuple(dict.fromkeys(aor for aor, _ in self.contacts))

    def hints(self) -> dict[str, tuple[Any, ...]]:
        """Plausible values per parameter name."""
        hints: dict[str, tuple[Any, ...]] = {
            "table_name": ("location",),
            "aor": (*self.aors, "dave", "erin@127.0.0.1"),
            "contact": (*(c for _, c in self.contacts), "sip:dave@127.0.0.1:5074"),
            "dialog_id": self.dialog_ids,
            "dlg_id": self.dialog_ids,
            "DID": self.dialog_ids,
            "callid": self.callids,
            "gw_id": self.gateways,
            "carrier_id": self.carriers,
            "destination_id": tuple(i for i, _ in self.lb_resources),
            "res_name": tuple(r for _, r in self.lb_resources),
            "group": tuple(g for g, _ in self.ds_destinations),
            "address": tuple(u for _, u in self.ds_destinations),
            "state": ("a", "i", "p", "x"),
            "status": (0, 1),
            "new_status": (0, 1),
            "level": (1, 2, 3, 4),
            "profile": self.profiles,
            "name": self.shared_vars,
            "ip": self.pike_ips,
            "registrar": tuple(r for _, _, r in self.registrants),
            "partition": ("default",),
            "partition_name": ("Default",),
            "cluster_id": (1,),
            "destination": (2,),
            "statistics": (["core:"], ["dialog:processed_dialogs"], "all"),
            "index": (0, 1),
            "counter": (1, 2),
            "command": ("uptime", "dlg_list"),
            "mi_cmd": ("uptime",),
        }
        return {name: values for name, values in hints.items() if values}


class ReadsMI(Protocol):
    """Anything that runs ``mi_execute`` (an MCP session)."""

    def mi(self, command: str, params: Any = None) -> ToolOutcome: ...


def _result(session: ReadsMI, command: str, params: Any = None) -> Any:
    outcome = session.mi(command, params)
    if outcome.is_error or outcome.structured is None:
        return None
    return outcome.structured.get("result")


def _items(value: Any, key: str) -> list[dict[str, Any]]:
    items = value.get(key) if isinstance(value, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def read_facts(session: ReadsMI) -> Facts:
    """Read the target's identifiers with read commands (empty where a read fails)."""
    dialogs = _items(_result(session, "dlg_list"), "Dialogs")
    contacts = [
        (str(aor["AOR"]), str(c["Contact"]))
        for domain in _items(_result(session, "ul_dump"), "Domains")
        for aor in _items(domain, "AORs")
        for c in _items(aor, "Contacts")
    ]
    ds = [
        (int(s["id"]), str(d["URI"]))
        for part in _items(_result(session, "ds_list"), "PARTITIONS")
        for s in _items(part, "SETS")
        for d in _items(s, "Destinations")
    ]
    lb = [
        (int(d["id"]), str(r["name"]))
        for d in _items(_result(session, "lb_list"), "Destinations")
        for r in _items(d, "Resources")
    ]
    shvs = _result(session, "shv_get")
    shv_items = shvs[0] if isinstance(shvs, list) and shvs and isinstance(shvs[0], list) else []
    pike = _result(session, "pike_list")
    registrants = [
        (str(r["AOR"]), str(r["binding"]), str(r["registrar"]))
        for r in _items(_result(session, "reg_list"), "Records")
        if {"AOR", "binding", "registrar"} <= set(r)
    ]
    return Facts(
        dialog_ids=tuple(str(d["ID"]) for d in dialogs if "ID" in d),
        callids=tuple(str(d["callid"]) for d in dialogs if "callid" in d),
        contacts=tuple(contacts),
        ds_destinations=tuple(ds),
        gateways=tuple(str(g["ID"]) for g in _items(_result(session, "dr_gw_status"), "Gateways")),
        carriers=tuple(
            str(c["ID"]) for c in _items(_result(session, "dr_carrier_status"), "Carriers")
        ),
        lb_resources=tuple(lb),
        profiles=tuple(
            str(p["name"]) for p in _items(_result(session, "list_all_profiles"), "Profiles")
        ),
        shared_vars=tuple(str(v["name"]) for v in shv_items if isinstance(v, dict)),
        pike_ips=tuple(str(ip) for ip in (pike.get("IPs", []) if isinstance(pike, dict) else [])),
        registrants=tuple(registrants),
    )


#: Identifiers of the quiet scenario (the real capture it copies), for strategies that are
#: built before the target is read. Dialog IDs are random per run, so there are none.
QUIET_FACTS = Facts(
    contacts=(
        ("alice", "sip:alice@127.0.0.1:5071"),
        ("bob", "sip:bob@127.0.0.1:5072"),
        ("carol", "sip:carol@127.0.0.1:5073"),
    ),
    ds_destinations=((1, "sip:127.0.0.1:5081"), (1, "sip:127.0.0.1:5082")),
    gateways=("gw1",),
    carriers=("carrier1",),
    lb_resources=((1, "pstn"), (1, "vm"), (2, "pstn")),
    profiles=("inbound", "caller"),
    shared_vars=("gw_mode", "max_calls"),
    pike_ips=("192.0.2.66",),
    registrants=(("sip:trunk@127.0.0.1", "sip:trunk@127.0.0.1:5060", "sip:127.0.0.1:5099"),),
)

_TEXT = st.text(alphabet=string.ascii_letters + string.digits + ".:@-_", max_size=12)
SCALARS: st.SearchStrategy[Any] = st.one_of(st.integers(min_value=0, max_value=9), _TEXT)


def value_for(name: str, facts: Facts) -> st.SearchStrategy[Any]:
    """A value for parameter ``name``: a plausible one most of the time, else arbitrary."""
    hinted = facts.hints().get(name)
    if not hinted:
        return SCALARS
    return st.one_of(st.sampled_from(hinted), st.sampled_from(hinted), SCALARS)


def scalar_text_for(name: str, facts: Facts) -> st.SearchStrategy[str]:
    """A value as a string (carried parameters travel as strings)."""
    return value_for(name, facts).map(lambda v: v if isinstance(v, str) else str(v))


def named_params(names: Sequence[str], facts: Facts) -> st.SearchStrategy[dict[str, Any]]:
    """Params for the recipe ``names``, given by name."""
    return st.fixed_dictionaries({n: value_for(n, facts) for n in names})


def positional_params(names: Sequence[str], facts: Facts) -> st.SearchStrategy[list[Any]]:
    """Params for the recipe ``names``, given by position."""
    return st.tuples(*(value_for(n, facts) for n in names)).map(list)


CATALOG = target_catalog()
COMMANDS: tuple[str, ...] = tuple(CATALOG.names())


def recipes_of(command: str) -> list[tuple[str, ...]]:
    """The parameter-name sets ``command`` accepts."""
    entry = CATALOG.get(command)
    return [tuple(r.params) for r in entry.recipes] if entry is not None else []


def get_or_set_recipes() -> list[tuple[str, tuple[str, ...]]]:
    """Every recipe of every get-or-set command."""
    return [(c, r) for c in get_or_set_commands() for r in recipes_of(c)]


def get_or_set_call(facts: Facts) -> st.SearchStrategy[MICall]:
    """A call of one recipe of a get-or-set command, by name."""
    return st.sampled_from(get_or_set_recipes()).flatmap(
        lambda pair: recipe_call(pair[0], pair[1], facts)
    )


def get_or_set_commands() -> tuple[str, ...]:
    """Commands with both a read recipe and a recipe that changes something."""
    return tuple(
        e.name
        for e in CATALOG.entries()
        if len({r.level.value == "read" for r in e.recipes}) == 2 and e.name not in CARRIERS
    )


def recipe_call(
    command: str, recipe: Sequence[str], facts: Facts, *, positional: bool = False
) -> st.SearchStrategy[MICall]:
    """A call of ``command`` with exactly ``recipe`` (omitted params for the empty recipe)."""
    if not recipe:
        return st.sampled_from([MICall(command, None), MICall(command, {}), MICall(command, [])])
    if positional:
        return positional_params(recipe, facts).map(lambda p: MICall(command, p))
    return named_params(recipe, facts).map(lambda p: MICall(command, p))


@st.composite
def catalog_call(
    draw: st.DrawFn,
    facts: Facts,
    commands: Sequence[str] = COMMANDS,
    *,
    positional: bool = True,
) -> MICall:
    """A call of any command in ``commands`` with one of its recipes, named or positional."""
    command = draw(st.sampled_from(commands))
    if command in CARRIERS:
        return draw(carrier_call(facts, carriers=(command,)))
    recipe = draw(st.sampled_from(recipes_of(command)))
    by_position = positional and bool(recipe) and draw(st.integers(0, 9)) == 0
    return draw(recipe_call(command, recipe, facts, positional=by_position))


UNKNOWN_COMMANDS = ("lcr_reload", "avp_get", "reg_dump", "sl_stats", "no_such_cmd")


@st.composite
def carried(
    draw: st.DrawFn, facts: Facts, commands: Sequence[str] = COMMANDS
) -> tuple[str, list[str] | None]:
    """A command for a carrier to run: its name and positional string params."""
    if draw(st.integers(0, 14)) == 0:
        return draw(st.sampled_from(UNKNOWN_COMMANDS)), None
    name = draw(st.sampled_from([c for c in commands if c not in CARRIERS]))
    recipe = draw(st.sampled_from(recipes_of(name)))
    if not recipe:
        return name, draw(st.sampled_from([None, []]))
    return name, draw(st.tuples(*(scalar_text_for(n, facts) for n in recipe)).map(list))


@st.composite
def carrier_call(
    draw: st.DrawFn,
    facts: Facts,
    carriers: Sequence[str] = tuple(sorted(CARRIERS)),
    commands: Sequence[str] = COMMANDS,
) -> MICall:
    """``cluster_send_mi`` / ``cluster_broadcast_mi`` carrying a generated command."""
    carrier = draw(st.sampled_from(carriers))
    cmd_name, cmd_params = draw(carried(facts, commands))
    params: dict[str, Any] = {"cluster_id": draw(value_for("cluster_id", facts))}
    if carrier == "cluster_send_mi":
        params["destination"] = draw(value_for("destination", facts))
    params["cmd_name"] = cmd_name
    if cmd_params is not None:
        params["cmd_params"] = cmd_params
    return MICall(carrier, params)


@st.composite
def odd_call(draw: st.DrawFn, facts: Facts) -> MICall:
    """A call the catalog cannot resolve: unknown command, or names that match no recipe."""
    if draw(st.booleans()):
        return MICall(draw(st.sampled_from(UNKNOWN_COMMANDS)), None)
    command = draw(st.sampled_from(COMMANDS))
    names = draw(st.sets(st.sampled_from(["bogus", "gw_id", "status", "aor", "x"]), min_size=1))
    return MICall(command, {n: draw(SCALARS) for n in sorted(names)})


def any_call(facts: Facts) -> st.SearchStrategy[MICall]:
    """Calls over the whole catalog, weighted towards get-or-set commands and carriers."""
    return st.one_of(
        catalog_call(facts),
        get_or_set_call(facts),
        carrier_call(facts),
        odd_call(facts),
    )


#: Commands not sent to a real lab, and why (the simulator answers them at once).
BLOCKS_A_LAB: dict[str, str] = {
    "cluster_send_mi": "with the lab's peer node absent, the real 3.6.8 holds its single MI "
    "process about 30 s per call (measured), queueing every other request",
    "cluster_broadcast_mi": "with every peer down, the real 3.6.8 answers after about 30 s "
    "(measured), queueing every other request",
    "t_hash": "65,536 entries (about 2.5 MB): on a loaded 2-core lab it held the single MI "
    "process for minutes (measured), queueing every other request",
}


def sendable(call: MICall) -> bool:
    """False for calls the suite never lets reach a target (they would stop it)."""
    exp = expect(call.command, call.params)
    names = {call.command}
    if exp.carried is not None:
        names.add(exp.carried.command)
    return not names & NEVER_SEND


# --- fault plans ------------------------------------------------------------------------

#: Every fault action of the simulator (``partial`` only fires on bulk commands).
FAULT_ACTIONS = ("http_500", "http_503", "delay", "reset", "truncate", "malformed", "stall")
PARTIAL = "partial"
BULK_COMMANDS = ("profile_end_dlgs", "cluster_broadcast_mi")
WHENS = ("before_apply", "after_apply")


def fault_rule(
    command: str,
    action: str,
    when: str,
    *,
    count: int | None = 1,
    hold: float = FAULT_HOLD_SECONDS,
    **extra: Any,
) -> dict[str, Any]:
    """One fault rule for ``command`` (``hold``: seconds a delay lasts)."""
    rule: dict[str, Any] = {"command": command, "action": action, "when": when, "count": count}
    if action == "delay":
        rule["seconds"] = hold
    rule.update(extra)
    return rule


# --- calls that change the quiet scenario -----------------------------------------------


def write_calls(facts: Facts) -> dict[str, list[MICall]]:
    """For each write-level command the simulator implements: calls that apply to the
    scenario (real identifiers) and, where cheap, one that misses (the module's error)."""
    dialog = facts.dialog_ids[0] if facts.dialog_ids else "1.1"
    aor, contact = facts.contacts[0] if facts.contacts else ("alice", "sip:alice@127.0.0.1")
    group, uri = facts.ds_destinations[0] if facts.ds_destinations else (1, "sip:127.0.0.1")
    gw = facts.gateways[0] if facts.gateways else "gw1"
    carrier = facts.carriers[0] if facts.carriers else "carrier1"
    lb_id, resource = facts.lb_resources[0] if facts.lb_resources else (1, "pstn")
    profile = facts.profiles[0] if facts.profiles else "inbound"
    shv = facts.shared_vars[0] if facts.shared_vars else "gw_mode"
    ip = facts.pike_ips[0] if facts.pike_ips else "192.0.2.66"
    reg_aor, reg_contact, registrar = (
        facts.registrants[0] if facts.registrants else QUIET_FACTS.registrants[0]
    )
    reg = {"aor": reg_aor, "contact": reg_contact, "registrar": registrar}
    reg_missing = reg | {"registrar": "sip:127.0.0.1:1"}
    calls: dict[str, list[MICall]] = {
        "address_reload": [MICall("address_reload"), MICall("address_reload", {"partition": "x"})],
        "cluster_broadcast_mi": [
            MICall(
                "cluster_broadcast_mi",
                {"cluster_id": 1, "cmd_name": "shv_set", "cmd_params": [shv, "s", "x"]},
            )
        ],
        "cluster_send_mi": [
            MICall(
                "cluster_send_mi",
                {
                    "cluster_id": 1,
                    "destination": 2,
                    "cmd_name": "ds_set_state",
                    "cmd_params": ["i", str(group), uri],
                },
            )
        ],
        "clusterer_set_status": [MICall("clusterer_set_status", {"cluster_id": 1, "status": 0})],
        "clusterer_shtag_set_active": [MICall("clusterer_shtag_set_active", {"tag": "vip/1"})],
        "dlg_end_dlg": [
            MICall("dlg_end_dlg", {"dialog_id": dialog}),
            MICall("dlg_end_dlg", {"dialog_id": "1.2"}),
        ],
        "dlg_push_var": [
            MICall("dlg_push_var", {"dlg_val_name": "v", "dlg_val_value": "1", "DID": dialog})
        ],
        "dlg_set_profile": [
            MICall("dlg_set_profile", {"dlg_id": dialog, "profile": profile, "value": "x"})
        ],
        "dlg_unset_profile": [MICall("dlg_unset_profile", {"dlg_id": dialog, "profile": profile})],
        "dr_carrier_status": [MICall("dr_carrier_status", {"carrier_id": carrier, "status": 0})],
        "dr_gw_status": [
            MICall("dr_gw_status", {"gw_id": gw, "status": 0}),
            MICall("dr_gw_status", {"gw_id": "nope", "status": 1}),
        ],
        "dp_reload": [MICall("dp_reload")],
        "dr_reload": [MICall("dr_reload")],
        "ds_reload": [MICall("ds_reload")],
        "ds_set_state": [
            MICall("ds_set_state", {"state": "i", "group": group, "address": uri}),
            MICall("ds_set_state", {"state": "x", "group": group, "address": uri}),
        ],
        "lb_reload": [MICall("lb_reload")],
        "lb_resize": [
            MICall(
                "lb_resize",
                {"destination_id": lb_id, "res_name": resource, "new_capacity": 3},
            )
        ],
        "lb_status": [MICall("lb_status", {"destination_id": lb_id, "new_status": 0})],
        "log_level": [MICall("log_level", {"level": 4})],
        "pike_rm": [MICall("pike_rm", {"ip": ip})],
        "profile_end_dlgs": [MICall("profile_end_dlgs", {"profile": profile})],
        "reset_all_statistics": [MICall("reset_all_statistics")],
        "reset_statistics": [
            MICall("reset_statistics", {"statistics": ["dialog:processed_dialogs"]})
        ],
        "shv_set": [MICall("shv_set", {"name": shv, "type": "s", "value": "backup"})],
        "t_uac_cancel": [MICall("t_uac_cancel", {"callid": "none@x", "cseq": "1"})],
        "trace_stop": [MICall("trace_stop", {"id": "none"})],
        "ul_add": [
            MICall(
                "ul_add",
                {
                    "table_name": "location",
                    "aor": "dave",
                    "contact": "sip:dave@127.0.0.1:5074",
                    "expires": 3600,
                    "q": "1",
                    "flags": 0,
                    "cflags": 0,
                    "methods": 4294967295,
                },
            )
        ],
        "ul_flush": [MICall("ul_flush")],
        "ul_rm": [MICall("ul_rm", {"table_name": "location", "aor": aor})],
        "ul_rm_contact": [
            MICall("ul_rm_contact", {"table_name": "location", "aor": aor, "contact": contact})
        ],
        "xlog_level": [MICall("xlog_level", {"level": 2})],
        # 4.0: a level for every process; an address no connection has (closes nothing)
        "core:profiling_proc": [MICall("core:profiling_proc", {"level": 1})],
        "tcp:close": [MICall("tcp:close", {"ipport": "127.0.0.1:1"})],
        # uac_registrant: the target's registrant, and one it does not have (404)
        "reg_disable": [MICall("reg_disable", reg), MICall("reg_disable", reg_missing)],
        "reg_enable": [MICall("reg_enable", reg), MICall("reg_enable", reg_missing)],
        "reg_force_register": [MICall("reg_force_register", reg)],
        "reg_reload": [MICall("reg_reload"), MICall("reg_reload", reg_missing)],
        "uac_registrant:upsert": [
            MICall(
                "uac_registrant:upsert",
                {
                    "aor": "sip:new@127.0.0.1",
                    "contact": "sip:new@127.0.0.1:5060",
                    "registrar": "sip:127.0.0.1:1",
                    "proxy": "",
                    "third_party_registrant": "",
                    "username": "u",
                    "password": "p",
                    "binding_params": "",
                    "expiry": 120,
                    "forced_socket": "",
                    "cluster_shtag": "",
                    "state": 1,
                },
            )
        ],
        "uac_registrant:delete": [
            MICall("uac_registrant:delete", reg_missing),
        ],
    }
    # Only what the target's OpenSIPS version has (3.4 lacks dlg_set_profile, ...).
    return {name: c for name, c in calls.items() if CATALOG.get(name) is not None}


def read_calls(facts: Facts) -> list[MICall]:
    """Read calls of commands the simulator implements, with real identifiers."""
    gw = facts.gateways[0] if facts.gateways else "gw1"
    aor = facts.aors[0] if facts.aors else "alice"
    profile = facts.profiles[0] if facts.profiles else "inbound"
    return [
        MICall("uptime"),
        MICall("version"),
        MICall("ps"),
        MICall("dlg_list"),
        MICall("dlg_list", {"index": 0, "counter": 2}),
        MICall("ul_dump"),
        MICall("ul_show_contact", {"table_name": "location", "aor": aor}),
        MICall("ds_list"),
        MICall("dr_gw_status"),
        MICall("dr_gw_status", {"gw_id": gw}),
        MICall("dr_carrier_status"),
        MICall("lb_list"),
        MICall("lb_status", {"destination_id": 1}),
        MICall("get_statistics", {"statistics": ["dialog:"]}),
        MICall("profile_get_size", {"profile": profile}),
        MICall("pike_list"),
        MICall("shv_get"),
        MICall("clusterer_list"),
        MICall("address_dump"),
        MICall("log_level"),
    ]


# --- secrets for the audit property -----------------------------------------------------

SECRET_NAME_PARTS = ("password", "passwd", "secret", "token", "auth", "key", "ha1")
secret_values: st.SearchStrategy[str] = st.text(
    alphabet="0123456789abcdef", min_size=20, max_size=24
).map(lambda s: "Zq" + s)
secret_names: st.SearchStrategy[str] = st.builds(
    lambda prefix, part, suffix: prefix + part + suffix,
    st.sampled_from(["", "db_", "x-", "my"]),
    st.sampled_from([*SECRET_NAME_PARTS, "Password", "API_KEY", "Auth"]),
    st.sampled_from(["", "_1", "word", "s"]),
)


def secret_recipes() -> list[tuple[str, tuple[str, ...]]]:
    """Catalog recipes with a parameter whose name marks a secret."""
    found = []
    for entry in CATALOG.entries():
        for recipe in entry.recipes:
            if any(p in n.lower() for n in recipe.params for p in SECRET_NAME_PARTS):
                found.append((entry.name, tuple(recipe.params)))
    return found


@st.composite
def call_with_secrets(draw: st.DrawFn, facts: Facts) -> tuple[MICall, list[str]]:
    """A call carrying secret values under secret names, and the values (to look for)."""
    secrets: list[str] = []

    def secret() -> str:
        value = draw(secret_values)
        secrets.append(value)
        return value

    kind = draw(st.sampled_from(["recipe", "positional", "extra", "nested", "carried"]))
    candidates = secret_recipes()
    if kind in ("recipe", "positional", "carried") and candidates:
        command, recipe = draw(st.sampled_from(candidates))
        secret_positions = {n for n in recipe if any(p in n.lower() for p in SECRET_NAME_PARTS)}
        named = {
            n: (secret() if n in secret_positions else draw(value_for(n, facts))) for n in recipe
        }
        if kind == "recipe":
            return MICall(command, named), secrets
        values = [named[n] if isinstance(named[n], str) else str(named[n]) for n in recipe]
        if kind == "positional":
            return MICall(command, values), secrets
        return (
            MICall(
                "cluster_send_mi",
                {"cluster_id": 1, "destination": 2, "cmd_name": command, "cmd_params": values},
            ),
            secrets,
        )
    base = draw(catalog_call(facts, positional=False))
    params: dict[str, Any] = dict(base.params) if isinstance(base.params, dict) else {}
    if kind == "extra":
        params[draw(secret_names)] = secret()
    else:
        params["options"] = {draw(secret_names): secret(), "note": "plain"}
    return MICall(base.command, params), secrets
