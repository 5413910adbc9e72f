"""load_balancer: lb_list, lb_status, lb_resize, lb_reload."""

from __future__ import annotations

import pytest

from opensips_sim.errors import INVALID_PARAMS
from opensips_sim.state.load_balancer import LoadBalancerState
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


def dest(world: World, dst_id: int) -> dict[str, object]:
    return next(d for d in call(world, "lb_list")["Destinations"] if d["id"] == dst_id)


def test_lb_list_answers_exactly_what_the_real_server_answered() -> None:
    assert call(captured_world(), "lb_list") == captured_result("lb_list")


def test_lb_list_without_a_section_lists_nothing() -> None:
    assert call(make_world(), "lb_list") == {"Destinations": []}


def test_lb_list_shows_attrs_and_current_loads() -> None:
    world = make_world(
        load_balancer={
            "destinations": [
                {
                    "id": 5,
                    "group": 2,
                    "uri": "sip:10.0.0.5",
                    "attrs": "tier=gold",
                    "resources": [{"name": "pstn", "max": 30, "load": 12}],
                }
            ]
        }
    )
    assert dest(world, 5) == {
        "uri": "sip:10.0.0.5",
        "id": 5,
        "group": 2,
        "enabled": "yes",
        "auto-reenable": "on",
        "Resources": [{"name": "pstn", "max": 30, "load": 12}],
        "attrs": "tier=gold",
    }


def test_status_of_an_unknown_destination_fails_as_the_real_server_does() -> None:
    method, params, expected = captured_error_case("lb_status_unknown_id")
    err = fails(captured_world(), method, params)
    assert (err.code, err.message) == (expected["code"], expected["message"])


def test_setting_the_status_of_an_unknown_destination_is_also_404() -> None:
    assert fails(captured_world(), "lb_status", {"destination_id": 9, "new_status": 0}).code == 404


def test_status_reads_enabled_by_default() -> None:
    assert call(captured_world(), "lb_status", {"destination_id": 1}) == {"enable": "yes"}


def test_disabling_by_hand_also_stops_auto_reenabling() -> None:
    world = captured_world()
    assert call(world, "lb_status", {"destination_id": 1, "new_status": 0}) == "OK"
    assert call(world, "lb_status", {"destination_id": "1"}) == {"enable": "no"}
    assert (dest(world, 1)["enabled"], dest(world, 1)["auto-reenable"]) == ("no", "off")
    assert dest(world, 2)["enabled"] == "yes"


def test_enabling_restores_auto_reenabling() -> None:
    world = captured_world()
    call(world, "lb_status", {"destination_id": 1, "new_status": 0})
    call(world, "lb_status", {"destination_id": 1, "new_status": 7})
    assert (dest(world, 1)["enabled"], dest(world, 1)["auto-reenable"]) == ("yes", "on")


def test_a_non_numeric_destination_id_is_a_type_error() -> None:
    assert fails(captured_world(), "lb_status", {"destination_id": "one"}).code == INVALID_PARAMS


def test_resize_changes_the_capacity_of_one_resource() -> None:
    world = captured_world()
    args = {"destination_id": 1, "res_name": "vm", "new_capacity": 50}
    assert call(world, "lb_resize", args) == "OK"
    assert dest(world, 1)["Resources"] == [
        {"name": "pstn", "max": 10, "load": 0},
        {"name": "vm", "max": 50, "load": 0},
    ]


def test_resize_of_an_unknown_destination_is_404() -> None:
    args = {"destination_id": 3, "res_name": "vm", "new_capacity": 1}
    err = fails(captured_world(), "lb_resize", args)
    assert (err.code, err.message) == (404, "Destination ID not found")


def test_resize_of_a_resource_the_destination_lacks_is_404() -> None:
    args = {"destination_id": 2, "res_name": "vm", "new_capacity": 1}
    err = fails(captured_world(), "lb_resize", args)
    assert (err.code, err.message) == (404, "Destination has no such resource")


def test_reload_forgets_resizes_but_keeps_the_status_set_by_hand() -> None:
    world = captured_world()
    call(world, "lb_resize", {"destination_id": 1, "res_name": "pstn", "new_capacity": 99})
    call(world, "lb_status", {"destination_id": 2, "new_status": 0})
    assert call(world, "lb_reload") == "OK"
    assert dest(world, 1)["Resources"][0]["max"] == 10
    assert dest(world, 2)["enabled"] == "no"


def test_reload_applies_database_edits() -> None:
    world = captured_world()
    call(world, "lb_status", {"destination_id": 1, "new_status": 0})
    section = {"destinations": [*CAPTURED_SECTIONS["load_balancer"]["destinations"][:1]]}
    section["destinations"].append(
        {"id": 3, "group": 1, "uri": "sip:127.0.0.1:5086", "resources": []}
    )
    world.get(LoadBalancerState).set_database(section)
    call(world, "lb_reload")
    assert [d["id"] for d in call(world, "lb_list")["Destinations"]] == [1, 3]
    assert dest(world, 1)["enabled"] == "no"


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("lb_list", None, "read"),
        ("lb_status", {"destination_id": 1}, "read"),
        ("lb_status", {"destination_id": 1, "new_status": 1}, "write"),
        ("lb_resize", {"destination_id": 1, "res_name": "vm", "new_capacity": 1}, "write"),
        ("lb_reload", None, "write"),
    ],
)
def test_levels(method: str, params: dict[str, object] | None, expected: str) -> None:
    assert level(method, params) == expected


def test_snapshot_loads_back_to_the_same_listing() -> None:
    world = captured_world()
    call(world, "lb_status", {"destination_id": 2, "new_status": 0})
    again = make_world(load_balancer=world.get(LoadBalancerState).snapshot())
    assert call(again, "lb_list") == call(world, "lb_list")
