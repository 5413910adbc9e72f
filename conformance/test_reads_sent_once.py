"""Property 3, a read is sent once: a read whose answer is lost (any fault, before or after
the simulator applies it) reaches the simulator exactly once, fails with an error that says
so, and changes nothing. OpenSIPS runs MI commands one at a time: a re-sent read would run
again behind the first (or behind a copy still running), so the client never re-sends
anything that reached the endpoint."""

from __future__ import annotations

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from conformance.checks import gated_call, own_requests
from conformance.harness import FAULT_MI, Harness, Target
from conformance.profiles import scaled
from conformance.strategies import FAULT_ACTIONS, WHENS, Facts, MICall, fault_rule, read_calls

MAX_ATTEMPTS: int = FAULT_MI["mi_max_attempts"]
#: The codes of a read whose answer was lost: no answer, or none that could be used.
LOST = frozenset({"timeout", "bad_response", "unreachable"})


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
def test_a_read_whose_answer_is_lost_is_sent_once_and_changes_nothing(
    harness: Harness,
    target: Target,
    reads: list[MICall],
    index: int,
    action: str,
    when: str,
    count: int,
) -> None:
    """A read whose first ``count`` answers would be lost reaches the simulator once
    (``max_attempts`` is 3), fails with a lost-answer code, and changes nothing."""
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
    assert len(sent) == 1, f"a read whose answer was lost was sent {len(sent)} times"
    assert record["mi_attempts"] == len(entries), "audited attempts differ from requests received"
    assert outcome.code in LOST, f"the answer was lost, yet {outcome.code or 'ok'}"
    assert record["outcome"] == "error"
    assert sent[0]["fault"] is not None, "the fault did not fire"
    assert control.state() == before, "a read changed the state"
