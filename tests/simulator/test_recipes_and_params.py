"""Recipe matching, parameter coercions, JSON-RPC framing details, and what the simulator
answers for commands it does not implement."""

from __future__ import annotations

import json

import pytest

from opensips_sim import dispatch, jsonrpc
from opensips_sim.errors import INVALID_PARAMS, METHOD_NOT_FOUND, MIError
from opensips_sim.params import Params, str2sint
from opensips_sim.registry import HANDLERS, commands

from .conftest import StartSimulator
from .rawhttp import exchange, post
from .sim_helpers import mi_error, world_of


def resolve_error(method: str, params: object) -> tuple[int, str | None]:
    with pytest.raises(MIError) as caught:
        dispatch.resolve(method, params)  # type: ignore[arg-type]
    return caught.value.code, caught.value.data


def test_positional_params_bind_to_the_one_recipe_of_that_size() -> None:
    resolved = dispatch.resolve("ul_show_contact", ["location", "alice"])
    assert resolved.params.as_dict() == {"table_name": "location", "aor": "alice"}


def test_positional_params_matching_two_recipes_are_ambiguous() -> None:
    # profile_get_size has [profile] only once, but version/which style commands with two
    # one-name recipes must be named: find one in the real table.
    name = next(
        n
        for n, info in commands().items()
        if info.seen_live
        and not info.named_only
        and sum(1 for r in info.recipes if len(r) == 1) > 1
    )
    assert resolve_error(name, ["x"]) == (
        INVALID_PARAMS,
        "Ambiguous call, use named parameters instead",
    )


def test_empty_params_of_either_kind_mean_no_params() -> None:
    assert dispatch.resolve("dlg_list", []).recipe == ()
    assert dispatch.resolve("dlg_list", {}).recipe == ()


def test_a_command_without_a_parameterless_recipe_refuses_no_params() -> None:
    assert resolve_error("get_statistics", None) == (
        INVALID_PARAMS,
        "Too few or too many parameters",
    )


def test_commands_of_modules_the_captured_server_did_not_load_are_not_found() -> None:
    not_loaded = next(n for n, i in commands().items() if not i.seen_live and n not in HANDLERS)
    assert resolve_error(not_loaded, None)[0] == METHOD_NOT_FOUND


def test_an_unimplemented_loaded_command_checks_params_then_answers_501() -> None:
    world = world_of()
    assert mi_error(world, "ul_sync", {})[2] == "Too few or too many parameters"
    assert mi_error(world, "ul_sync", {"table_name": "location"})[:2] == (
        501,
        "Not implemented by opensips-sim",
    )


@pytest.mark.parametrize(
    ("value", "text", "integer"),
    [
        ("12", "12", 12),
        (12, "12", 12),
        (1.9, "1", 1),
        (-1.9, "-1", -1),
        (2**40, "2147483647", 2147483647),
        ("+7", "+7", 7),
        ("-7", "-7", -7),
    ],
)
def test_params_coerce_like_cjson_and_str2sint(value: object, text: str, integer: int) -> None:
    params = Params({"x": value})
    assert params.text("x") == text
    assert params.integer("x") == integer


@pytest.mark.parametrize("value", [" 1", "1.5", "1_0", "", "0x10"])
def test_integer_params_refuse_what_str2sint_refuses(value: str) -> None:
    with pytest.raises(MIError) as caught:
        Params({"x": value}).integer("x")
    assert caught.value.data == "Bad type for parameter 'x'"


def test_str2sint_wraps_like_a_c_int() -> None:
    assert str2sint("4294967297") == 1
    assert str2sint("2147483648") == -2147483648


def test_jsonrpc_members_are_found_case_insensitively_first_one_winning() -> None:
    request = jsonrpc.parse(b'{"JSONRPC":"2.0","Method":"uptime","method":"ps","ID":3}')
    assert (request.invalid, request.method, request.id) == (False, "uptime", 3)


def test_jsonrpc_refuses_nan_and_infinity() -> None:
    assert not jsonrpc.parse(b'{"jsonrpc":"2.0","method":"uptime","id":NaN}').parsed


def test_numeric_ids_are_echoed_through_a_c_int() -> None:
    assert [jsonrpc.echo_id(v) for v in (1.5, -2.7, -(2**40), 2**40, "7", None)] == [
        1,
        -2,
        -2147483648,
        2147483647,
        "7",
        None,
    ]


async def test_a_notification_that_fails_is_still_202(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(quirks=False)
    head, _ = await exchange(
        sim.port, post(b'{"jsonrpc":"2.0","method":"dlg_end_dlg","params":{"dialog_id":"1.1"}}')
    )
    assert head.status == 202
    assert sim.journal()[-1]["error_code"] == 404


async def test_a_notification_runs_its_command(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(quirks=False)
    body = {"jsonrpc": "2.0", "method": "ul_rm", "params": {"table_name": "location", "aor": "bob"}}
    head, _ = await exchange(sim.port, post(json.dumps(body)))
    assert head.status == 202
    assert "bob" not in sim.world.snapshot()["usrloc"]["aors"]
