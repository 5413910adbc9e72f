"""dialog commands against the quiet table (three calls alice -> bob in profiles ``inbound``
and ``caller``), paging, profiles, termination and timeouts."""

from __future__ import annotations

import pytest

from opensips_sim import dispatch
from opensips_sim.errors import INVALID_PARAMS
from opensips_sim.registry import PartialFailure
from opensips_sim.state.dialog import DialogState

from .sim_helpers import advance, mi, mi_error, world_of

CAPTURED_IDS = ["424.f410db26", "627.75e1f144", "92d.15a01d31"]


def ids(answer: dict[str, object]) -> list[str]:
    return [d["ID"] for d in answer["Dialogs"]]  # type: ignore[attr-defined, index]


def active(world: object) -> int:
    stats = mi(world, "get_statistics", {"statistics": ["active_dialogs"]})  # type: ignore[arg-type]
    return int(stats["dialog:active_dialogs"])


def test_dlg_list_walks_the_hash_table_in_entry_order_with_the_real_ids() -> None:
    assert ids(mi(world_of(), "dlg_list")) == CAPTURED_IDS


@pytest.mark.parametrize(
    ("index", "counter", "expected"),
    [
        (0, 2, CAPTURED_IDS[:2]),
        (1, 1, CAPTURED_IDS[1:2]),
        (2, 5, CAPTURED_IDS[2:]),
        (3, 1, []),
        (-1, 5, []),
        (1, -1, CAPTURED_IDS[1:2]),  # index + counter wraps to 0: one dialog
    ],
)
def test_dlg_list_pages_with_index_and_counter_as_opensips_counts(
    index: int, counter: int, expected: list[str]
) -> None:
    answer = mi(world_of(), "dlg_list", {"index": index, "counter": counter})
    assert answer["count"] == 3
    assert ids(answer) == expected


def test_dlg_list_with_a_zero_counter_lists_everything_without_a_count() -> None:
    answer = mi(world_of(), "dlg_list", {"index": 2, "counter": 0})
    assert "count" not in answer
    assert ids(answer) == CAPTURED_IDS


def test_dlg_list_by_callid_answers_one_dialog_object() -> None:
    answer = mi(world_of(), "dlg_list", {"callid": "2-1979@127.0.0.1"})
    assert answer["Dialog"]["ID"] == "424.f410db26"


def test_dlg_list_by_callid_and_wrong_from_tag_is_404() -> None:
    params = {"callid": "2-1979@127.0.0.1", "from_tag": "nope"}
    assert mi_error(world_of(), "dlg_list", params)[:2] == (404, "No such dialog")


def test_dlg_list_refuses_positional_params() -> None:
    code, _message, data = mi_error(world_of(), "dlg_list", ["x"])
    assert (code, data) == (INVALID_PARAMS, "Command only supports named parameters")


def test_dlg_list_ctx_adds_profiles_and_escaped_values() -> None:
    world = world_of()
    mi(
        world,
        "dlg_push_var",
        {"dlg_val_name": "v", "dlg_val_value": "a\nb", "DID": ["424.f410db26"]},
    )
    context = mi(world, "dlg_list_ctx", {"callid": "2-1979@127.0.0.1"})["Dialog"]["context"]
    assert context == {
        "values": [{"v": "a\\nb"}],
        "profiles": [{"inbound": ""}, {"caller": "alice"}],
    }


def states(answer: dict[str, object]) -> dict[str, int]:
    return {d["ID"]: d["state"] for d in answer["Dialogs"]}  # type: ignore[attr-defined, index]


def test_dlg_end_dlg_by_id_ends_the_dialog_and_drops_the_active_count() -> None:
    world = world_of()
    assert mi(world, "dlg_end_dlg", {"dialog_id": "627.75e1f144"}) == "OK"
    assert active(world) == 2
    assert mi(world, "profile_get_size", {"profile": "inbound"})["Profile"]["count"] == 2
    advance(world, 5)
    assert ids(mi(world, "dlg_list")) == [CAPTURED_IDS[0], CAPTURED_IDS[2]]


def test_an_ended_dialog_stays_listed_in_state_5_until_its_byes_end() -> None:
    # Measured on a live 3.6.8: listed with state 5 for a few seconds, a second
    # dlg_end_dlg of the same ID still answers OK, then the dialog disappears.
    world = world_of()
    assert mi(world, "dlg_end_dlg", {"dialog_id": "627.75e1f144"}) == "OK"
    assert states(mi(world, "dlg_list")) == {
        CAPTURED_IDS[0]: 4,
        CAPTURED_IDS[1]: 5,
        CAPTURED_IDS[2]: 4,
    }
    ctx = mi(world, "dlg_list_ctx")["Dialogs"][1]
    assert "profiles" not in ctx.get("context", {})
    advance(world, 2)
    assert mi(world, "dlg_end_dlg", {"dialog_id": "627.75e1f144"}) == "OK"
    assert active(world) == 2
    advance(world, 5)
    assert ids(mi(world, "dlg_list")) == [CAPTURED_IDS[0], CAPTURED_IDS[2]]
    assert mi_error(world, "dlg_end_dlg", {"dialog_id": "627.75e1f144"})[0] == 404


def test_dlg_end_dlg_accepts_an_active_dialogs_callid() -> None:
    world = world_of()
    assert mi(world, "dlg_end_dlg", {"dialog_id": "1-1979@127.0.0.1"}) == "OK"
    advance(world, 5)
    assert ids(mi(world, "dlg_list")) == CAPTURED_IDS[:2]
    # an ended dialog is no longer found by its Call-ID
    assert mi_error(world, "dlg_end_dlg", {"dialog_id": "1-1979@127.0.0.1"})[0] == 404


