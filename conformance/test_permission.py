"""Property 1, permission: the gate allows a call iff the caller's role may use its level.

The expected level comes from the suite's oracle (the catalog's data, raised by the setter
names and the design's anchors), and is checked against the simulator's own
classification in its journal. Denied calls leave no trace at the target and exactly one
audit record; viewer calls never change the target's state.

Each example is checked for every role the target allows (all three on the simulator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from conformance.checks import (
    check_permission,
    gated_call,
    journal_level_within_role,
    own_requests,
)
from conformance.harness import Harness, Target
from conformance.oracle import ROLES, expect
from conformance.profiles import scaled
from conformance.strategies import (
    BLOCKS_A_LAB,
    QUIET_FACTS,
    MICall,
    any_call,
    carrier_call,
    get_or_set_call,
    get_or_set_recipes,
    sendable,
)


def check_every_role(harness: Harness, target: Target, call: MICall) -> None:
    """Check ``call`` for each role the target lets the suite use (see the README)."""
    if target.is_external and (not sendable(call) or call.command in BLOCKS_A_LAB):
        return
    control = target.control
    for role in ROLES:
        if not target.allow_writes and (
            role != "viewer" or not expect(call.command, call.params).is_read
        ):
            continue
        if control is not None:
            control.reset()
        check_permission(harness.session(role), control, call)


def _plain_value(name: str) -> Any:
    return {"status": 0, "new_status": 0, "level": 3, "gw_id": "gw1", "carrier_id": "carrier1"}.get(
        name, "1"
    )


def every_get_or_set_recipe(test: Callable[..., None]) -> Callable[..., None]:
    """Add one explicit example per recipe of every get-or-set command."""
    for command, recipe in reversed(get_or_set_recipes()):
        test = example(call=MICall(command, {n: _plain_value(n) for n in recipe}))(test)
    return test


@settings(max_examples=scaled(30))
@given(call=get_or_set_call(QUIET_FACTS))
@every_get_or_set_recipe
def test_every_recipe_of_every_get_or_set_command_is_gated_by_its_level(
    harness: Harness, target: Target, call: MICall
) -> None:
    """Each recipe of each get-or-set command is allowed iff the role may use its level:
    a recipe that sets something is never read."""
    check_every_role(harness, target, call)


@settings(max_examples=scaled(100))
@given(call=any_call(QUIET_FACTS))
@example(call=MICall("t_hash"))  # heavy: refused below admin as too_heavy, nothing sent
def test_a_call_is_allowed_iff_the_role_may_use_its_level(
    harness: Harness, target: Target, call: MICall
) -> None:
    """For any call over the whole catalog, each role is allowed iff its levels include the
    expected level, and a denied call sends nothing and is audited once."""
    check_every_role(harness, target, call)


@settings(max_examples=scaled(40))
@given(call=carrier_call(QUIET_FACTS))
def test_carriers_need_the_higher_of_their_level_and_the_carried_one(
    harness: Harness, target: Target, call: MICall
) -> None:
    """cluster_send_mi / cluster_broadcast_mi carrying any command (or an unknown one) are
    allowed iff the role may use the higher of the carrier's and the carried level."""
    check_every_role(harness, target, call)


@pytest.mark.needs_control("compares the state before and after")
@settings(max_examples=scaled(40))
@given(calls=st.lists(any_call(QUIET_FACTS), min_size=1, max_size=8))
def test_viewer_calls_never_change_the_state(
    harness: Harness, target: Target, calls: list[MICall]
) -> None:
    """Any sequence of viewer calls leaves the simulator's state exactly as it was."""
    control = target.require_control("compares the state before and after")
    control.reset()
    before = control.state()
    mark = control.mark()
    viewer = harness.session("viewer")
    for call in calls:
        outcome = viewer.call("mi_execute", call.arguments())
        note(f"viewer: {call} -> {outcome.code or 'ok'}")
    entries = control.since(mark)
    note(f"the simulator saw: {[(e['method'], e['level']) for e in entries]}")
    journal_level_within_role("viewer", entries)
    assert control.state() == before, "a viewer's calls changed the simulator's state"


@settings(max_examples=scaled(60))
@given(call=st.one_of(any_call(QUIET_FACTS), carrier_call(QUIET_FACTS)))
def test_a_declined_confirmation_sends_nothing(
    harness: Harness, target: Target, call: MICall
) -> None:
    """With --confirm destructive and a user who declines: an admin's destructive or admin
    call (a carried one included) is asked, declined and never sent, and its one audit
    record says ``declined`` with the question; any other call behaves as without
    confirmation."""
    if target.is_external and (not sendable(call) or call.command in BLOCKS_A_LAB):
        return
    exp = expect(call.command, call.params)
    if exp.refusal is not None or not target.allow_writes:
        return
    control = target.control
    if control is not None:
        control.reset()
    session = harness.session("admin", "declining")
    if exp.level not in ("destructive", "admin"):
        check_permission(session, control, call)
        return
    _, outcome, record, entries = gated_call(session, control, call)
    assert outcome.code == "declined", f"expected declined, got {outcome.code or 'success'}"
    assert (record["decision"], record["outcome"]) == ("allow", "declined")
    assert record["confirmation"]["answer"] == "decline"
    assert record["confirmation"]["question"]
    if entries is not None:
        assert own_requests(entries, exp.command) == [], "a declined call reached the target"
        assert all(e["level"] in (None, "read") for e in entries), "only reads may be sent"
