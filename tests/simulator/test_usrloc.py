"""usrloc commands against the quiet table (alice, bob, carol) and the registration clock."""

from __future__ import annotations

import pytest

from opensips_sim import dispatch
from opensips_sim.state.usrloc import parse_q, q_text

from .sim_helpers import advance, mi, mi_error, world_of

ADD = {
    "table_name": "location",
    "aor": "dave",
    "contact": "sip:dave@127.0.0.1:5090",
    "expires": 120,
    "q": "0.5",
    "flags": 0,
    "cflags": 0,
    "methods": 4294967295,
}


def aors(world: object) -> list[str]:
    dump = mi(world, "ul_dump", {"brief": 1})  # type: ignore[arg-type]
    return [a["AOR"] for a in dump["Domains"][0]["AORs"]]


def test_ul_dump_lists_aors_in_hash_slot_order_like_opensips() -> None:
    assert aors(world_of()) == ["carol", "bob", "alice"]


def test_ul_show_contact_strips_the_domain_when_the_table_does_not_use_domains() -> None:
    answer = mi(world_of(), "ul_show_contact", {"table_name": "location", "aor": "alice@x.org"})
    assert answer["AOR"] == "alice"


def test_ul_show_contact_of_an_unknown_aor_is_404() -> None:
    assert mi_error(world_of(), "ul_show_contact", {"table_name": "location", "aor": "zed"})[
        :2
    ] == (404, "AOR not found")


def test_an_unknown_table_is_refused_before_the_aor_is_read() -> None:
    code, message, _ = mi_error(world_of(), "ul_show_contact", {"table_name": "x", "aor": True})
    assert (code, message) == (404, "Table not found")


def test_ul_add_registers_a_new_aor_with_the_mi_identity() -> None:
    world = world_of()
    assert mi(world, "ul_add", ADD) == "OK"
    contact = mi(world, "ul_show_contact", {"table_name": "location", "aor": "dave"})["Contacts"][0]
    assert contact["Contact"] == ADD["contact"]
    assert contact["Expires"] == 120
    assert contact["Q"] == "0.5"
    assert contact["Callid"] == "dfjrewr12386fd6-343@opensips.mi"
    assert contact["User-agent"] == "OpenSIPS MI Server"
    assert contact["Cseq"] == 1


def test_a_contact_added_by_ul_add_has_no_socket_as_on_a_real_3_6_8() -> None:
    world = world_of()
    mi(world, "ul_add", ADD)
    shown = mi(world, "ul_show_contact", {"table_name": "location", "aor": "dave"})["Contacts"]
    dumped = [
        c
        for a in mi(world, "ul_dump")["Domains"][0]["AORs"]
        if a["AOR"] == "dave"
        for c in a["Contacts"]
    ]
    assert "Socket" not in shown[0] and "Socket" not in dumped[0]
    # a registered contact keeps its socket; re-adding it by MI drops it (mem_update_ucontact)
    alice = mi(world, "ul_show_contact", {"table_name": "location", "aor": "alice"})["Contacts"]
    assert "Socket" in alice[0]
    mi(world, "ul_add", ADD | {"aor": "alice", "contact": alice[0]["Contact"]})
    again = mi(world, "ul_show_contact", {"table_name": "location", "aor": "alice"})["Contacts"]
    assert "Socket" not in next(c for c in again if c["Contact"] == alice[0]["Contact"])


def test_ul_add_of_a_known_contact_updates_it_instead_of_adding_one() -> None:
    world = world_of()
    mi(world, "ul_add", ADD)
    mi(world, "ul_add", ADD | {"expires": 600, "q": "1"})
    contacts = mi(world, "ul_show_contact", {"table_name": "location", "aor": "dave"})["Contacts"]
    assert [(c["Expires"], c["Q"]) for c in contacts] == [(600, "1")]


def test_ul_add_with_zero_expires_makes_a_permanent_contact_that_never_expires() -> None:
    world = world_of()
    mi(world, "ul_add", ADD | {"expires": 0})
    advance(world, 10 * 86400)
    contact = mi(world, "ul_show_contact", {"table_name": "location", "aor": "dave"})["Contacts"][0]
    assert contact["Expires"] == "permanent"


def test_ul_add_refuses_a_q_above_one() -> None:
    assert mi_error(world_of(), "ul_add", ADD | {"q": "1.5"})[:2] == (400, "Bad parameter value")


def test_ul_add_orders_contacts_by_q_highest_first() -> None:
    world = world_of()
    mi(world, "ul_add", ADD | {"q": "0.1"})
    mi(world, "ul_add", ADD | {"contact": "sip:dave@10.0.0.2", "q": "0.9"})
    contacts = mi(world, "ul_show_contact", {"table_name": "location", "aor": "dave"})["Contacts"]
    assert [c["Q"] for c in contacts] == ["0.9", "0.1"]


