"""Property 4, stateful model: tool calls against the simulator and against a plain model
agree after every read that settles them, with faults switched on and off at random.

The model keeps, for every object it knows (a registered contact, a dialog, a dispatcher
destination, a gateway), the set of values it may have. A write that succeeded sets one
value; a write the target refused leaves it; a write with any other outcome (unknown,
timeout, unusable answer) may or may not have happened, so the new value joins the old
ones, as Jepsen treats indeterminate operations. A successful read must show one of the
possible values, and settles the object to it.

Writes go through ``mi_execute`` as admin, with the short timeouts of the fault profile.
Fault rules only hit writes (by command or by level) and only lose answers at once
(no ``delay``: a delayed write would apply after the read that settles it).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conformance.harness import Harness, McpSession, SimControl, Target, ToolOutcome
from conformance.profiles import scaled, scaled_steps
from conformance.strategies import WHENS, Facts, fault_rule

Key = tuple[Any, ...]

AORS = ("alice", "bob", "carol", "dave", "erin")
PORTS = (5071, 5072, 5073, 5090)
DS_STATES = {"a": "active", "i": "inactive", "p": "probing"}
#: ``ds_set_state p`` (dispatch.c ``_ds_set_state``): an active destination counts a failure
#: and turns probing only at ``probing_threshold``; on an inactive one nothing is set
#: probing and the Inactive flag is cleared.
PROBE_MOVES = {
    "active": frozenset({"active", "probing"}),
    "probing": frozenset({"probing"}),
    "inactive": frozenset({"active"}),
}
#: Faults that lose the answer at once (before or after the write is applied).
QUICK_FAULTS = ("http_500", "http_503", "reset", "truncate", "malformed")
WRITE_COMMANDS = ("ul_add", "ul_rm", "ul_rm_contact", "dlg_end_dlg", "ds_set_state", "dr_gw_status")


def contact_uri(aor: str, port: int) -> str:
    """The contact URI the machine registers for ``aor``."""
    return f"sip:{aor}@127.0.0.1:{port}"


def _result(outcome: ToolOutcome) -> Any:
    assert outcome.structured is not None, outcome.text
    return outcome.structured["result"]


def registrations(result: Any) -> set[tuple[str, str]]:
    """(AOR, contact) pairs in a ``ul_dump`` answer."""
    return {
        (str(aor["AOR"]), str(c["Contact"]))
        for domain in result.get("Domains", [])
        for aor in domain.get("AORs", [])
        for c in aor.get("Contacts", [])
    }


def dispatcher_states(result: Any) -> dict[tuple[int, str], str]:
    """(set, URI) -> state in a ``ds_list`` answer, lower-cased."""
    return {
        (int(s["id"]), str(d["URI"])): str(d["state"]).lower()
        for part in result.get("PARTITIONS", [])
        for s in part.get("SETS", [])
        for d in s.get("Destinations", [])
    }


class Model:
    """Object key -> the values it may have (a single value once settled)."""

    def __init__(self) -> None:
        self.possible: dict[Key, frozenset[Any]] = {}

    def settle(self, key: Key, value: Any) -> None:
        """A read showed ``value``: it must be possible; it is now the only value."""
        possible = self.possible.get(key)
        assert possible is not None, f"the simulator shows {key} = {value!r}, unknown to the model"
        assert value in possible, f"{key} is {value!r}; the model allows only {set(possible)}"
        self.possible[key] = frozenset({value})

    def write(self, key: Key, value: Any, outcome: ToolOutcome) -> None:
        """Apply a write's effect on ``key`` according to its outcome."""
        old = self.possible.get(key, frozenset({_ABSENT}))
        if not outcome.is_error:
            self.possible[key] = frozenset({value})
        elif outcome.code == "opensips_error":
            self.possible[key] = old
        else:
            self.possible[key] = old | {value}

    def write_moves(self, key: Key, moves: dict[Any, frozenset[Any]], outcome: ToolOutcome) -> None:
        """A write whose effect depends on the value it finds (``moves``: old value -> the
        values it may lead to); applied as :meth:`write` treats outcomes."""
        old = self.possible.get(key, frozenset({_ABSENT}))
        new = frozenset().union(*(moves.get(v, frozenset({v})) for v in old))
        if not outcome.is_error:
            self.possible[key] = new
        elif outcome.code == "opensips_error":
            self.possible[key] = old
        else:
            self.possible[key] = old | new

    def keys(self, kind: str) -> list[Key]:
        """Every key of one kind (``reg``, ``dlg``, ``ds``, ``gw``)."""
        return [k for k in self.possible if k[0] == kind]

    def unsettled(self) -> int:
        """How many objects the model is unsure about."""
        return sum(1 for v in self.possible.values() if len(v) > 1)


