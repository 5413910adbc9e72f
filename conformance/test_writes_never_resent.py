"""Property 2, writes are never re-sent: whatever goes wrong after a write left, the server
sends it at most once, and never reports success for an answer it did not get.

Fault rules are data at the simulator (``POST /sim/faults``); the journal says which rule
fired on which request, so each call is judged by what actually happened to it:

* ``after_apply`` (applied, answer lost) -> ``outcome_unknown``, audited ``unknown``;
* ``before_apply`` (not applied, no answer) -> a failure (``unknown`` or ``error``);
* ``partial`` (bulk commands: some targets applied, then an error) -> never success;
  ``unknown`` when no answer came back;
* in every case: one request at most, and ``mi_attempts`` in the audit equals the requests
  the simulator received.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from conformance.checks import gated_call, own_requests, say
from conformance.harness import Harness, McpSession, SimControl, Target
from conformance.profiles import scaled
from conformance.strategies import (
    BULK_COMMANDS,
    CATALOG,
    FAULT_ACTIONS,
    PARTIAL,
    WHENS,
    Facts,
    MICall,
    fault_rule,
    write_calls,
)

ADMIN = "admin"


def check_write(session: McpSession, control: SimControl, call: MICall) -> bool:
    """Make one write call under the active fault rules and judge it (module docstring);
    answers whether a fault fired on it."""
    exp, outcome, record, entries = gated_call(session, control, call)
    assert exp.level not in (None, "read"), f"{call} is not a write"
    assert entries is not None
    sent = own_requests(entries, exp.command)
    assert len(sent) <= 1, f"a write reached the target {len(sent)} times"
    assert record["mi_attempts"] == len(entries), "audited attempts differ from requests received"
    assert (outcome.code == "outcome_unknown") == (record["outcome"] == "unknown")
    assert (not outcome.is_error) == (record["outcome"] == "ok")
    fault = sent[0]["fault"] if sent else None
    if fault is None:
        return False
    say(f"fault fired: {fault}; applied={sent[0]['applied']} partial={sent[0]['partial']}")
    assert outcome.is_error, f"a {fault['action']} fault ({fault['when']}) was reported as success"
    if fault["action"] == PARTIAL:
        if sent[0]["outcome"] != "answered":
            assert outcome.code == "outcome_unknown"
        return True
    if fault["when"] == "after_apply":
        assert outcome.code == "outcome_unknown", (
            f"an answer lost after the write was applied must be outcome_unknown, "
            f"got {outcome.code}"
        )
    else:
        assert record["outcome"] in ("unknown", "error")
    return True


def _run_faulted(harness: Harness, target: Target, call: MICall, rule: dict[str, Any]) -> None:
    """Reset, add ``rule``, make ``call``, and check the rule fired on it."""
    control = target.require_control("injects faults and counts requests in the journal")
    control.reset()
    note(f"fault rule: {rule}")
    control.add_faults([rule])
    assert check_write(harness.session(ADMIN, "faults"), control, call), "the fault never fired"


@pytest.fixture(scope="module")
def writes(facts: Facts) -> dict[str, list[MICall]]:
    """Write calls per command, with the target's identifiers."""
    return write_calls(facts)


WRITES_NEED = "injects faults and counts requests in the journal"
WRITE_COMMANDS = sorted(write_calls(Facts()))
#: Actions that lose the answer at once; ``delay`` and ``stall`` cost a read timeout each.
QUICK_ACTIONS = tuple(a for a in FAULT_ACTIONS if a not in ("delay", "stall"))
SLOW_ACTIONS = ("delay", "stall")


def every_quick_fault_on_every_write(test: Callable[..., None]) -> Callable[..., None]:
    """Explicit examples: every write command x every quick action x both moments, and
    ``partial`` on both bulk commands."""
    grid = [(c, a, w) for c in WRITE_COMMANDS for a in QUICK_ACTIONS for w in WHENS]
    grid += [(c, PARTIAL, w) for c in BULK_COMMANDS for w in WHENS]
    for command, action, when in reversed(grid):
        test = example(command=command, action=action, when=when)(test)
    return test


