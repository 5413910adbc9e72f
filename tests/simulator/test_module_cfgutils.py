"""cfgutils: shv_get and shv_set."""

from __future__ import annotations

from typing import Any

import pytest

from opensips_sim import errors
from opensips_sim.state.cfgutils import CfgutilsState

from .module_helpers import call, captured_error_case, captured_world, fails, level, make_world

VARS = {
    "shared_vars": [
        {"name": "gw_mode", "type": "string", "value": "primary"},
        {"name": "max_calls", "type": "integer", "value": 100},
    ]
}


def test_get_of_an_unknown_variable_fails_as_the_real_server_does() -> None:
    method, params, expected = captured_error_case("shv_get_unknown")
    err = fails(captured_world(), method, params)
    assert (err.code, err.message) == (expected["code"], expected["message"])


def test_get_of_one_variable_shows_its_type_and_value() -> None:
    world = make_world(cfgutils=VARS)
    assert call(world, "shv_get", {"name": "gw_mode"}) == {
        "VAR": {"type": "string", "value": "primary"}
    }
    assert call(world, "shv_get", {"name": "max_calls"}) == {
        "VAR": {"type": "integer", "value": 100}
    }


def test_get_of_all_variables_is_an_array_holding_the_vars_array() -> None:
    assert call(make_world(cfgutils=VARS), "shv_get") == [
        [
            {"name": "gw_mode", "type": "string", "value": "primary"},
            {"name": "max_calls", "type": "integer", "value": 100},
        ]
    ]


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("str", "backup", {"type": "string", "value": "backup"}),
        ("S", 12, {"type": "string", "value": "12"}),
        ("int", "250", {"type": "integer", "value": 250}),
        ("i", -3, {"type": "integer", "value": -3}),
        ("anything", "7", {"type": "integer", "value": 7}),
    ],
)
def test_set_then_get_reads_back_the_value_with_its_type(
    kind: str, value: Any, expected: dict[str, Any]
) -> None:
    world = make_world(cfgutils=VARS)
    assert call(world, "shv_set", {"name": "gw_mode", "type": kind, "value": value}) == "OK"
    assert call(world, "shv_get", {"name": "gw_mode"}) == {"VAR": expected}


def test_set_creates_a_variable_that_did_not_exist() -> None:
    world = make_world()
    call(world, "shv_set", {"name": "fresh", "type": "int", "value": 1})
    assert call(world, "shv_get") == [[{"name": "fresh", "type": "integer", "value": 1}]]


def test_an_integer_value_that_is_no_number_is_a_type_error() -> None:
    err = fails(make_world(), "shv_set", {"name": "x", "type": "int", "value": "many"})
    assert (err.code, err.data) == (errors.INVALID_PARAMS, "Bad type for parameter 'value'")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"name": "x", "type": "", "value": "1"}, "type not found"),
        ({"name": "x", "type": "s", "value": ""}, "value not found"),
    ],
)
def test_empty_type_or_string_value_is_500(params: dict[str, Any], message: str) -> None:
    err = fails(make_world(), "shv_set", params)
    assert (err.code, err.message) == (500, message)
    assert call(make_world(), "shv_get") == [[]]


def test_levels() -> None:
    assert level("shv_get") == "read"
    assert level("shv_get", {"name": "x"}) == "read"
    assert level("shv_set", {"name": "x", "type": "int", "value": 1}) == "write"


def test_snapshot_loads_back() -> None:
    world = make_world(cfgutils=VARS)
    call(world, "shv_set", {"name": "max_calls", "type": "int", "value": 5})
    again = make_world(cfgutils=world.get(CfgutilsState).snapshot())
    assert call(again, "shv_get") == call(world, "shv_get")
