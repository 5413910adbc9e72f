"""Per-version recipes: the simulator matches a request against the impersonated version's
own recipes where they differ from 3.6's. Answers measured on real labs by the differential
run (``python -m conformance.differential``): real 4.0.1 answers ``tcp:list`` with
``{"zz_nope": 1}`` "Named parameters do not match" (it has a ``proto`` recipe), 3.6.8 "Too
few or too many parameters"."""

from __future__ import annotations

import pytest

from opensips_sim.persona import persona

from .test_personas import ask, simulator

TOO_FEW_OR_MANY = "Too few or too many parameters"
NAMES_DO_NOT_MATCH = "Named parameters do not match"


@pytest.mark.parametrize(
    ("version", "method", "data"),
    [
        ("4.0.1", "tcp:list", NAMES_DO_NOT_MATCH),
        ("4.0.1", "list_tcp_conns", NAMES_DO_NOT_MATCH),
        ("3.6.8", "list_tcp_conns", TOO_FEW_OR_MANY),
        ("3.4.18", "list_tcp_conns", TOO_FEW_OR_MANY),
    ],
)
def test_a_named_param_no_recipe_has_is_judged_by_the_versions_recipes(
    version: str, method: str, data: str
) -> None:
    answer = ask(simulator(version), method, {"zz_nope": 1})
    assert (answer["error"]["code"], answer["error"]["data"]) == (-32602, data)


def test_a_recipe_only_the_version_has_is_accepted_and_one_it_lacks_is_refused() -> None:
    proto = ask(simulator("4.0.1"), "tcp:list", {"proto": "tcp"})
    assert proto.get("error", {}).get("code") != -32602  # 4.0's own recipe: matched
    mode = {"callid": "x", "method": "INFO", "body": "", "mode": 0, "headers": ""}
    assert ask(simulator("3.6.8"), "dlg_send_sequential", mode)["error"]["code"] != -32602
    refused = ask(simulator("3.4.18"), "dlg_send_sequential", mode)["error"]
    assert (refused["code"], refused["data"]) == (-32602, TOO_FEW_OR_MANY)


def test_only_the_commands_whose_recipes_differ_are_overridden() -> None:
    assert persona("3.6.8").recipes == {}
    assert set(persona("4.0.1").recipes) == {"list_tcp_conns"}
    assert "dlg_send_sequential" in persona("3.4.18").recipes


@pytest.mark.parametrize("method", ["uac_registrant:delete", "reg_delete"])
def test_a_command_new_in_4x_checks_its_recipes_then_runs(method: str) -> None:
    """4.0's uac_registrant:delete (3.6 has none): listed by ``which``, reached by its full
    name and its alias, params checked like any command's, then run (an unknown registrant:
    404 as a real 4.0.1 answers), never ``Method not found`` as it answered before (the wire
    property found it)."""
    sim = simulator("4.0.1")
    assert "uac_registrant:delete" in ask(sim, "which")["result"]
    bad = ask(sim, method, {"zz_nope": 1, "a": 2, "b": 3})["error"]
    assert (bad["code"], bad["data"]) == (-32602, NAMES_DO_NOT_MATCH)
    valid = {"aor": "sip:a@127.0.0.1", "contact": "sip:a@127.0.0.1", "registrar": "sip:r"}
    assert ask(sim, method, valid)["error"]["code"] == 404
    assert ask(simulator("3.6.8"), "uac_registrant:delete", valid)["error"]["code"] == -32601


@pytest.mark.parametrize("method", ["tcp:close", "close"])
def test_tcp_close_runs_under_both_its_4x_names_and_3_6_lacks_it(method: str) -> None:
    sim = simulator("4.0.1")
    assert "tcp:close" in ask(sim, "which")["result"]
    assert ask(sim, method, {"ipport": "127.0.0.1:5060"}) == {
        "jsonrpc": "2.0",
        "result": None,
        "id": 1,
    }
    assert ask(simulator("3.6.8"), "tcp:close", {"ipport": "127.0.0.1:5060"})["error"]["code"] == (
        -32601
    )
