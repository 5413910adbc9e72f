"""dispatcher: ds_list, ds_set_state, ds_reload against the captured 3.6.8 answers."""

from __future__ import annotations

import json

import pytest

from opensips_sim.state.dispatcher import DispatcherState
from opensips_sim.world import World

from .module_helpers import (
    CAPTURED_SECTIONS,
    call,
    captured_error_case,
    captured_result,
    captured_world,
    fails,
    level,
    make_world,
)

DST_A = "sip:127.0.0.1:5081"
DST_B = "sip:127.0.0.1:5082"


def states(world: World, full: int = 0) -> dict[str, str]:
    result = call(world, "ds_list", {"full": full})
    dests = result["PARTITIONS"][0]["SETS"][0]["Destinations"]
    return {d["URI"]: d["state"] for d in dests}


def test_ds_list_answers_exactly_what_the_real_server_answered() -> None:
    assert call(captured_world(), "ds_list") == captured_result("ds_list")


def test_ds_list_full_answers_exactly_what_the_real_server_answered() -> None:
    assert call(captured_world(), "ds_list", {"full": 1}) == captured_result("ds_list_full")


def test_ds_list_full_zero_is_the_short_listing() -> None:
    world = captured_world()
    assert call(world, "ds_list", {"full": 0}) == call(world, "ds_list")


def test_ds_list_without_a_dispatcher_section_lists_no_partitions() -> None:
    assert call(make_world(), "ds_list") == {"PARTITIONS": []}


@pytest.mark.parametrize("partition", [True, None, [], {}, ["pstn"]])
def test_a_partition_of_a_bad_type_is_ignored_and_every_partition_listed(
    partition: object,
) -> None:
    # ds_mi_list reads it with try_get_mi_string_param and goes on without it (real 3.6.8)
    world = captured_world()
    assert call(world, "ds_list", {"partition": partition}) == call(world, "ds_list")


def test_ds_list_of_one_partition_lists_only_that_partition() -> None:
    world = make_world(
        dispatcher={
            "partitions": [
                {"name": "default", "sets": [{"id": 1, "destinations": [{"uri": DST_A}]}]},
                {"name": "pstn", "sets": [{"id": 9, "destinations": [{"uri": DST_B}]}]},
            ]
        }
    )
    result = call(world, "ds_list", {"partition": "pstn"})
    assert [p["name"] for p in result["PARTITIONS"]] == ["pstn"]
    assert result["PARTITIONS"][0]["SETS"][0]["id"] == 9


def test_ds_list_of_an_unknown_partition_is_500_and_an_empty_name_is_the_default() -> None:
    # as the lab 3.6.8 answers (dispatcher.c ds_mi_list, find_partition_by_name)
    assert fails(captured_world(), "ds_list", {"partition": "nope"}).code == 500
    assert call(captured_world(), "ds_list", {"partition": ""}) == captured_result("ds_list")


def test_a_partition_without_sets_is_listed_by_name_only() -> None:
    world = make_world(dispatcher={"partitions": [{"name": "empty"}]})
    assert call(world, "ds_list") == {"PARTITIONS": [{"name": "empty"}]}


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("i", "Inactive"),
        ("I", "Inactive"),
        ("0", "Inactive"),
        ("inactive", "Inactive"),
        ("p", "Probing"),
        ("P", "Probing"),
        ("2", "Probing"),
        ("a", "Active"),
        ("1", "Active"),
    ],
)
def test_set_state_is_read_back_by_ds_list(state: str, shown: str) -> None:
    world = captured_world()
    probe(world, DST_A, 3)
    assert call(world, "ds_set_state", {"state": state, "group": 1, "address": DST_A}) == "OK"
    assert states(world) == {DST_A: shown, DST_B: "Active"}


def probe(world: World, uri: str, times: int) -> None:
    for _ in range(times):
        assert call(world, "ds_set_state", {"state": "p", "group": 1, "address": uri}) == "OK"


def test_p_on_an_active_destination_only_counts_a_failure_until_the_threshold() -> None:
    # Measured on a live 3.6.8: "p" answers OK and the destination stays Active
    # (dispatch.c _ds_set_state: Probing once probing_threshold failures are counted).
    world = captured_world()
    probe(world, DST_A, 2)
    assert states(world) == {DST_A: "Active", DST_B: "Active"}
    probe(world, DST_A, 1)
    assert states(world) == {DST_A: "Probing", DST_B: "Active"}
    # "a" keeps the failure count: the next "p" is at the threshold again
    call(world, "ds_set_state", {"state": "a", "group": 1, "address": DST_A})
    probe(world, DST_A, 1)
    assert states(world)[DST_A] == "Probing"


def test_the_probing_threshold_comes_from_the_scenario() -> None:
    section = dict(CAPTURED_SECTIONS["dispatcher"], probing_threshold=1)
    world = make_world(dispatcher=section)
    probe(world, DST_A, 1)
    assert states(world)[DST_A] == "Probing"


def test_p_on_an_inactive_destination_sets_nothing_probing_and_clears_inactive() -> None:
    # _ds_set_state ignores "set probing" on an inactive destination, then the MI
    # command's second step (clear Inactive) runs.
    world = captured_world()
    call(world, "ds_set_state", {"state": "i", "group": 1, "address": DST_A})
    probe(world, DST_A, 3)
    assert states(world)[DST_A] == "Active"


