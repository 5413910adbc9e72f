"""Lookups that find nothing answer "nothing" rather than fail, and changes with nothing
to change send nothing; real failures still fail with their code."""

from __future__ import annotations

import pytest

from opensips_mcp.gate import Role
from opensips_sim.runner import RunningSimulator

from .conftest import ServerFor
from .helpers import call, content, error_code, last_seq, methods


async def test_an_aor_that_is_not_registered_lists_no_contacts(make_server: ServerFor) -> None:
    page = content(await call(make_server(Role.VIEWER), "registrations_list", {"aor": "nobody"}))
    assert (page["total"], page["contacts"], page["next_cursor"]) == (0, [], None)


async def test_an_unknown_usrloc_table_is_an_error_not_an_empty_list(
    make_server: ServerFor,
) -> None:
    result = await call(
        make_server(Role.VIEWER), "registrations_list", {"aor": "alice", "table": "nosuch"}
    )
    assert error_code(result) == "opensips_error"


@pytest.mark.parametrize(
    "args",
    [{"aor": "nobody"}, {"aor": "alice", "contact": "sip:alice@192.0.2.200:5060"}],
    ids=["unknown-aor", "unknown-contact"],
)
async def test_removing_what_is_not_registered_sends_no_removal(
    args: dict[str, str], sim: RunningSimulator, make_server: ServerFor
) -> None:
    before = last_seq(sim)
    change = content(await call(make_server(Role.ADMIN), "registration_remove", args))
    assert change["action"] == "nothing_to_remove"
    assert set(methods(sim, before)) == {"ul_show_contact"}


async def test_removing_one_contact_keeps_the_others_of_the_aor(
    sim: RunningSimulator, make_server: ServerFor
) -> None:
    server = make_server(Role.ADMIN)
    await call(server, "registration_add", {"aor": "alice", "contact": "sip:alice@192.0.2.7"})
    change = content(
        await call(
            server,
            "registration_remove",
            {"aor": "alice", "contact": "sip:alice@127.0.0.1:5071"},
        )
    )
    assert (change["action"], change["contacts_before"], change["contacts_after"]) == (
        "removed",
        2,
        1,
    )
    assert [c["contact"] for c in change["contacts"]] == ["sip:alice@192.0.2.7"]
    assert "ul_rm_contact" in methods(sim) and "ul_rm" not in methods(sim)


async def test_adding_a_contact_again_refreshes_it(make_server: ServerFor) -> None:
    server = make_server(Role.OPERATOR)
    args = {"aor": "alice", "contact": "sip:alice@127.0.0.1:5071", "expires_seconds": 0}
    change = content(await call(server, "registration_add", args))
    assert change["action"] == "updated" and change["contacts_after"] == 1
    assert change["contacts"][0]["expires_in"] is None  # 0 made it permanent


async def test_an_unknown_call_id_lists_no_call_and_shows_not_found(
    make_server: ServerFor,
) -> None:
    server = make_server(Role.VIEWER)
    listed = content(await call(server, "dialogs_list", {"callid": "nope@nowhere"}))
    shown = content(await call(server, "dialog_show", {"callid": "nope@nowhere"}))
    assert listed["dialogs"] == [] and shown["found"] is False


async def test_ending_a_call_that_does_not_exist_fails_with_the_opensips_code(
    make_server: ServerFor,
) -> None:
    result = await call(make_server(Role.ADMIN), "dialog_end", {"dialog_id": "1.2"})
    assert error_code(result) == "opensips_error"


async def test_a_number_no_rule_matches_routes_nowhere(make_server: ServerFor) -> None:
    route = content(
        await call(make_server(Role.VIEWER), "routing_test_number", {"number": "1", "group_id": 9})
    )
    assert (route["matched"], route["targets"]) == (False, [])


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("dialogs_list", {"limit": 501}),
        ("registrations_list", {"limit": 0}),
        ("registrations_list", {"received_ip": "not an ip"}),
        ("registration_add", {"aor": "a b", "contact": "sip:x@y"}),
        ("registration_add", {"aor": "a", "contact": "http://x"}),
        ("dispatcher_set_state", {"set_id": 1, "address": "sip:x", "state": "down"}),
        ("routing_test_number", {"number": "12; drop", "group_id": 1}),
        ("cluster_drain_node", {"cluster_id": 1, "wait_seconds": 601}),
    ],
)
async def test_arguments_outside_their_schema_are_refused_before_anything_is_sent(
    tool: str, args: dict[str, object], sim: RunningSimulator, make_server: ServerFor
) -> None:
    result = await call(make_server(Role.ADMIN), tool, args)
    assert result.is_error
    assert methods(sim) == []
