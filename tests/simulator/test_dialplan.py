"""dialplan: dp_translate as the captured server answers it, and dp_reload."""

from __future__ import annotations

from typing import Any

import pytest

from opensips_sim import dispatch
from opensips_sim.errors import MIError
from opensips_sim.registry import load_all_handlers
from opensips_sim.state.dialplan import DialplanState
from opensips_sim.world import World

load_all_handlers()

RULES = {
    "rules": [
        {"dpid": 1, "pr": 0, "match_exp": "^0", "subst_exp": "^0(.*)", "repl_exp": "+49\\1",
         "attrs": "de"},
        {"dpid": 2, "pr": 5, "match_op": 0, "match_exp": "ALICE", "match_flags": 1,
         "repl_exp": "sip:alice@example.net", "attrs": "user"},
        {"dpid": 2, "pr": 1, "match_exp": "^9", "subst_exp": "^9(\\d+)", "repl_exp": "\\1"},
    ]
}  # fmt: skip


def world() -> World:
    w = World(seed=1)
    w.load({"dialplan": RULES})
    return w


def call(w: World, params: dict[str, Any]) -> Any:
    return dispatch.run(w, "dp_translate", params)


@pytest.mark.parametrize("dpid", [1, "1", 1.9, "+1"])
def test_dpid_is_read_as_text_and_converted_like_str2sint(dpid: Any) -> None:
    assert call(world(), {"dpid": dpid, "input": "0123"}) == {
        "Output": "+49123",
        "ATTRIBUTES": "de",
    }


def test_rules_are_tried_by_priority_and_equal_matching_may_ignore_case() -> None:
    w = world()
    assert call(w, {"dpid": 2, "input": "9555"}) == {"Output": "555", "ATTRIBUTES": ""}
    assert call(w, {"dpid": 2, "input": "alice"})["Output"] == "sip:alice@example.net"


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"dpid": 99, "input": "0123"}, 404, "No information available for dpid"),
        ({"dpid": 1, "input": "123"}, 404, "No translation"),
        ({"dpid": "x", "input": "0123"}, 404, "Wrong id parameter"),
        ({"dpid": "", "input": "0123"}, 404, "Empty id parameter"),
        ({"dpid": 1, "input": ""}, 404, "Empty input parameter"),
        # seen on the lab 3.6.8 (dialplan.c): the partition is checked first
        ({"dpid": "", "input": "0123", "partition": "nope"}, 400, "Partition not found"),
    ],
)
def test_failures_answer_the_module_codes(params: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(MIError) as err:
        call(world(), params)
    assert (err.value.code, err.value.message) == (code, message)


def test_dp_reload_applies_the_database_rows() -> None:
    w = world()
    w.get(DialplanState).set_database({"rules": [{"dpid": 7, "match_exp": ".*"}]})
    assert call(w, {"dpid": 1, "input": "0123"})["Output"] == "+49123"

    assert dispatch.run(w, "dp_reload", None) == "OK"

    with pytest.raises(MIError):
        call(w, {"dpid": 1, "input": "0123"})
    assert call(w, {"dpid": 7, "input": "abc"}) == {"Output": "abc", "ATTRIBUTES": ""}


def test_levels_are_read_for_translate_and_write_for_reload() -> None:
    assert dispatch.resolve("dp_translate", {"dpid": 1, "input": "0"}).level == "read"
    assert dispatch.resolve("dp_reload", None).level == "write"
