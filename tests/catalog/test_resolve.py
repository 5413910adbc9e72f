"""Resolving (command, params) to the recipe OpenSIPS would pick and the level the gate needs."""

from __future__ import annotations

import pytest

from opensips_mcp.catalog import (
    AccessLevel,
    CarriedCommandError,
    InvalidParamsShape,
    NoMatchingRecipe,
    UnknownCommand,
    load_catalog,
)

cat = load_catalog()


def test_named_params_pick_the_recipe_with_exactly_those_names() -> None:
    res = cat.resolve("dr_gw_status", {"status": 1, "gw_id": "gw1"})
    assert res.recipe.params == ("gw_id", "status")
    assert res.level is AccessLevel.WRITE


def test_omitted_and_empty_params_are_the_empty_recipe() -> None:
    assert cat.resolve("dr_gw_status", None).level is AccessLevel.READ
    assert cat.resolve("dr_gw_status", {}).recipe.params == ()
    assert cat.resolve("uptime", []).recipe.params == ()


def test_positional_params_take_the_highest_level_of_same_length_recipes() -> None:
    # ["x"] may be partition_name or gw_id (both read); two values may set a status.
    assert cat.resolve("dr_gw_status", ["gw1"]).level is AccessLevel.READ
    assert cat.resolve("dr_gw_status", ["gw1", 0]).level is AccessLevel.WRITE


def test_unknown_command_lists_close_real_names() -> None:
    with pytest.raises(UnknownCommand) as err:
        cat.resolve("dlg_lst", None)
    assert "dlg_list" in err.value.suggestions


def test_invented_command_is_unknown_even_if_other_tools_use_it() -> None:
    with pytest.raises(UnknownCommand):
        cat.resolve("uac_reg_list", None)


def test_params_matching_no_recipe_report_the_valid_recipes() -> None:
    with pytest.raises(NoMatchingRecipe) as err:
        cat.resolve("ul_show_contact", {"aor": "alice"})
    assert err.value.entry.name == "ul_show_contact"
    assert "table_name" in err.value.message


def test_positional_params_of_no_recipe_length_are_refused() -> None:
    with pytest.raises(NoMatchingRecipe):
        cat.resolve("uptime", [1, 2, 3])


@pytest.mark.parametrize("params", ["dialog:", 5, True])
def test_params_that_are_neither_object_nor_array_are_refused(params: object) -> None:
    with pytest.raises(InvalidParamsShape):
        cat.resolve("get_statistics", params)  # type: ignore[arg-type]


def test_cluster_send_mi_carrying_a_read_is_read() -> None:
    res = cat.resolve(
        "cluster_send_mi",
        {"cluster_id": 1, "destination": 2, "cmd_name": "ul_dump"},
    )
    assert res.level is AccessLevel.READ
    assert res.carried is not None and res.carried.entry.name == "ul_dump"


def test_cluster_send_mi_takes_the_level_of_the_write_it_carries() -> None:
    res = cat.resolve(
        "cluster_send_mi",
        {"cluster_id": 1, "destination": 2, "cmd_name": "dlg_end_dlg", "cmd_params": ["1.2"]},
    )
    assert res.level is AccessLevel.DESTRUCTIVE


def test_cluster_send_mi_resolves_the_carried_get_or_set_by_its_own_params() -> None:
    get = cat.resolve(
        "cluster_send_mi",
        {"cluster_id": 1, "destination": 2, "cmd_name": "lb_status", "cmd_params": ["1"]},
    )
    set_ = cat.resolve(
        "cluster_send_mi",
        {"cluster_id": 1, "destination": 2, "cmd_name": "lb_status", "cmd_params": ["1", "0"]},
    )
    assert (get.level, set_.level) == (AccessLevel.READ, AccessLevel.WRITE)


def test_cluster_broadcast_mi_is_at_least_admin() -> None:
    res = cat.resolve("cluster_broadcast_mi", {"cluster_id": 1, "cmd_name": "uptime"})
    assert res.level is AccessLevel.ADMIN


def test_an_unknown_carried_command_is_refused() -> None:
    with pytest.raises(CarriedCommandError):
        cat.resolve("cluster_send_mi", {"cluster_id": 1, "destination": 2, "cmd_name": "nope"})


def test_carried_params_that_match_no_recipe_are_refused() -> None:
    with pytest.raises(CarriedCommandError):
        cat.resolve(
            "cluster_broadcast_mi",
            {"cluster_id": 1, "cmd_name": "ul_show_contact", "cmd_params": ["location"]},
        )


def test_carried_params_must_be_an_array() -> None:
    with pytest.raises(CarriedCommandError):
        cat.resolve(
            "cluster_send_mi",
            {"cluster_id": 1, "destination": 2, "cmd_name": "uptime", "cmd_params": {"a": 1}},
        )


def test_nested_carriers_take_the_highest_level() -> None:
    res = cat.resolve(
        "cluster_send_mi",
        {
            "cluster_id": 1,
            "destination": 2,
            "cmd_name": "cluster_send_mi",
            "cmd_params": ["1", "3", "kill"],
        },
    )
    assert res.level is AccessLevel.ADMIN


def test_a_command_only_the_live_server_offers_is_admin() -> None:
    res = cat.resolve("brand_new_cmd", {"x": 1}, live_names=frozenset({"brand_new_cmd"}))
    assert res.level is AccessLevel.ADMIN
    assert res.entry.live_only


def test_opensips_4_names_resolve_to_the_same_entry() -> None:
    assert cat.resolve("statistics:get", {"statistics": ["all"]}).entry.name == "get_statistics"


def test_wire_name_follows_what_the_live_server_reports() -> None:
    assert cat.wire_name("get_statistics", frozenset({"statistics:get"})) == "statistics:get"
    assert cat.wire_name("get_statistics", frozenset({"get_statistics"})) == "get_statistics"
    assert cat.wire_name("statistics:get", frozenset({"get_statistics"})) == "get_statistics"
    assert cat.wire_name("uptime", frozenset()) == "uptime"