def test_registrations_expire_with_the_clock_and_are_counted() -> None:
    world = world_of()
    mi(world, "ul_add", ADD)
    advance(world, 121)
    assert "dave" not in aors(world)
    stats = mi(world, "get_statistics", {"statistics": ["usrloc:"]})
    assert stats["usrloc:location-expires"] == 1
    assert stats["usrloc:registered_users"] == 3


def test_the_captured_registrations_expire_after_about_an_hour() -> None:
    world = world_of()
    advance(world, 3599)  # expired, but usrloc's timer (every 60 s) has not run since
    expires = {
        c["Expires"] for a in mi(world, "ul_dump")["Domains"][0]["AORs"] for c in a["Contacts"]
    }
    assert expires == {"expired"}
    advance(world, 1)  # its run at 3,600 s purges them
    assert aors(world) == []
    assert mi(world, "get_statistics", {"statistics": ["location-contacts"]}) == {
        "usrloc:location-contacts": 0
    }


def test_ul_rm_drops_the_aor_and_answers_ok_even_for_an_unknown_one() -> None:
    world = world_of()
    assert mi(world, "ul_rm", {"table_name": "location", "aor": "bob"}) == "OK"
    assert mi(world, "ul_rm", {"table_name": "location", "aor": "nobody"}) == "OK"
    assert aors(world) == ["carol", "alice"]


def test_ul_rm_contact_drops_one_contact_and_the_aor_with_its_last() -> None:
    world = world_of()
    mi(world, "ul_add", ADD | {"aor": "alice", "contact": "sip:alice@10.0.0.9"})
    params = {"table_name": "location", "aor": "alice", "contact": "sip:alice@10.0.0.9"}
    assert mi(world, "ul_rm_contact", params) == "OK"
    assert "alice" in aors(world)
    mi(world, "ul_rm_contact", params | {"contact": "sip:alice@127.0.0.1:5071"})
    assert "alice" not in aors(world)


def test_ul_rm_contact_distinguishes_unknown_aor_from_unknown_contact() -> None:
    world = world_of()
    params = {"table_name": "location", "aor": "zed", "contact": "sip:zed@x"}
    assert mi_error(world, "ul_rm_contact", params)[:2] == (404, "AOR not found")
    assert mi_error(world, "ul_rm_contact", params | {"aor": "bob"})[:2] == (
        404,
        "Contact not found",
    )


def test_ul_flush_changes_nothing() -> None:
    world = world_of()
    before = world.snapshot()["usrloc"]
    assert mi(world, "ul_flush") == "OK"
    assert world.snapshot()["usrloc"] == before


def test_usrloc_levels_follow_what_each_command_does() -> None:
    levels = {
        name: dispatch.resolve(name, params).level
        for name, params in [
            ("ul_dump", None),
            ("ul_show_contact", {"table_name": "l", "aor": "a"}),
            ("ul_add", ADD),
            ("ul_rm", {"table_name": "l", "aor": "a"}),
            ("ul_rm_contact", {"table_name": "l", "aor": "a", "contact": "c"}),
            ("ul_flush", None),
        ]
    }
    assert levels == {
        "ul_dump": "read",
        "ul_show_contact": "read",
        "ul_add": "write",
        "ul_rm": "destructive",
        "ul_rm_contact": "destructive",
        "ul_flush": "write",
    }


def test_q_values_print_and_parse_as_opensips_does() -> None:
    assert [q_text(q) for q in (-1, 0, 100, 123, 500, 1000)] == [
        "",
        "0",
        "0.1",
        "0.123",
        "0.5",
        "1",
    ]
    # measured on a real 3.6.8: digits after the third are ignored, "0." is 0
    assert [parse_q(t) for t in ("0", "1", "0.5", "1.0", "0.123", "1.5", "0.1234", "x", "0.")] == [
        0,
        1000,
        500,
        1000,
        123,
        None,
        123,
        None,
        0,
    ]


@pytest.mark.parametrize(
    ("text", "thousandths"),
    [
        ("1", 1000), (" 1", 1000), ("\t0.3", 300), (".5", 500), ("0.", 0), ("1.", 1000),
        (".", 0), ("01", 1000), ("00.25", 250), ("0.12345", 123), ("0.0005", 0),
        ("1.000", 1000), ("1.001", None), ("2", None), ("10", None), ("", None), ("  ", None),
        ("1 ", None), ("0.5x", None), ("-1", None), ("0,5", None),
    ],
)  # fmt: skip
def test_q_is_read_as_opensips_str2q_reads_it(text: str, thousandths: int | None) -> None:
    # every case answered alike by ul_add + ul_show_contact on a real 3.6.8 (2026-12-05)
    assert parse_q(text) == thousandths
