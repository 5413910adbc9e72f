"""pike: pike_list and pike_rm."""

from __future__ import annotations

import pytest

from opensips_sim.state.pike import PikeState

from .module_helpers import call, captured_error_case, captured_world, fails, level, make_world

PIKE = {
    "ips": [
        {"ip": "10.0.0.66", "blocked": True},
        {"ip": "10.0.0.7"},
        {"ip": "192.168.1.200", "blocked": True},
        {"ip": "2001:db8::1", "blocked": True},
    ]
}


def test_list_shows_only_blocked_addresses_in_tree_order_and_the_modules_format() -> None:
    # the tree branches on the first byte (0x0a, 0x20, 0xc0); IPv6 prints "%x%x" pairs
    assert call(make_world(pike=PIKE), "pike_list") == {
        "IPs": ["10.0.0.66", "201:db8:00:00:00:00:00:01", "192.168.1.200"]
    }


def test_list_without_a_section_is_empty() -> None:
    assert call(make_world(), "pike_list") == {"IPs": []}


def test_rm_of_an_untracked_address_fails_as_the_real_server_does() -> None:
    method, params, expected = captured_error_case("pike_rm_unknown_ip")
    err = fails(captured_world(), method, params)
    assert (err.code, err.message) == (expected["code"], expected["message"])


def test_rm_unblocks_and_keeps_tracking() -> None:
    world = make_world(pike=PIKE)
    assert call(world, "pike_rm", {"ip": "10.0.0.66"}) == "OK"
    assert "10.0.0.66" not in call(world, "pike_list")["IPs"]
    err = fails(world, "pike_rm", {"ip": "10.0.0.66"})
    assert (err.code, err.message) == (400, "IP not blocked")


def test_rm_of_a_tracked_address_that_is_not_blocked_is_400() -> None:
    err = fails(make_world(pike=PIKE), "pike_rm", {"ip": "10.0.0.7"})
    assert (err.code, err.message) == (400, "IP not blocked")


@pytest.mark.parametrize("ip", ["not-an-ip", "2001:db8::1", "10.0.0"])
def test_rm_only_parses_ipv4_like_the_module(ip: str) -> None:
    err = fails(make_world(pike=PIKE), "pike_rm", {"ip": ip})
    assert (err.code, err.message) == (500, "Bad IP")


def test_levels() -> None:
    assert (level("pike_list"), level("pike_rm", {"ip": "1.2.3.4"})) == ("read", "write")


def test_snapshot_loads_back() -> None:
    world = make_world(pike=PIKE)
    call(world, "pike_rm", {"ip": "192.168.1.200"})
    again = make_world(pike=world.get(PikeState).snapshot())
    assert call(again, "pike_list") == call(world, "pike_list")
