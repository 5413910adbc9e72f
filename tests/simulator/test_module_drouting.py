"""drouting: gateway and carrier status, reloads, reload status and number routing."""

from __future__ import annotations

from typing import Any

import pytest

from opensips_sim import errors
from opensips_sim.state.drouting import DroutingState
from opensips_sim.world import World

from .module_helpers import (
    call,
    captured_error_case,
    captured_result,
    captured_world,
    fails,
    level,
    make_world,
)

ROUTING = {
    "gateways": [
        {"id": "gw1", "address": "10.0.0.1:5060"},
        {"id": "gw2", "address": "10.0.0.2:5060", "attrs": "cheap"},
        {"id": "gw3", "address": "10.0.0.3:5060", "state": "probing"},
    ],
    "carriers": [
        {"id": "c1", "gateways": ["gw1", "gw2"]},
        {"id": "c2", "gateways": ["gw3"], "enabled": False, "attrs": "backup"},
    ],
    "rules": [
        {"id": 1, "groups": [1], "prefix": "40", "gateways": ["gw1"]},
        {"id": 2, "groups": [1], "prefix": "4072", "gateways": ["gw2", "#c1"], "attrs": "ro"},
        {"id": 3, "groups": [1], "prefix": "4072", "priority": 5, "gateways": ["gw3"]},
        {"id": 4, "groups": [2], "prefix": "", "gateways": ["#c2"]},
        {"id": 5, "groups": [1, 2], "prefix": "33", "gateways": ["gw2"]},
    ],
}


def partitioned() -> World:
    return make_world(
        drouting={
            "use_partitions": True,
            "partitions": [
                {"name": "retail", **ROUTING},
                {"name": "wholesale", "gateways": [{"id": "w1", "address": "10.1.0.1"}]},
            ],
        }
    )


def gw_states(world: World, **partition: str) -> dict[str, str]:
    gws = call(world, "dr_gw_status", dict(partition))["Gateways"]
    return {g["ID"]: g["State"] for g in gws}


def test_gw_status_answers_exactly_what_the_real_server_answered() -> None:
    assert call(captured_world(), "dr_gw_status") == captured_result("dr_gw_status")


def test_carrier_status_answers_exactly_what_the_real_server_answered() -> None:
    assert call(captured_world(), "dr_carrier_status") == captured_result("dr_carrier_status")


def test_gw_status_of_an_unknown_gateway_fails_as_the_real_server_does() -> None:
    method, params, expected = captured_error_case("dr_gw_status_unknown_gw")
    err = fails(captured_world(), method, params)
    assert (err.code, err.message) == (expected["code"], expected["message"])


def test_gateway_listing_shows_attrs_and_every_state() -> None:
    world = make_world(drouting=ROUTING)
    world.get(DroutingState).default().gateways["gw1"].disabled = True
    assert call(world, "dr_gw_status")["Gateways"] == [
        {"ID": "gw1", "IP": "10.0.0.1:5060", "State": "Inactive"},
        {"ID": "gw2", "IP": "10.0.0.2:5060", "ATTRS": "cheap", "State": "Active"},
        {"ID": "gw3", "IP": "10.0.0.3:5060", "State": "Probing"},
    ]


def test_one_gateway_shows_its_attrs_and_state() -> None:
    world = make_world(drouting=ROUTING)
    assert call(world, "dr_gw_status", {"gw_id": "gw2"}) == {"ATTRS": "cheap", "State": "Active"}
    assert call(world, "dr_gw_status", {"gw_id": "gw1"}) == {"State": "Active"}


def test_disabling_a_gateway_shows_disabled_mi_and_enabling_restores_active() -> None:
    world = make_world(drouting=ROUTING)
    assert call(world, "dr_gw_status", {"gw_id": "gw1", "status": 0}) == "OK"
    assert gw_states(world)["gw1"] == "Disabled MI"
    call(world, "dr_gw_status", {"gw_id": "gw1", "status": 1})
    assert gw_states(world)["gw1"] == "Active"
    call(world, "dr_gw_status", {"gw_id": "gw3", "status": "1"})
    assert gw_states(world)["gw3"] == "Active"


def test_setting_the_status_of_an_unknown_gateway_is_404() -> None:
    err = fails(captured_world(), "dr_gw_status", {"gw_id": "nogw", "status": 0})
    assert (err.code, err.message) == (404, "GW ID not found")


def test_disabled_carrier_prints_no_with_the_modules_trailing_space() -> None:
    world = make_world(drouting=ROUTING)
    assert call(world, "dr_carrier_status")["Carriers"] == [
        {"ID": "c1", "Enabled": "yes"},
        {"ID": "c2", "ATTRS": "backup", "Enabled": "no "},
    ]
    assert call(world, "dr_carrier_status", {"carrier_id": "c2"}) == {
        "ATTRS": "backup",
        "Enabled": "no ",
    }


