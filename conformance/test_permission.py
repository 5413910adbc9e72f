"""Property 1, permission: the gate allows a call iff the caller's role may use its level.

The expected level comes from the suite's oracle (the catalog's data, raised by the setter
names and the design's anchors), and is checked against the simulator's own
classification in its journal. Denied calls leave no trace at the target and exactly one
audit record; viewer calls never change the target's state.
"""

from __future__ import annotations

from hypothesis import given, note, settings
from hypothesis import strategies as st

from conformance.checks import check_permission, journal_level_within_role
from conformance.harness import Harness, Target
from conformance.oracle import ROLE_LEVELS, expect
from conformance.profiles import scaled
from conformance.strategies import (
    Facts,
    MICall,
    any_call,
    carrier_call,
    get_or_set_commands,
    read_only_call,
    recipes_of,
    roles,
    sendable,
)


def _safe_roles(target: Target) -> st.SearchStrategy[str]:
    return roles if target.allow_writes else st.just("viewer")


def _calls_for(target: Target, facts: Facts) -> st.SearchStrategy[MICall]:
    if target.allow_writes:
        calls = any_call(facts)
        return calls.filter(sendable) if target.is_external else calls
    return read_only_call(facts)


@settings(max_examples=scaled(150))
@given(data=st.data())
def test_a_call_is_allowed_iff_the_role_may_use_its_level(
    harness: Harness, target: Target, facts: Facts, data: st.DataObject
) -> None:
    """For any role and any call over the whole catalog, the call is allowed iff the role's
    levels include the expected level, and a denied call sends nothing and is audited once."""
    control = target.control
    if control is not None:
        control.reset()
    role = data.draw(_safe_roles(target), label="role")
    call = data.draw(_calls_for(target, facts), label="call")
    check_permission(harness.session(role), control, call)


@settings(max_examples=scaled(60))
@given(data=st.data())
def test_carriers_need_the_higher_of_their_level_and_the_carried_one(
    harness: Harness, target: Target, facts: Facts, data: st.DataObject
) -> None:
    """cluster_send_mi / cluster_broadcast_mi carrying any command (or an unknown one) are
    allowed iff the role may use the higher of the carrier's and the carried level."""
    target.require_writes("carriers run commands on cluster peers")
    control = target.control
    if control is not None:
        control.reset()
    role = data.draw(roles, label="role")
    call = data.draw(carrier_call(facts).filter(sendable), label="call")
    check_permission(harness.session(role), control, call)


def _get_or_set_cases() -> list[tuple[str, MICall]]:
    cases = []
    for command in get_or_set_commands():
        for recipe in recipes_of(command):
            params = {name: _plain_value(name) for name in recipe}
            for role in ROLE_LEVELS:
                cases.append((role, MICall(command, params)))
    return cases


def _plain_value(name: str) -> object:
    return {"status": 0, "new_status": 0, "level": 3, "gw_id": "gw1"}.get(name, "1")


def test_every_recipe_of_every_get_or_set_command_is_gated_by_its_level(
    harness: Harness, target: Target
) -> None:
    """Each recipe of each get-or-set command, for each role, is allowed iff the role may use
    its level: only the recipe that sets nothing is read."""
    control = target.control
    checked = 0
    for role, call in _get_or_set_cases():
        if not target.allow_writes and (
            role != "viewer" or not expect(call.command, call.params).is_read
        ):
            continue
        if control is not None:
            control.reset()
        check_permission(harness.session(role), control, call)
        checked += 1
    assert checked > 0


@settings(max_examples=scaled(40))
@given(data=st.data())
def test_viewer_calls_never_change_the_state(
    harness: Harness, target: Target, facts: Facts, data: st.DataObject
) -> None:
    """Any sequence of viewer calls leaves the simulator's state exactly as it was."""
    control = target.require_control("compares the state before and after")
    control.reset()
    calls = data.draw(st.lists(any_call(facts), min_size=1, max_size=8), label="calls")
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