_ABSENT = False


def initial_model(session: McpSession, facts: Facts) -> Model:
    """The model of the scenario's state, read once (every run starts from a reset)."""
    model = Model()
    for aor in AORS:
        for port in PORTS:
            model.possible[("reg", aor, contact_uri(aor, port))] = frozenset({False})
    for aor, contact in facts.contacts:
        model.possible[("reg", aor, contact)] = frozenset({True})
    listed = _result(session.mi("dlg_list")).get("Dialogs", [])
    present = {str(d["ID"]) for d in listed if int(d.get("state", 0)) < 5}
    for dialog in facts.dialog_ids:
        # a reset of a real server cannot bring back a call an earlier run ended
        model.possible[("dlg", dialog)] = frozenset({dialog in present})
    listing = session.mi("ds_list")
    for key, state in dispatcher_states(_result(listing)).items():
        model.possible[("ds", *key)] = frozenset({state})
    for gw in facts.gateways:
        shown = _result(session.mi("dr_gw_status", {"gw_id": gw}))
        model.possible[("gw", gw)] = frozenset({shown.get("State") == "Active"})
    return model


def make_machine(
    harness: Harness, control: SimControl, facts: Facts
) -> type[RuleBasedStateMachine]:
    """The state machine class, bound to the harness (hypothesis builds one per run)."""
    control.reset()
    initial = initial_model(harness.session("admin", "faults"), facts)

    class OpenSIPSMachine(RuleBasedStateMachine):
        """Registrations, dialogs, dispatcher and gateways, with faults on and off."""

        def __init__(self) -> None:
            super().__init__()
            self.session: McpSession = harness.session("admin", "faults")
            self.model = Model()
            self.dialogs = list(facts.dialog_ids)
            self.destinations = list(facts.ds_destinations)
            self.gateways = list(facts.gateways)
            self.faults_on = False

        # --- helpers ------------------------------------------------------------------

        def mi(self, command: str, params: Any = None) -> ToolOutcome:
            outcome = self.session.mi(command, params)
            note(f"mi_execute({command!r}, {params!r}) -> {outcome.code or 'ok'}")
            return outcome

        # --- start --------------------------------------------------------------------

        @initialize()
        def start_from_the_scenario(self) -> None:
            control.reset()
            if harness.target.is_external:  # what the reset could put back, read again
                self.model.possible = dict(initial_model(self.session, facts).possible)
            else:
                self.model.possible = dict(initial.possible)

        # --- writes -------------------------------------------------------------------

        @rule(aor=st.sampled_from(AORS), port=st.sampled_from(PORTS))
        def register(self, aor: str, port: int) -> None:
            contact = contact_uri(aor, port)
            params = {
                "table_name": "location",
                "aor": aor,
                "contact": contact,
                "expires": 3600,
                "q": "1",
                "flags": 0,
                "cflags": 0,
                "methods": 4294967295,
            }
            self.model.write(("reg", aor, contact), True, self.mi("ul_add", params))

        @rule(aor=st.sampled_from(AORS))
        def unregister(self, aor: str) -> None:
            outcome = self.mi("ul_rm", {"table_name": "location", "aor": aor})
            for key in self.model.keys("reg"):
                if key[1] == aor:
                    self.model.write(key, False, outcome)

        @rule(aor=st.sampled_from(AORS), port=st.sampled_from(PORTS))
        def unregister_contact(self, aor: str, port: int) -> None:
            contact = contact_uri(aor, port)
            params = {"table_name": "location", "aor": aor, "contact": contact}
            self.model.write(("reg", aor, contact), False, self.mi("ul_rm_contact", params))

        @precondition(lambda self: bool(self.dialogs))
        @rule(index=st.integers(min_value=0))
        def end_dialog(self, index: int) -> None:
            dialog = self.dialogs[index % len(self.dialogs)]
            outcome = self.mi("dlg_end_dlg", {"dialog_id": dialog})
            self.model.write(("dlg", dialog), False, outcome)

        @precondition(lambda self: bool(self.destinations))
        @rule(index=st.integers(min_value=0), state=st.sampled_from([*DS_STATES, "x"]))
        def set_dispatcher_state(self, index: int, state: str) -> None:
            group, uri = self.destinations[index % len(self.destinations)]
            outcome = self.mi("ds_set_state", {"state": state, "group": group, "address": uri})
            if state == "p":
                self.model.write_moves(("ds", group, uri), PROBE_MOVES, outcome)
            elif state in DS_STATES:
                self.model.write(("ds", group, uri), DS_STATES[state], outcome)
            else:
                assert outcome.is_error, "a bad dispatcher state was accepted"

        @precondition(lambda self: bool(self.gateways))
        @rule(index=st.integers(min_value=0), status=st.sampled_from([0, 1, 2]))
        def set_gateway_status(self, index: int, status: int) -> None:
            gw = self.gateways[index % len(self.gateways)]
            outcome = self.mi("dr_gw_status", {"gw_id": gw, "status": status})
            self.model.write(("gw", gw), status != 0, outcome)

        # --- faults -------------------------------------------------------------------

        @rule(
            match=st.one_of(
                st.sampled_from(WRITE_COMMANDS).map(lambda c: {"command": c}),
                st.sampled_from([["write", "destructive"], "write", "destructive"]).map(
                    lambda lv: {"level": lv}
                ),
            ),
            action=st.sampled_from(QUICK_FAULTS),
            when=st.sampled_from(WHENS),
            count=st.sampled_from([1, 2, None]),
        )
        def faults_on_writes(
            self, match: dict[str, Any], action: str, when: str, count: int | None
        ) -> None:
            rule_json = fault_rule(match.get("command", "*"), action, when, count=count)
            if "level" in match:
                rule_json["level"] = match["level"]
            control.add_faults([rule_json])
            note(f"fault on: {rule_json}")
            self.faults_on = True

        @precondition(lambda self: self.faults_on)
        @rule()
        def faults_off(self) -> None:
            control.clear_faults()
            note("faults off")
            self.faults_on = False

        # --- reads settle -------------------------------------------------------------

        @rule(what=st.sampled_from(["registrations", "dialogs", "dispatcher", "gateway"]))
        def read(self, what: str) -> None:
            """A read of one kind of object, which settles it."""
            if what == "registrations":
                self.read_registrations()
            elif what == "dialogs":
                self.read_dialogs()
            elif what == "dispatcher":
                self.read_dispatcher()
            else:
                for index in range(len(self.gateways)):
                    self.read_gateway_index(index)

        def read_registrations(self) -> None:
            outcome = self.mi("ul_dump")
            if outcome.is_error:
                return
            seen = registrations(_result(outcome))
            for aor, contact in seen:
                assert ("reg", aor, contact) in self.model.possible, (
                    f"{aor} has a contact {contact} nobody registered"
                )
            for key in self.model.keys("reg"):
                self.model.settle(key, (key[1], key[2]) in seen)

        def read_dialogs(self) -> None:
            outcome = self.mi("dlg_list")
            if outcome.is_error:
                return
            # An ended dialog stays listed in state 5 until its BYE transactions end.
            listed = _result(outcome).get("Dialogs", [])
            seen = {str(d["ID"]) for d in listed if int(d.get("state", 0)) < 5}
            assert seen <= set(self.dialogs), f"unexpected dialogs {seen - set(self.dialogs)}"
            for key in self.model.keys("dlg"):
                self.model.settle(key, key[1] in seen)

        def read_dispatcher(self) -> None:
            outcome = self.mi("ds_list")
            if outcome.is_error:
                return
            seen = dispatcher_states(_result(outcome))
            for (group, uri), state in seen.items():
                self.model.settle(("ds", group, uri), state)

        def read_gateway_index(self, index: int) -> None:
            gw = self.gateways[index % len(self.gateways)]
            outcome = self.mi("dr_gw_status", {"gw_id": gw})
            if outcome.is_error:
                return
            self.model.settle(("gw", gw), _result(outcome).get("State") == "Active")

        def teardown(self) -> None:
            note(f"objects still unsettled before the last reads: {self.model.unsettled()}")
            if self.faults_on:
                control.clear_faults()
            self.read_registrations()
            self.read_dialogs()
            self.read_dispatcher()
            for index in range(len(self.gateways)):
                self.read_gateway_index(index)
            assert self.model.unsettled() == 0, "a read failed with the faults off"

    return OpenSIPSMachine


#: A failing run replays many shortened sequences to shrink them: give it time to report.
@pytest.mark.needs_control("resets the state and switches faults")
@pytest.mark.needs_writes("changes registrations, dialogs, dispatcher and gateways")
@pytest.mark.timeout(600)
def test_tool_calls_and_the_reference_model_agree_after_every_read(
    harness: Harness, target: Target, facts: Facts
) -> None:
    """Any sequence of registrations, unregistrations, ended dialogs, dispatcher and gateway
    changes, with faults on and off, leaves the simulator in a state the model allows."""
    control = target.require_control("resets the state and switches faults")
    machine = make_machine(harness, control, facts)
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=scaled(20), stateful_step_count=scaled_steps(30)),
    )