def test_carrier_status_can_be_set_and_read_back() -> None:
    world = make_world(drouting=ROUTING)
    assert call(world, "dr_carrier_status", {"carrier_id": "c1", "status": 0}) == "OK"
    assert call(world, "dr_carrier_status", {"carrier_id": "c1"}) == {"Enabled": "no "}
    call(world, "dr_carrier_status", {"carrier_id": "c1", "status": 1})
    assert call(world, "dr_carrier_status", {"carrier_id": "c1"}) == {"Enabled": "yes"}


@pytest.mark.parametrize("params", [{"carrier_id": "x"}, {"carrier_id": "x", "status": 1}])
def test_an_unknown_carrier_is_404(params: dict[str, Any]) -> None:
    err = fails(captured_world(), "dr_carrier_status", params)
    assert (err.code, err.message) == (404, "Carrier ID not found")


PARTITION_RECIPES = [
    ("dr_gw_status", {}),
    ("dr_gw_status", {"gw_id": "w1"}),
    ("dr_gw_status", {"gw_id": "w1", "status": 1}),
    ("dr_carrier_status", {}),
    ("dr_carrier_status", {"carrier_id": "c1"}),
    ("dr_carrier_status", {"carrier_id": "c1", "status": 1}),
    ("dr_number_routing", {"number": "4072"}),
    ("dr_number_routing", {"group_id": 1, "number": "4072"}),
    ("dr_reload_status", {}),
    ("dr_reload", {}),
    ("dr_reload", {"inherit_state": "y"}),
]


@pytest.mark.parametrize(("method", "params"), PARTITION_RECIPES)
def test_naming_a_partition_without_use_partitions_is_refused(
    method: str, params: dict[str, Any]
) -> None:
    err = fails(captured_world(), method, {"partition_name": "Default", **params})
    assert err.code == 400
    assert err.message == "Invalid parameter: 'partition_name'"
    assert err.data == "'partition_name' supported only when 'use_partitions' is set"


@pytest.mark.parametrize(
    ("method", "params"),
    [(m, p) for m, p in PARTITION_RECIPES if m not in ("dr_reload", "dr_reload_status")],
)
def test_with_use_partitions_the_partition_is_required(method: str, params: dict[str, Any]) -> None:
    err = fails(partitioned(), method, params or None)
    assert (err.code, err.message) == (400, "Missing parameter: 'partition_name'")
    assert err.data == "'partition_name' is required when 'use_partitions' is set"


@pytest.mark.parametrize(("method", "params"), PARTITION_RECIPES)
def test_an_unknown_partition_is_404(method: str, params: dict[str, Any]) -> None:
    err = fails(partitioned(), method, {"partition_name": "nope", **params})
    assert (err.code, err.message) == (404, "Partition not found")


def test_partitions_keep_their_own_gateways() -> None:
    world = partitioned()
    call(world, "dr_gw_status", {"partition_name": "wholesale", "gw_id": "w1", "status": 0})
    assert gw_states(world, partition_name="wholesale") == {"w1": "Disabled MI"}
    assert gw_states(world, partition_name="retail")["gw1"] == "Active"
    assert call(world, "dr_gw_status", {"partition_name": "wholesale", "gw_id": "w1"}) == {
        "State": "Disabled MI"
    }


def test_gateway_and_carrier_status_only_accept_named_parameters() -> None:
    for method in ("dr_gw_status", "dr_carrier_status", "dr_number_routing"):
        err = fails(captured_world(), method, ["gw1"])
        assert (err.code, err.data) == (errors.INVALID_PARAMS, errors.NAMED_ONLY)


def test_reload_keeps_runtime_status_by_default() -> None:
    world = make_world(drouting=ROUTING)
    call(world, "dr_gw_status", {"gw_id": "gw1", "status": 0})
    call(world, "dr_carrier_status", {"carrier_id": "c2", "status": 1})
    assert call(world, "dr_reload") == "OK"
    assert gw_states(world)["gw1"] == "Disabled MI"
    assert call(world, "dr_carrier_status", {"carrier_id": "c2"})["Enabled"] == "yes"


def test_reload_without_inheriting_state_takes_the_database_state() -> None:
    world = make_world(drouting=ROUTING)
    call(world, "dr_gw_status", {"gw_id": "gw1", "status": 0})
    call(world, "dr_carrier_status", {"carrier_id": "c2", "status": 1})
    call(world, "dr_reload", {"inherit_state": 0})
    assert gw_states(world) == {"gw1": "Active", "gw2": "Active", "gw3": "Probing"}
    assert call(world, "dr_carrier_status", {"carrier_id": "c2"})["Enabled"] == "no "


def test_reload_of_one_partition_leaves_the_others_alone() -> None:
    world = partitioned()
    call(world, "dr_gw_status", {"partition_name": "retail", "gw_id": "gw1", "status": 0})
    call(world, "dr_gw_status", {"partition_name": "wholesale", "gw_id": "w1", "status": 0})
    call(world, "dr_reload", {"partition_name": "wholesale", "inherit_state": "n"})
    assert gw_states(world, partition_name="wholesale") == {"w1": "Active"}
    assert gw_states(world, partition_name="retail")["gw1"] == "Disabled MI"


