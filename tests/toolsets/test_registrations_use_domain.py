"""The registration tools on a server whose usrloc keys AORs as ``user@domain``
(``use_domain`` on: OpenSIPS 4.x's default), against the simulator impersonating 4.0.1 with
that default (checked against a real 4.0.1 lab: tests/simulator/test_use_domain_fidelity.py):
``user@domain`` AORs are listed, looked up, added and removed; a bare AOR is refused with
``invalid_params`` by the first read, and nothing is changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from opensips_mcp.gate import Role
from opensips_mcp.instances import InstanceConfig
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from opensips_sim.clock import Clock
from opensips_sim.cluster import SimulatedCluster
from opensips_sim.runner import RunningSimulator, running_simulator
from opensips_sim.simulator import Settings as SimSettings

from .conftest import CAPTURE_EPOCH
from .helpers import (
    FAST_MI,
    call,
    content,
    error_code,
    last_seq,
    methods,
    server_for,
    text_of,
)


@pytest.fixture
async def sim40() -> AsyncIterator[RunningSimulator]:
    """The quiet scenario impersonating 4.0.1 (use_domain on, its default)."""
    async with running_simulator(
        "quiet", seed=1, frozen_at=CAPTURE_EPOCH, opensips_version="4.0.1"
    ) as running:
        yield running


@pytest.fixture
def admin40(sim40: RunningSimulator, tmp_path: Path) -> OpenSIPSMCP:
    return server_for(sim40, Role.ADMIN, tmp_path, opensips_version="4.0.1")


async def test_every_aor_is_listed_with_its_domain(admin40: OpenSIPSMCP) -> None:
    page = content(await call(admin40, "registrations_list", {"limit": 100}))
    assert {c["aor"] for c in page["contacts"]} == {
        "alice@127.0.0.1",
        "bob@127.0.0.1",
        "carol@127.0.0.1",
    }
    prefixed = content(await call(admin40, "registrations_list", {"aor_prefix": "car"}))
    assert [c["aor"] for c in prefixed["contacts"]] == ["carol@127.0.0.1"]


async def test_an_aor_with_its_domain_is_looked_up(admin40: OpenSIPSMCP) -> None:
    page = content(await call(admin40, "registrations_list", {"aor": "alice@127.0.0.1"}))
    assert [c["contact"] for c in page["contacts"]] == ["sip:alice@127.0.0.1:5071"]
    missing = content(await call(admin40, "registrations_list", {"aor": "alice@example.com"}))
    assert missing["contacts"] == []


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("registrations_list", {"aor": "alice"}),
        ("registration_add", {"aor": "dave", "contact": "sip:dave@192.0.2.4:5060"}),
        ("registration_remove", {"aor": "alice"}),
        ("registration_remove", {"aor": "alice", "contact": "sip:alice@127.0.0.1:5071"}),
    ],
    ids=["list", "add", "remove-aor", "remove-contact"],
)
async def test_a_bare_aor_is_refused_as_invalid_and_nothing_is_changed(
    tool: str, args: dict[str, Any], sim40: RunningSimulator, admin40: OpenSIPSMCP
) -> None:
    before = last_seq(sim40)
    result = await call(admin40, tool, args)
    assert error_code(result) == "invalid_params"
    assert f"{args['aor']}@" in text_of(result)  # names the form to use
    # refused at the first read (sent under its 4.0 name), no change sent
    assert methods(sim40, before) == ["usrloc:show_contact"]
    page = content(await call(admin40, "registrations_list", {"limit": 100}))
    assert len(page["contacts"]) == 3


async def test_add_and_remove_with_user_at_domain(
    sim40: RunningSimulator, admin40: OpenSIPSMCP
) -> None:
    aor, contact = "dave@example.com", "sip:dave@192.0.2.4:5060"
    added = content(await call(admin40, "registration_add", {"aor": aor, "contact": contact}))
    assert (added["action"], added["contacts_after"]) == ("added", 1)
    listed = content(await call(admin40, "registrations_list", {"aor_prefix": "dave@"}))
    assert [(c["aor"], c["contact"]) for c in listed["contacts"]] == [(aor, contact)]
    one = content(await call(admin40, "registration_remove", {"aor": aor, "contact": contact}))
    assert (one["action"], one["contacts_after"]) == ("removed", 0)
    again = content(await call(admin40, "registration_remove", {"aor": aor}))
    assert again["action"] == "nothing_to_remove"
    assert "usrloc:rm" not in methods(sim40)  # nothing left to remove: not sent


async def test_without_use_domain_an_aor_with_a_domain_still_finds_the_user(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    server = server_for(sim, Role.VIEWER, tmp_path)  # 3.6.8: use_domain off
    page = content(await call(server, "registrations_list", {"aor": "alice@127.0.0.1"}))
    assert [c["aor"] for c in page["contacts"]] == ["alice"]


async def test_fleet_find_registration_names_the_aor_form_each_instance_needs(
    tmp_path: Path,
) -> None:
    nodes = SimulatedCluster(
        2,
        "quiet",
        seed=1,
        clock=Clock(CAPTURE_EPOCH, frozen=True),
        settings=SimSettings(idle_timeout=5, opensips_version="4.0.1"),
    )
    await nodes.start("127.0.0.1", 0)
    try:
        instances = tuple(
            InstanceConfig(name=f"node{n}", mi_url=nodes.url(n)) for n in nodes.node_ids
        )
        settings = Settings(
            role=Role.VIEWER,
            instances=instances,
            default_instance="node1",
            audit_log=tmp_path / "audit.jsonl",
            **{**FAST_MI, "opensips_version": "4.0.1"},
        )
        server = build_server(settings)
        bare = content(await call(server, "fleet_find_registration", {"aor": "alice"}))
        full = content(await call(server, "fleet_find_registration", {"aor": "alice@127.0.0.1"}))
    finally:
        await nodes.close()
    assert bare["holders"] == []
    assert {i["error"]["code"] for i in bare["instances"]} == {"invalid_params"}
    assert all("alice@" in i["error"]["message"] for i in bare["instances"])
    assert full["holders"] == ["node1", "node2"]
