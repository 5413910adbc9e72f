"""permissions: address_dump and address_reload."""

from __future__ import annotations

from typing import Any

import pytest

from opensips_sim.state.permissions import PermissionsState

from .module_helpers import call, fails, level, make_world

PERMISSIONS = {
    "partitions": [
        {
            "name": "default",
            "addresses": [
                {"grp": 1, "ip": "10.0.0.10"},
                {
                    "grp": 2,
                    "ip": "2001:db8::5",
                    "port": 5060,
                    "proto": "udp",
                    "pattern": "^sip:.*@carrier$",
                    "context_info": "carrier A",
                },
            ],
        },
        {"name": "trunks", "addresses": [{"grp": 7, "ip": "192.0.2.1", "proto": "tls"}]},
    ]
}

ROW_DEFAULT_1 = {
    "grp": 1,
    "ip": "10.0.0.10",
    "mask": "32",
    "port": 0,
    "proto": "any",
    "pattern": "",
    "context_info": "",
}


def test_dump_lists_every_partition_with_its_destinations() -> None:
    dump = call(make_world(permissions=PERMISSIONS), "address_dump")
    assert [p["name"] for p in dump["Partitions"]] == ["default", "trunks"]
    default = dump["Partitions"][0]["Destinations"]
    assert default[0] == ROW_DEFAULT_1
    assert default[1] == {
        "grp": 2,
        "ip": "2001:db8::5",
        "mask": "128",
        "port": 5060,
        "proto": "udp",
        "pattern": "^sip:.*@carrier$",
        "context_info": "carrier A",
    }


def test_dump_of_one_partition_names_it_part() -> None:
    dump = call(make_world(permissions=PERMISSIONS), "address_dump", {"partition": "trunks"})
    assert dump["part"] == "trunks"
    assert [d["ip"] for d in dump["Destinations"]] == ["192.0.2.1"]


def test_dump_of_an_unknown_partition_is_404() -> None:
    err = fails(make_world(permissions=PERMISSIONS), "address_dump", {"partition": "x"})
    assert (err.code, err.message) == (404, "No such partition")


def test_without_a_section_no_partition_is_dumped() -> None:
    assert call(make_world(), "address_dump") == {"Partitions": []}


def test_address_shorthand_fills_the_default_partition() -> None:
    world = make_world(permissions={"addresses": [{"grp": 1, "ip": "10.0.0.10"}]})
    assert call(world, "address_dump", {"partition": "default"})["Destinations"] == [ROW_DEFAULT_1]


@pytest.mark.parametrize("params", [None, {"partition": "default"}])
def test_reload_applies_edits_of_the_database(params: dict[str, Any] | None) -> None:
    world = make_world(permissions=PERMISSIONS)
    world.get(PermissionsState).set_database(
        {"partitions": [{"name": "default", "addresses": [{"grp": 3, "ip": "10.9.9.9"}]}]}
    )
    assert call(world, "address_dump", {"partition": "default"})["Destinations"][0] == (
        ROW_DEFAULT_1
    )
    assert call(world, "address_reload", params) == "OK"
    rows = call(world, "address_dump", {"partition": "default"})["Destinations"]
    assert [(r["grp"], r["ip"]) for r in rows] == [(3, "10.9.9.9")]


def test_reload_of_one_partition_leaves_the_others() -> None:
    world = make_world(permissions=PERMISSIONS)
    world.get(PermissionsState).set_database({"partitions": [{"name": "trunks", "addresses": []}]})
    call(world, "address_reload", {"partition": "default"})
    assert call(world, "address_dump", {"partition": "trunks"})["Destinations"] != []


def test_reload_of_an_unknown_partition_fails_with_the_modules_message() -> None:
    err = fails(make_world(permissions=PERMISSIONS), "address_reload", {"partition": "x"})
    assert (err.code, err.message) == (400, "Trusted table reload failed")


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("address_dump", None, "read"),
        ("address_dump", {"partition": "default"}, "read"),
        ("address_reload", None, "write"),
        ("address_reload", {"partition": "default"}, "write"),
    ],
)
def test_levels(method: str, params: dict[str, Any] | None, expected: str) -> None:
    assert level(method, params) == expected
