"""A param value no OpenSIPS MI command can read is ``invalid_params`` and never sent.

OpenSIPS reads MI params as strings or numbers, and as arrays of them for a few names
(``ARRAY_PARAMS``, from the 3.4.18-4.0.1 sources). Anything else is a "Bad type" answer at
best; ``ul_rm_contact`` with such a ``contact`` for an existing AOR returns without
releasing usrloc's lock, and the real 3.6.8 lab's MI then answered nothing more until it
was restarted (measured 2026-12-05; the same code in 3.4.18 and 4.0.1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from opensips_mcp.gate import Role
from opensips_mcp.mi.jsonrpc import ARRAY_PARAMS, unreadable_value
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings
from opensips_sim.simulator import Simulator

from .conftest import FAST_MI, served
from .helpers import audit_records, call, error_code


@pytest.fixture
async def sim_url() -> AsyncIterator[tuple[Simulator, str]]:
    simulator = Simulator("quiet", seed=7)
    async with served(simulator) as url:
        yield simulator, url


def commands_run(simulator: Simulator) -> list[str]:
    return [e["method"] for e in simulator.journal.entries() if e["method"] is not None]


@pytest.mark.parametrize("contact", [True, False, None, {"uri": "x"}, ["sip:a@b"], []])
async def test_ul_rm_contact_with_a_contact_opensips_cannot_read_is_never_sent(
    contact: Any, sim_url: tuple[Simulator, str], audit_path: Path
) -> None:
    simulator, url = sim_url
    server = build_server(Settings(mi_url=url, role=Role.ADMIN, audit_log=audit_path, **FAST_MI))
    params = {"table_name": "location", "aor": "alice", "contact": contact}

    result = await call(server, "mi_execute", {"command": "ul_rm_contact", "params": params})

    assert error_code(result) == "invalid_params"
    assert commands_run(simulator) == []
    record = audit_records(audit_path)[-1]
    assert (record["error"], record["mi_attempts"]) == ("invalid_params", 0)
    assert [(c["decision"], c["outcome"]) for c in record["calls"]] == [("deny", "error")]


@pytest.mark.parametrize(
    ("command", "params"),
    [
        ("get_statistics", {"statistics": ["core:", 5]}),  # an array where OpenSIPS reads one
        ("get_statistics", [["core:"]]),  # positional
        ("ul_show_contact", {"table_name": "location", "aor": 5}),  # numbers read as text
        ("dp_translate", {"dpid": 1.5, "input": "x"}),  # truncated by OpenSIPS, still read
    ],
)
async def test_strings_numbers_and_arrays_where_read_are_sent(
    command: str, params: Any, sim_url: tuple[Simulator, str], audit_path: Path
) -> None:
    simulator, url = sim_url
    server = build_server(Settings(mi_url=url, role=Role.ADMIN, audit_log=audit_path, **FAST_MI))

    await call(server, "mi_execute", {"command": command, "params": params})

    assert commands_run(simulator) == [command]


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"statistics": [["core:"]]}, ("statistics",)),  # nested array
        ({"statistics": [True]}, ("statistics",)),
        ({"aor": ["alice"]}, ("aor",)),  # an array where a string is read
        ([True], ("level",)),  # positional, by the recipe's names
        ({"cmd_params": ["location", "alice", None]}, ("cmd_params",)),  # carried to nodes
    ],
)
def test_what_no_command_reads_is_named(params: Any, names: tuple[str, ...]) -> None:
    assert unreadable_value(params, names) is not None


def test_the_array_names_are_the_ones_opensips_reads_as_arrays() -> None:
    assert {"statistics", "cmd_params", "events"} <= ARRAY_PARAMS
    assert not {"aor", "contact", "address", "level"} & ARRAY_PARAMS