def test_set_state_of_an_unknown_destination_fails_as_the_real_server_does() -> None:
    method, params, expected = captured_error_case("ds_set_state_unknown_destination")
    err = fails(captured_world(), method, params)
    assert (err.code, err.message) == (expected["code"], expected["message"])


def test_a_bad_state_value_fails_as_the_real_server_does() -> None:
    method, params, expected = captured_error_case("ds_set_state_bad_state")
    err = fails(captured_world(), method, params)
    assert (err.code, err.message) == (expected["code"], expected["message"])


def test_a_failed_set_state_changes_nothing() -> None:
    world = captured_world()
    fails(world, "ds_set_state", {"state": "z", "group": 1, "address": DST_A})
    fails(world, "ds_set_state", {"state": "i", "group": 2, "address": DST_A})
    assert states(world) == {DST_A: "Active", DST_B: "Active"}


def test_the_address_matches_whatever_its_case() -> None:
    world = captured_world()
    call(world, "ds_set_state", {"state": "i", "group": "1", "address": DST_A.upper()})
    assert states(world)[DST_A] == "Inactive"


def test_the_group_may_name_its_partition() -> None:
    world = captured_world()
    call(world, "ds_set_state", {"state": "i", "group": "default:1", "address": DST_B})
    assert states(world)[DST_B] == "Inactive"


def test_a_group_in_an_unknown_partition_is_404() -> None:
    err = fails(captured_world(), "ds_set_state", {"state": "i", "group": "x:1", "address": DST_A})
    assert err.code == 404


def test_a_group_that_is_not_a_number_is_500() -> None:
    err = fails(captured_world(), "ds_set_state", {"state": "i", "group": "one", "address": DST_A})
    assert err.code == 500


def test_reload_keeps_runtime_states_by_default() -> None:
    world = captured_world()
    call(world, "ds_set_state", {"state": "i", "group": 1, "address": DST_A})
    assert call(world, "ds_reload") == "OK"
    assert states(world)[DST_A] == "Inactive"


@pytest.mark.parametrize("no", ["n", "N", "0", 0, "no"])
def test_reload_without_inheriting_state_takes_the_database_state(no: object) -> None:
    world = captured_world()
    call(world, "ds_set_state", {"state": "i", "group": 1, "address": DST_A})
    call(world, "ds_reload", {"inherit_state": no})
    assert states(world)[DST_A] == "Active"


def test_reload_applies_database_edits_and_keeps_states_of_destinations_that_stay() -> None:
    world = captured_world()
    probe(world, DST_A, 3)
    new_dst = "sip:127.0.0.1:5090"
    world.get(DispatcherState).set_database(
        {"sets": [{"id": 1, "destinations": [{"uri": DST_A}, {"uri": new_dst}]}]}
    )
    assert states(world) == {DST_A: "Probing", DST_B: "Active"}
    call(world, "ds_reload", {"partition": "default"})
    assert states(world) == {DST_A: "Probing", new_dst: "Active"}


def test_reload_of_an_unknown_partition_is_500() -> None:
    assert fails(captured_world(), "ds_reload", {"partition": "nope"}).code == 500


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("ds_list", None, "read"),
        ("ds_list", {"full": 1}, "read"),
        ("ds_set_state", {"state": "i", "group": 1, "address": DST_A}, "write"),
        ("ds_reload", None, "write"),
        ("ds_reload", {"inherit_state": "n"}, "write"),
    ],
)
def test_levels(method: str, params: dict[str, object] | None, expected: str) -> None:
    assert level(method, params) == expected


def flapping_world(seed: int) -> tuple[World, DispatcherState]:
    section = dict(CAPTURED_SECTIONS["dispatcher"], flap={"set": 1, "uri": DST_B, "period": 10})
    world = make_world(seed=seed, dispatcher=section)
    return world, world.get(DispatcherState)


def test_a_flapping_destination_cycles_active_probing_inactive_with_the_clock() -> None:
    world, _ = flapping_world(seed=3)
    seen = []
    for _ in range(7):
        seen.append(states(world)[DST_B])
        world.clock.advance(10)
    cycle = ["Active", "Probing", "Inactive"]
    start = cycle.index(seen[0])
    assert seen == [cycle[(start + i) % 3] for i in range(7)]
    assert states(world)[DST_A] == "Active"


def test_flapping_is_the_same_for_the_same_seed() -> None:
    runs = []
    for _ in range(2):
        world, _ = flapping_world(seed=11)
        seen = []
        for _ in range(5):
            world.clock.advance(4)
            seen.append(states(world)[DST_B])
        runs.append(seen)
    assert runs[0] == runs[1]


def test_snapshot_is_json_and_loads_back_to_the_same_state() -> None:
    world = captured_world()
    probe(world, DST_B, 2)
    snap = world.get(DispatcherState).snapshot()
    again = make_world(dispatcher=json.loads(json.dumps(snap)))
    assert again.get(DispatcherState).snapshot() == snap
    assert call(again, "ds_list", {"full": 1}) == call(world, "ds_list", {"full": 1})
    probe(again, DST_B, 1)  # the failure count survives the snapshot
    assert states(again)[DST_B] == "Probing"
