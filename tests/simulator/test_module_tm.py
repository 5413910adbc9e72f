"""tm: t_uac_cancel on pending INVITE client transactions."""

from __future__ import annotations

from opensips_sim.state.tm import CANCEL_GRACE, TmState
from opensips_sim.world import World

from .module_helpers import call, fails, level, make_world

TM = {
    "transactions": [
        {"callid": "a84b4c76e66710@pc33", "cseq": 1, "to": "sip:bob@example.com"},
        {"callid": "c2@host", "cseq": 314159, "expires_in": 30},
    ]
}


def pending(world: World) -> list[tuple[str, str]]:
    return [(t.callid, t.cseq) for t in world.get(TmState).transactions]


def test_cancel_answers_ok_and_the_transaction_ends_when_the_487_is_in() -> None:
    world = make_world(tm=TM)
    assert call(world, "t_uac_cancel", {"callid": "a84b4c76e66710@pc33", "cseq": "1"}) == "OK"
    world.clock.advance(CANCEL_GRACE)
    call(world, "shv_get")  # any call lets the world catch up with its clock
    assert pending(world) == [("c2@host", "314159")]


def test_a_repeated_cancel_before_the_final_reply_also_succeeds() -> None:
    world = make_world(tm=TM)
    call(world, "t_uac_cancel", {"callid": "c2@host", "cseq": 314159})
    assert call(world, "t_uac_cancel", {"callid": "c2@host", "cseq": 314159}) == "OK"


def test_cancel_after_the_transaction_ended_is_481() -> None:
    world = make_world(tm=TM)
    call(world, "t_uac_cancel", {"callid": "c2@host", "cseq": 314159})
    world.clock.advance(CANCEL_GRACE)
    err = fails(world, "t_uac_cancel", {"callid": "c2@host", "cseq": 314159})
    assert (err.code, err.message) == (481, "No such transaction")


def test_cancel_needs_both_call_id_and_cseq_to_match() -> None:
    world = make_world(tm=TM)
    for callid, cseq in (("c2@host", 1), ("nope", 314159), ("C2@HOST", 314159)):
        assert fails(world, "t_uac_cancel", {"callid": callid, "cseq": cseq}).code == 481
    assert len(pending(world)) == 2


def test_a_transaction_ends_by_itself_when_it_expires() -> None:
    world = make_world(tm=TM)
    world.clock.advance(30)
    err = fails(world, "t_uac_cancel", {"callid": "c2@host", "cseq": 314159})
    assert err.code == 481
    assert world.get(TmState).statistics() == {"tm:inuse_transactions": 1}


def test_cancel_is_destructive() -> None:
    assert level("t_uac_cancel", {"callid": "x", "cseq": 1}) == "destructive"


def test_without_a_section_nothing_is_pending() -> None:
    assert fails(make_world(), "t_uac_cancel", {"callid": "x", "cseq": 1}).code == 481


def test_the_transaction_gauge_is_only_derived_when_a_scenario_models_transactions() -> None:
    assert make_world().get(TmState).statistics() == {}
    assert make_world(tm=TM).get(TmState).statistics() == {"tm:inuse_transactions": 2}
