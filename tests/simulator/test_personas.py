"""The simulator impersonates OpenSIPS 3.4.18 and 4.0.1 (``--opensips-version``) as captured:
version string, ``which`` names, 4.x names and aliases, ambiguous bare names, commands a
version lacks, and 4.x's usrloc ``use_domain`` default."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from opensips_sim.simulator import Settings, Simulator
from tests.captures import version_dir

DATA = Path(__file__).resolve().parents[2] / "simulator" / "opensips_sim" / "data"


def ask(sim: Simulator, method: str, params: object = None) -> dict[str, Any]:
    request: dict[str, object] = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params is not None:
        request["params"] = params
    reply = asyncio.run(sim.handle_mi(json.dumps(request).encode()))
    answer: dict[str, Any] = json.loads(reply.body)
    return answer


def simulator(version: str, scenario: str = "lively") -> Simulator:
    return Simulator(scenario, settings=Settings(opensips_version=version))


def captured(version: str) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(
        (version_dir(version) / "commands.json").read_text("utf-8")
    )["commands"]
    return data


@pytest.mark.parametrize("version", ["3.4.18", "4.0.1"])
def test_the_package_copy_of_each_versions_commands_equals_the_captured_one(version: str) -> None:
    packaged = json.loads((DATA / f"commands-{version}.json").read_text("utf-8"))
    assert packaged == json.loads((version_dir(version) / "commands.json").read_text("utf-8"))


@pytest.mark.parametrize("version", ["3.4.18", "3.6.8", "4.0.1"])
def test_version_and_which_are_the_impersonated_versions(version: str) -> None:
    sim = simulator(version)
    assert ask(sim, "version")["result"]["Server"] == f"OpenSIPS ({version} (x86_64/linux))"
    if version != "3.6.8":
        live = sorted(n for n, e in captured(version).items() if e.get("seen_live"))
        assert ask(sim, "which")["result"] == live


@pytest.mark.parametrize("name", ["dialog:list", "dlg_list", "list_ctx", "core:uptime", "uptime"])
def test_4x_accepts_full_names_aliases_and_unique_local_names(name: str) -> None:
    assert "result" in ask(simulator("4.0.1"), name)


@pytest.mark.parametrize(
    ("old", "new"), [("pike_list", "pike:list"), ("domain_dump", "domain:dump")]
)
def test_4x_refuses_the_3x_names_it_dropped_and_answers_the_new_ones(old: str, new: str) -> None:
    sim = simulator("4.0.1")
    assert ask(sim, old)["error"]["code"] == -32601
    assert "result" in ask(sim, new) or ask(sim, new)["error"]["code"] != -32601


@pytest.mark.parametrize(
    ("name", "owners"),
    [
        ("trace", {"tls:trace", "tracer:trace"}),
        ("reload_routes", {"carrierroute:reload_routes", "core:reload_routes"}),
        ("dump", {"domain:dump", "usrloc:dump"}),
    ],
)
def test_4x_answers_an_ambiguous_bare_name_with_minus_32001(name: str, owners: set[str]) -> None:
    error = ask(simulator("4.0.1"), name)["error"]
    assert (error["code"], error["message"]) == (-32001, "Method ambiguous")
    assert set(error["data"].removeprefix("supported names: ").split(", ")) == owners


def test_3_4_lacks_the_commands_new_in_3_6() -> None:
    sim = simulator("3.4.18")
    answer = ask(sim, "dlg_set_profile", {"dlg_id": "1", "profile": "inbound"})
    assert answer["error"]["code"] == -32601
    assert "result" in ask(sim, "dlg_list")


def test_4x_usrloc_needs_the_domain_in_an_aor() -> None:
    sim = simulator("4.0.1")
    answer = ask(sim, "ul_show_contact", {"table_name": "location", "aor": "alice"})
    assert answer["error"] == {"code": 400, "message": "Domain missing in AOR"}
