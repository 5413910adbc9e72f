"""The same 88 wire cases, captured from real OpenSIPS 3.4.18 and 4.0.1 labs, replayed
byte for byte against the simulator impersonating each version (``--opensips-version``).

The labs ran the 3.6 lab's configuration with ``use_domain`` off (FACTS.md), so the 4.0.1
replay starts from the quiet scenario with ``use_domain`` off too."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from opensips_sim import scenarios
from tests.captures import version_dir

from .conftest import StartSimulator
from .test_wire_fidelity import replay

VERSIONS = ("3.4.18", "4.0.1")
CASES: dict[str, dict[str, Any]] = {
    version: json.loads((version_dir(version) / "errors.json").read_text())["cases"]
    for version in VERSIONS
}
#: Cases the simulator answers differently, and why.
EXPECTED_DIFFERENCES: dict[tuple[str, str], str] = {
    ("3.4.18", "positional_ul_show_contact"): "the 3.4 lab's SIPp registered alice from port "
    "6071; the quiet scenario is the 3.6 lab's state (5071)",
    ("4.0.1", "positional_ul_show_contact"): "the 4.0 lab's SIPp registered alice from port "
    "7071; the quiet scenario is the 3.6 lab's state (5071)",
}


def _cases() -> list[Any]:
    return [
        pytest.param(version, name, id=f"{version}-{name}")
        for version in VERSIONS
        for name in CASES[version]
        if (version, name) not in EXPECTED_DIFFERENCES
    ]


def _scenario(version: str) -> dict[str, Any]:
    data = copy.deepcopy(scenarios.load("quiet"))
    if version.startswith("4."):
        data.setdefault("usrloc", {})["use_domain"] = False  # as the 4.0.1 lab ran
    return data


@pytest.mark.parametrize(("version", "name"), _cases())
async def test_the_simulator_answers_each_wire_case_as_that_version_did(
    version: str, name: str, start_simulator: StartSimulator
) -> None:
    sim = await start_simulator(scenario=_scenario(version), opensips_version=version)
    await replay(CASES[version][name], sim)


def test_every_expected_difference_names_a_captured_case() -> None:
    for version, name in EXPECTED_DIFFERENCES:
        assert name in CASES[version]
