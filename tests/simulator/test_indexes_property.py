"""The indexes behind dlg_list paging and ul_dump order agree with a plain reference model
(a list walked in order) whatever dialogs and contacts come and go."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from opensips_sim.clock import Clock
from opensips_sim.hashing import core_hash
from opensips_sim.state.dialog import DialogState
from opensips_sim.state.usrloc import UsrlocState
from opensips_sim.world import World

CALLIDS = st.text(alphabet="abc123@.", min_size=1, max_size=6)
OPS = st.lists(st.tuples(st.booleans(), CALLIDS), max_size=40)


@settings(max_examples=60, deadline=None)
@given(ops=OPS, index=st.integers(-3, 45), counter=st.integers(-3, 45))
def test_dialog_pages_are_slices_of_the_table_walk(
    ops: list[tuple[bool, str]], index: int, counter: int
) -> None:
    world = World(seed=0, clock=Clock(1000.0, frozen=True))
    dialogs = world.get(DialogState)
    dialogs.load({"hash_size": 16})
    reference: list[tuple[int, int]] = []
    for add, callid in ops:
        if add:
            d = dialogs.create(
                callid=callid,
                from_uri="",
                to_uri="",
                state=4,
                start_ts=1,
                timeout_ts=0,
                caller=None,
                callees=[],
            )
            reference.append((d.h_entry, d.seq))
        elif reference:
            key = reference.pop(0)
            dialogs.remove(next(d for d in dialogs.walk() if d.sort_key == key))
    reference.sort()
    assert [d.sort_key for d in dialogs.walk()] == reference
    start = index & 0xFFFFFFFF
    limit = (start + (counter & 0xFFFFFFFF)) & 0xFFFFFFFF
    expected = reference[start : max(start + 1, limit)]
    assert [d.sort_key for d in dialogs.page(index, counter)] == expected


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.sampled_from("abcdefgh")), max_size=40))
def test_ul_dump_order_is_hash_slot_then_name(ops: list[tuple[bool, str]]) -> None:
    world = World(seed=0, clock=Clock(1000.0, frozen=True))
    usrloc = world.get(UsrlocState)
    usrloc.load({"hash_size": 4})
    present: set[str] = set()
    for add, aor in ops:
        if add:
            usrloc.add(aor, f"sip:{aor}@x", expires_in=60, q=-1, flags=0, cflags="", methods=0)
            present.add(aor)
        else:
            usrloc.remove_aor(aor)
            present.discard(aor)
    assert list(usrloc.aors()) == sorted(present, key=lambda a: (core_hash(a, 4), a))