def test_dlg_end_dlg_of_an_unknown_dialog_is_404() -> None:
    assert mi_error(world_of(), "dlg_end_dlg", {"dialog_id": "999.999"})[:2] == (
        404,
        "Requested Dialog not found",
    )


def test_profile_sizes_count_all_or_one_value() -> None:
    world = world_of()
    assert (
        mi(world, "profile_get_size", {"profile": "caller", "value": "alice"})["Profile"]["count"]
        == 3
    )
    assert mi(world, "profile_get_size", {"profile": "caller", "value": "bob"})["Profile"] == {
        "name": "caller",
        "value": "bob",
        "count": 0,
        "shared": "no",
        "replicated": "no",
    }


def test_profile_get_values_of_a_profile_without_values_is_one_null_entry() -> None:
    assert mi(world_of(), "profile_get_values", {"profile": "inbound"}) == [
        {"value": None, "count": 3}
    ]


def test_unknown_profiles_are_404() -> None:
    assert mi_error(world_of(), "profile_list_dlgs", {"profile": "nope"})[:2] == (
        404,
        "Profile not found",
    )


def test_list_all_profiles_says_which_take_values() -> None:
    assert mi(world_of(), "list_all_profiles") == {
        "Profiles": [{"name": "inbound", "has value": False}, {"name": "caller", "has value": True}]
    }


def test_profile_list_dlgs_filters_by_value() -> None:
    world = world_of()
    assert (
        ids(mi(world, "profile_list_dlgs", {"profile": "caller", "value": "alice"})) == CAPTURED_IDS
    )
    assert ids(mi(world, "profile_list_dlgs", {"profile": "caller", "value": "bob"})) == []


def test_profile_end_dlgs_ends_every_dialog_of_the_profile() -> None:
    world = world_of()
    assert mi(world, "profile_end_dlgs", {"profile": "inbound"}) == "OK"
    assert active(world) == 0
    assert set(states(mi(world, "dlg_list")).values()) == {5}
    advance(world, 5)
    assert ids(mi(world, "dlg_list")) == []


def test_a_partial_profile_end_applies_to_some_dialogs_then_fails() -> None:
    world = world_of()
    resolved = dispatch.resolve("profile_end_dlgs", {"profile": "inbound"})
    with pytest.raises(PartialFailure) as failure:
        dispatch.execute(resolved, world, partial=2)
    assert failure.value.applied == 2
    advance(world, 5)
    assert ids(mi(world, "dlg_list")) == CAPTURED_IDS[2:]


def test_profile_values_come_in_the_order_of_the_profiles_hash() -> None:
    world = world_of()
    dialogs = world.get(DialogState)
    dialog = dialogs.by_did("424.f410db26")
    assert dialog is not None
    dialogs.link_profile(dialog, "caller", "carol")
    # values come in the order of the profile's 16-slot hash: carol (6) before alice (13)
    assert mi(world, "profile_get_values", {"profile": "caller"}) == [
        {"value": "carol", "count": 1},
        {"value": "alice", "count": 3},
    ]


@pytest.mark.parametrize(
    ("command", "params"),
    [
        ("dlg_set_profile", {"dlg_id": "424.f410db26", "profile": "caller", "value": "carol"}),
        ("dlg_set_profile", {"dlg_id": "1.1", "profile": "inbound"}),
        (
            "dlg_set_profile",
            {"dlg_id": "424.f410db26", "profile": "x", "value": "v", "clear_values": 1},
        ),
        ("dlg_unset_profile", {"dlg_id": "424.f410db26", "profile": "caller"}),
        ("dlg_unset_profile", {"dlg_id": "424.f410db26", "profile": "caller", "value": "alice"}),
    ],
)
def test_dlg_set_and_unset_profile_always_fail_as_on_a_real_3_6_8(
    command: str, params: dict[str, object]
) -> None:
    # 3.6.8's handlers read the dialog as "DID", a name no recipe has (seen on the lab).
    world = world_of()
    before = mi(world, "profile_get_values", {"profile": "caller"})
    assert mi_error(world, command, params) == (
        -32000,
        "Server error",
        "Failed to handle parameter",
    )
    assert mi(world, "profile_get_values", {"profile": "caller"}) == before


def test_dialogs_time_out_at_their_timeout_and_are_counted_as_expired() -> None:
    world = world_of()
    advance(world, 739)
    assert len(ids(mi(world, "dlg_list"))) == 3
    advance(world, 2)
    assert ids(mi(world, "dlg_list")) == []
    stats = mi(world, "get_statistics", {"statistics": ["dialog:"]})
    assert stats["dialog:expired_dialogs"] == 3
    assert stats["dialog:active_dialogs"] == 0


def test_dialog_ids_and_db_ids_encode_the_hash_entry_and_id() -> None:
    dialog = next(world_of().get(DialogState).walk())
    assert dialog.did == "424.f410db26"
    assert dialog.db_id == 4554321887567


def test_dialog_levels_separate_reads_writes_and_terminations() -> None:
    cases = {
        "dlg_list": None,
        "profile_get_size": {"profile": "p"},
        "dlg_set_profile": {"dlg_id": "1", "profile": "p"},
        "dlg_end_dlg": {"dialog_id": "1"},
        "profile_end_dlgs": {"profile": "p"},
    }
    assert {n: dispatch.resolve(n, p).level for n, p in cases.items()} == {
        "dlg_list": "read",
        "profile_get_size": "read",
        "dlg_set_profile": "write",
        "dlg_end_dlg": "destructive",
        "profile_end_dlgs": "destructive",
    }
