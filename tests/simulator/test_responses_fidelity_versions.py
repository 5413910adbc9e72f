"""The answers captured from real OpenSIPS 3.4.18 and 4.0.1 labs (``responses/*.json``),
asked again of the simulator impersonating each version (``--opensips-version``).

The 3.6.8 replay (``test_responses_fidelity``) compares values exactly because the quiet
scenario *is* the 3.6.8 lab's state. The 3.4.18 and 4.0.1 labs ran the same configuration
and the same SIPp registrations and calls, but at their own moment, at their own port offset
and with their own process ids: those values belong to the lab run, not to the version. So
here everything is compared exactly (keys and their order, nesting, types, list lengths and
every other value) except:

* port numbers (``127.0.0.1:6071`` / ``:7071`` vs the quiet scenario's ``:5071``, and the
  SDP ``m=audio`` ports), which are replaced by ``PORT`` on both sides before comparing;
* the keys of :data:`LAB_RUN_KEYS`, whose values come from the run (compared by type only);
* the captures of :data:`SHAPE_ONLY` (statistics, which move with time and traffic);
* the listed :data:`EXPECTED_DIFFERENCES`, each with its reason.

The labs ran usrloc with ``use_domain`` off (``lab/opensips.cfg.in``), so the 4.0.1 replay
starts from the quiet scenario with ``use_domain`` off too.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from opensips_sim import scenarios
from tests.captures import version_dir

from .conftest import StartSimulator
from .rawhttp import call

VERSIONS = ("3.4.18", "4.0.1")
CAPTURES: dict[str, dict[str, dict[str, Any]]] = {
    version: {
        path.stem: json.loads(path.read_text())
        for path in sorted((version_dir(version) / "responses").glob("*.json"))
    }
    for version in VERSIONS
}
#: Values that are the lab run's, not the version's: compared by type only.
LAB_RUN_KEYS = {
    # dialogs: hash entry/id, the moment SIPp placed the calls, SIPp's pid in Call-ID and tags
    "ID", "db_id", "timestart", "datestart", "timeout", "dateout", "callid", "caller_tag",
    "callee_tag",
    # registrations: contact ids hash the run's Call-ID; expiry counts down from the REGISTER
    "ContactID", "Callid", "Expires",
    # processes
    "PID",
}  # fmt: skip
#: Captured answers whose values move with time and traffic; compared by shape only.
SHAPE_ONLY = {"get_statistics_all", "get_statistics_core"}
#: Values the simulator answers differently, and why: (version, capture, path) -> reason.
EXPECTED_DIFFERENCES: dict[tuple[str, str, str], str] = {
    (version, "clusterer_list", ".Clusters[0].Nodes[0].link_state"): "the lab's peer node "
    "is absent: clusterer shows its link Down and re-probes it every node_timeout (60 s, "
    "topology.c case 4), showing Probe for a few seconds; this capture caught Down "
    f"{uptime} s after start (a real 3.4.18 lab polled each second at 112-124 s: Down), the "
    "quiet scenario holds the Probe the 3.6.8 capture caught"
    for version, uptime in (("3.4.18", 14), ("4.0.1", 9))
}
PORT = re.compile(r"(?<=127\.0\.0\.1:)\d+|(?<=m=audio )\d+")


def _scenario(version: str) -> dict[str, Any]:
    data = copy.deepcopy(scenarios.load("quiet"))
    if version.startswith("4."):
        data.setdefault("usrloc", {})["use_domain"] = False  # as the 4.0.1 lab ran
    return data


def differences(real: Any, simulated: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, what differs) for every place ``simulated`` departs from ``real``."""
    if type(simulated) is not type(real):
        return [(path, f"type {type(simulated).__name__} vs {type(real).__name__}")]
    if isinstance(real, dict):
        if list(simulated) != list(real):
            return [(path, f"keys {list(simulated)} vs {list(real)}")]
        found: list[tuple[str, str]] = []
        for key in real:
            if key not in LAB_RUN_KEYS:
                found += differences(real[key], simulated[key], f"{path}.{key}")
        return found
    if isinstance(real, list):
        if len(simulated) != len(real):
            return [(path, f"{len(simulated)} items vs {len(real)}")]
        return [
            d
            for i, (r, s) in enumerate(zip(real, simulated, strict=True))
            for d in differences(r, s, f"{path}[{i}]")
        ]
    if isinstance(real, str):
        real, simulated = PORT.sub("PORT", real), PORT.sub("PORT", simulated)
    return [] if simulated == real else [(path, f"{simulated!r} vs {real!r}")]


def _cases() -> list[Any]:
    return [
        pytest.param(version, name, id=f"{version}-{name}")
        for version in VERSIONS
        for name in CAPTURES[version]
    ]


@pytest.mark.parametrize(("version", "name"), _cases())
async def test_the_simulator_answers_each_captured_response_as_that_version_did(
    version: str, name: str, start_simulator: StartSimulator
) -> None:
    capture = CAPTURES[version][name]
    request = capture["request"]
    sim = await start_simulator(scenario=_scenario(version), opensips_version=version)
    answer = await call(sim.port, request["method"], request.get("params"))
    expected = capture["response"]["result"]
    if name in SHAPE_ONLY:
        assert list(answer["result"]) == list(expected), "the same names in the real order"
        for key, value in expected.items():
            assert type(answer["result"][key]) is type(value), key
        return
    found = differences(expected, answer["result"])
    unexplained = [(p, d) for p, d in found if (version, name, p) not in EXPECTED_DIFFERENCES]
    assert unexplained == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_listed_differences_still_differ(
    version: str, start_simulator: StartSimulator
) -> None:
    listed = {(n, p) for v, n, p in EXPECTED_DIFFERENCES if v == version}
    sim = await start_simulator(scenario=_scenario(version), opensips_version=version)
    for name, path in sorted(listed):
        request = CAPTURES[version][name]["request"]
        answer = await call(sim.port, request["method"], request.get("params"))
        found = differences(CAPTURES[version][name]["response"]["result"], answer["result"])
        assert path in {p for p, _d in found}, f"{version} {name} {path} matches now: unlist it"
