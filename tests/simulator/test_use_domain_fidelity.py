"""usrloc with ``use_domain`` on, as a real 4.0.1 keeps it by default: the steps captured
from a real 4.0.1 lab started with ``LAB_USE_DOMAIN=1`` (``real_4.0.1_use_domain.json``:
dumps, lookups, bare AORs refused with ``400 "Domain missing in AOR"`` by every command
that takes one, adds, removals) replayed in order against the simulator impersonating
4.0.1 with its default. Values are compared as in ``test_responses_fidelity_versions``
(ports and the lab run's ids, times and Call-IDs aside)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .conftest import StartSimulator
from .rawhttp import call
from .test_responses_fidelity_versions import differences

CAPTURE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent / "real_4.0.1_use_domain.json").read_text()
)


async def test_the_4_0_persona_keys_aors_as_the_real_4_0_1_does(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(opensips_version="4.0.1")  # use_domain: the persona's default
    found: list[tuple[int, str, Any]] = []
    for number, step in enumerate(CAPTURE["steps"], 1):
        request = step["request"]
        answer = await call(sim.port, request["method"], request.get("params"))
        real = step["response"]
        if "error" in real:
            if answer.get("error") != real["error"]:
                found.append((number, request["method"], answer))
        elif "result" not in answer:
            found.append((number, request["method"], answer))
        else:
            found += [(number, p, d) for p, d in differences(real["result"], answer["result"])]
    assert found == []


async def test_scenario_aors_without_a_domain_get_the_scenario_domain(
    start_simulator: StartSimulator,
) -> None:
    scenario = {
        "usrloc": {
            "use_domain": True,
            "domain": "example.org",
            "aors": {"dave": [{"contact": "sip:dave@192.0.2.4:5060"}]},
        }
    }
    sim = await start_simulator(scenario=scenario)
    dump = await call(sim.port, "ul_dump", {"brief": 1})
    assert dump["result"]["Domains"][0]["AORs"] == [{"AOR": "dave@example.org"}]
    shown = await call(sim.port, "ul_show_contact", {"table_name": "location", "aor": "dave"})
    assert shown["error"] == {"code": 400, "message": "Domain missing in AOR"}


async def test_without_use_domain_an_aor_with_a_domain_is_its_user(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(opensips_version="3.4.18")
    params = {"table_name": "location", "aor": "alice@anything.example"}
    shown = await call(sim.port, "ul_show_contact", params)
    assert shown["result"]["AOR"] == "alice"