def test_reload_applies_database_edits() -> None:
    world = make_world(drouting=ROUTING)
    world.get(DroutingState).set_database({"gateways": [{"id": "gw9", "address": "10.0.0.9"}]})
    assert set(gw_states(world)) == {"gw1", "gw2", "gw3"}
    call(world, "dr_reload")
    assert gw_states(world) == {"gw9": "Active"}


def test_reload_status_tells_when_the_data_was_last_loaded() -> None:
    world = make_world(drouting=ROUTING)
    loaded = call(world, "dr_reload_status")
    assert loaded == {"Date": "Wed Nov 18 11:06:40 2026"}
    world.clock.advance(3600)
    call(world, "dr_reload")
    assert call(world, "dr_reload_status") == {"Date": "Wed Nov 18 12:06:40 2026"}


def test_reload_status_with_partitions_lists_every_partition_or_the_named_one() -> None:
    world = partitioned()
    world.clock.advance(60)
    call(world, "dr_reload", {"partition_name": "wholesale"})
    assert call(world, "dr_reload_status") == {
        "Partitions": [
            {"name": "retail", "Date": "Wed Nov 18 11:06:40 2026"},
            {"name": "wholesale", "Date": "Wed Nov 18 11:07:40 2026"},
        ]
    }
    assert call(world, "dr_reload_status", {"partition_name": "retail"}) == {
        "name": "retail",
        "Date": "Wed Nov 18 11:06:40 2026",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"group_id": 1, "number": "407212345"},
            {
                "Matched Prefix": "4072",
                "GW List": [{"GATEWAY": "gw3"}],
            },
        ),
        (
            {"group_id": 1, "number": "4099"},
            {"Matched Prefix": "40", "GW List": [{"GATEWAY": "gw1"}]},
        ),
        (
            {"group_id": 2, "number": "3312"},
            {"Matched Prefix": "33", "GW List": [{"GATEWAY": "gw2"}]},
        ),
        (
            {"group_id": 2, "number": "999"},
            {"Matched Prefix": "", "GW List": [{"CARRIER": "c2"}]},
        ),
        ({"group_id": 1, "number": "999"}, "No match"),
        ({"group_id": 3, "number": "4072"}, "No match"),
        ({"number": "4072"}, "No match"),
    ],
)
def test_number_routing_finds_the_longest_prefix_rule_of_the_group(
    params: dict[str, Any], expected: Any
) -> None:
    assert call(make_world(drouting=ROUTING), "dr_number_routing", params) == expected


def test_number_routing_lists_carriers_and_the_rule_attrs() -> None:
    routing = dict(ROUTING, rules=[r for r in ROUTING["rules"] if r["id"] != 3])
    result = call(
        make_world(drouting=routing), "dr_number_routing", {"group_id": 1, "number": "4072"}
    )
    assert result == {
        "Matched Prefix": "4072",
        "GW List": [{"GATEWAY": "gw2"}, {"CARRIER": "c1"}],
        "ATTRS": "ro",
    }


def test_number_routing_in_a_partition() -> None:
    args = {"partition_name": "retail", "group_id": 1, "number": "4011"}
    assert call(partitioned(), "dr_number_routing", args)["Matched Prefix"] == "40"
    args = {"partition_name": "wholesale", "number": "4011"}
    assert call(partitioned(), "dr_number_routing", args) == "No match"


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("dr_gw_status", None, "read"),
        ("dr_gw_status", {"partition_name": "p"}, "read"),
        ("dr_gw_status", {"gw_id": "gw1"}, "read"),
        ("dr_gw_status", {"gw_id": "gw1", "status": 0}, "write"),
        ("dr_gw_status", {"partition_name": "p", "gw_id": "gw1"}, "read"),
        ("dr_gw_status", {"partition_name": "p", "gw_id": "gw1", "status": 0}, "write"),
        ("dr_carrier_status", None, "read"),
        ("dr_carrier_status", {"partition_name": "p"}, "read"),
        ("dr_carrier_status", {"carrier_id": "c"}, "read"),
        ("dr_carrier_status", {"carrier_id": "c", "status": 1}, "write"),
        ("dr_carrier_status", {"partition_name": "p", "carrier_id": "c"}, "read"),
        ("dr_carrier_status", {"partition_name": "p", "carrier_id": "c", "status": 1}, "write"),
        ("dr_reload", None, "write"),
        ("dr_reload", {"inherit_state": "n"}, "write"),
        ("dr_reload", {"partition_name": "p"}, "write"),
        ("dr_reload", {"partition_name": "p", "inherit_state": "n"}, "write"),
        ("dr_reload_status", None, "read"),
        ("dr_number_routing", {"number": "1"}, "read"),
    ],
)
def test_levels(method: str, params: dict[str, Any] | None, expected: str) -> None:
    assert level(method, params) == expected


def test_snapshot_loads_back_to_the_same_answers() -> None:
    world = make_world(drouting=ROUTING)
    call(world, "dr_gw_status", {"gw_id": "gw2", "status": 0})
    again = make_world(drouting=world.get(DroutingState).snapshot())
    for method in ("dr_gw_status", "dr_carrier_status"):
        assert call(again, method) == call(world, method)