@pytest.mark.needs_control(WRITES_NEED)
@pytest.mark.needs_writes("sends writes")
@settings(max_examples=scaled(10))
@given(
    command=st.sampled_from(WRITE_COMMANDS),
    action=st.sampled_from((*QUICK_ACTIONS, PARTIAL)),
    when=st.sampled_from(WHENS),
)
@every_quick_fault_on_every_write
def test_a_write_is_sent_at_most_once_and_a_lost_answer_is_unknown(
    harness: Harness,
    target: Target,
    writes: dict[str, list[MICall]],
    command: str,
    action: str,
    when: str,
) -> None:
    """Every write command under every fault action, before or after apply, reaches the
    simulator at most once, and an answer lost after apply is outcome_unknown."""
    if action == PARTIAL and target.is_external:
        note(
            "partial: a real server cannot be made to apply part of a command (the proxy "
            "never fires such a rule); the other actions cover this command"
        )
        return
    if action == PARTIAL and command not in BULK_COMMANDS:
        command = BULK_COMMANDS[0]
    for call in writes[command]:
        _run_faulted(harness, target, call, fault_rule(command, action, when))


def both_slow_faults_on_one_write(test: Callable[..., None]) -> Callable[..., None]:
    """Explicit examples: ``delay`` and ``stall``, before and after apply, on ds_set_state."""
    for action in reversed(SLOW_ACTIONS):
        for when in reversed(WHENS):
            test = example(command="ds_set_state", action=action, when=when)(test)
    return test


@pytest.mark.needs_control(WRITES_NEED)
@pytest.mark.needs_writes("sends writes")
@settings(max_examples=scaled(6))
@given(
    command=st.sampled_from(WRITE_COMMANDS),
    action=st.sampled_from(SLOW_ACTIONS),
    when=st.sampled_from(WHENS),
)
@both_slow_faults_on_one_write
def test_a_write_whose_answer_times_out_is_not_resent(
    harness: Harness,
    target: Target,
    writes: dict[str, list[MICall]],
    command: str,
    action: str,
    when: str,
) -> None:
    """A write whose answer is held back past the read timeout (delayed or stalled, before
    or after apply) reaches the simulator once and is never reported as a success."""
    for call in writes[command]:
        _run_faulted(harness, target, call, fault_rule(command, action, when))


@st.composite
def fault_mix(draw: st.DrawFn, commands: list[str]) -> list[dict[str, Any]]:
    """One to three rules: by command or by level, any action, moment, count, probability."""
    rules = []
    for _ in range(draw(st.integers(1, 3))):
        target: dict[str, Any] = draw(
            st.one_of(
                st.sampled_from(commands).map(lambda c: {"command": c}),
                st.sampled_from(["write", "destructive", "admin"]).map(lambda lv: {"level": lv}),
            )
        )
        action = draw(st.sampled_from(QUICK_ACTIONS))
        rule = fault_rule(
            target.get("command", "*"),
            action,
            draw(st.sampled_from(WHENS)),
            count=draw(st.sampled_from([1, 2, None])),
            probability=draw(st.sampled_from([1.0, 0.5])),
        )
        if "level" in target:
            rule["level"] = target["level"]
        rules.append(rule)
    return rules


@pytest.mark.needs_control(WRITES_NEED)
@pytest.mark.needs_writes("sends writes")
@settings(max_examples=scaled(15))
@given(data=st.data())
def test_writes_under_random_fault_mixes_are_each_sent_at_most_once(
    harness: Harness, target: Target, writes: dict[str, list[MICall]], data: st.DataObject
) -> None:
    """Under any mix of fault rules, each write of a sequence reaches the simulator at most
    once, and none whose answer was lost is reported as a success."""
    control = target.require_control("injects faults and counts requests in the journal")
    commands = sorted(writes)
    rules = data.draw(fault_mix(commands), label="rules")
    sequence = data.draw(
        st.lists(st.sampled_from(commands), min_size=1, max_size=5), label="commands"
    )
    control.reset()
    control.add_faults(rules)
    session = harness.session(ADMIN, "faults")
    for command in sequence:
        check_write(session, control, data.draw(st.sampled_from(writes[command])))


def test_the_fault_grid_covers_every_write_command_the_simulator_implements(
    target: Target,
) -> None:
    """The write table (``strategies.write_calls``) has a call for every command the
    in-process simulator implements with a recipe that changes something (whatever the
    target: this asks the simulator package, not the target)."""
    from opensips_sim.params import Params as SimParams
    from opensips_sim.registry import load_all_handlers

    implemented = set()
    for name, implementation in load_all_handlers().items():
        entry = CATALOG.get(name)
        if entry is None and CATALOG.lookup(name) is not None:
            continue  # the target's OpenSIPS version lacks it (3.4: dlg_set_profile, ...)
        recipes = [tuple(r.params) for r in entry.recipes] if entry is not None else [()]
        for recipe in recipes:
            if implementation.level_for(SimParams({n: "1" for n in recipe})) != "read":
                implemented.add(name)
    assert implemented - set(WRITE_COMMANDS) == set()
