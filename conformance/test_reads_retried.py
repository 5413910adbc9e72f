"""Property 3, reads are retried within bounds: a read whose answer is lost is sent again,
at most ``max_attempts`` times in all, succeeds as soon as one attempt is answered, and
never changes the state."""

from __future__ import annotations

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from conformance.checks import gated_call, own_requests
from conformance.harness import FAULT_MI, Harness, Target
from conformance.profiles import scaled
from conformance.strategies import FAULT_ACTIONS, WHENS, Facts, MICall, fault_rule, read_calls

MAX_ATTEMPTS: int = FAULT_MI["mi_max_attempts"]
#: The codes of a read that ran out of attempts: no answer, or none that could be used.
EXHAUSTED = frozenset({"timeout", "bad_response", "unreachable"})


@pytest.fixture(scope="module")
def reads(facts: Facts) -> list[MICall]:
    """Read calls of commands the simulator implements, with the target's identifiers."""
    return read_calls(facts)


@pytest.mark.needs_control("injects faults and counts requests in the journal")
@settings(max_examples=scaled(30))
@given(
    index=st.integers(min_value=0),
    action=st.sampled_from(FAULT_ACTIONS),
    when=st.sampled_from(WHENS),
    count=st.integers(min_value=1, max_value=MAX_ATTEMPTS + 1),
)
def test_a_read_is_retried_within_bounds_and_changes_nothing(
    harness: Harness,
    target: Target,
    reads: list[MICall],
    index: int,
    action: str,
    when: str,
    count: int,
) -> None:
    """A read whose first ``count`` answers are lost reaches the simulator
    min(count + 1, max_attempts) times, succeeds iff an attempt is left, and changes nothing."""
    control = target.require_control("injects faults and counts requests in the journal")
    call = reads[index % len(reads)]
    control.reset()
    rule = fault_rule(call.command, action, when, count=count)
    note(f"fault rule: {rule}")
    control.add_faults([rule])
    before = control.state()
    exp, outcome, record, entries = gated_call(harness.session("viewer", "faults"), control, call)
    assert exp.is_read
    assert entries is not None
    sent = own_requests(entries, exp.command)
    assert len(sent) <= MAX_ATTEMPTS, f"a read was sent {len(sent)} times"
    assert record["mi_attempts"] == len(entries), "audited attempts differ from requests received"
    if count < MAX_ATTEMPTS:
        assert not outcome.is_error, f"attempt {count + 1} was answered, yet {outcome.code}"
        assert len(sent) == count + 1, f"{count} lost answers, {len(sent)} requests"
        assert record["outcome"] == "ok"
    else:
        assert outcome.code in EXHAUSTED, f"every answer was lost, yet {outcome.code or 'ok'}"
        assert len(sent) == MAX_ATTEMPTS, f"{len(sent)} requests of {MAX_ATTEMPTS} allowed"
        assert record["outcome"] == "error"
    assert all(e["fault"] is not None for e in sent[:count]), "a fault did not fire"
    assert control.state() == before, "a read changed the state"
