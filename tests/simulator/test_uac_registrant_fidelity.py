"""uac_registrant as real 3.6.8 and 4.0.1 labs answer it: the steps captured from each lab
(``real_uac_registrant.json``: reg_list all and by AOR/contact/registrar, unknown ones 404,
enable/disable/force_register known and unknown, reload all and one, and on 4.0.1 upsert
(new, replaced, refused), delete and the 4.0 names) replayed in order against the simulator
seeded like the lab (one enabled registrant towards a port where nothing listens). Answers
must be equal, the send time of a REGISTER (the lab's clock) compared as "a time, not the
epoch"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opensips_sim.clock import Clock
from opensips_sim.simulator import Settings, Simulator
from opensips_sim.snapshot import stable
from opensips_sim.state.uac_registrant import RegistrantState
from opensips_sim.timefmt import ctime

from .test_personas import ask

CAPTURES: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent / "real_uac_registrant.json").read_text()
)
EPOCH = "Thu Jan  1 00:00:00 1970"
OFFSETS = {"3.6.8": 500, "4.0.1": 550}


def _lab_like(version: str) -> Simulator:
    off = OFFSETS[version]
    registrant = {
        "aor": "sip:trunk@127.0.0.1",
        "contact": f"sip:trunk@127.0.0.1:{5060 + off}",
        "registrar": f"sip:127.0.0.1:{5099 + off}",
        "expires": 600,
        "enabled": True,
    }
    return Simulator(
        {"uac_registrant": {"registrants": [registrant]}},
        settings=Settings(opensips_version=version),
    )


def _times(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (
                "<time>"
                if k.startswith(("last_register", "registration_t")) and v != EPOCH
                else _times(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_times(v) for v in value]
    return value


@pytest.mark.parametrize("version", sorted(CAPTURES))
def test_the_simulator_answers_uac_registrant_as_the_real_server(version: str) -> None:
    sim = _lab_like(version)
    found = []
    for number, step in enumerate(CAPTURES[version]["steps"], 1):
        request = step["request"]
        answer = ask(sim, request["method"], request.get("params"))
        answer.pop("jsonrpc"), answer.pop("id")
        if _times(answer) != _times(step["response"]):
            found.append((number, request, answer, step["response"]))
    assert found == []


def test_3_6_has_no_upsert_or_delete() -> None:
    sim = _lab_like("3.6.8")
    for method in ("uac_registrant:upsert", "uac_registrant:delete", "reg_upsert"):
        assert ask(sim, method, {"aor": "x"})["error"]["code"] == -32601


def test_the_scenarios_seed_a_registrant_that_timed_out_like_the_lab() -> None:
    sim = Simulator("quiet")
    (record,) = ask(sim, "reg_list")["result"]["Records"]
    assert record["state"] == "REGISTER_TIMEOUT_STATE"
    assert record["enabled"] == "yes" and record["socket"].startswith("udp:")
    assert record["last_register_sent"] != EPOCH


def test_state_is_carried_by_the_snapshot_and_progress_left_out_of_stable() -> None:
    sim = _lab_like("4.0.1")
    coords = {
        "aor": "sip:trunk@127.0.0.1",
        "contact": "sip:trunk@127.0.0.1:5610",
        "registrar": "sip:127.0.0.1:5649",
    }
    assert ask(sim, "reg_disable", coords)["result"] == "OK"
    section = sim.world.snapshot()["uac_registrant"]
    assert section["registrants"][0]["enabled"] is False
    again = Simulator({"uac_registrant": section}, settings=Settings(opensips_version="4.0.1"))
    assert ask(again, "reg_list") == ask(sim, "reg_list")
    assert ask(sim, "reg_enable", coords)["result"] == "OK"
    view = stable({"uac_registrant": sim.world.snapshot()["uac_registrant"]})
    assert view["uac_registrant"]["registrants"] == [
        {
            "aor": coords["aor"],
            "contact": coords["contact"],
            "registrar": coords["registrar"],
            "expires": 600,
            "enabled": True,
        }
    ]


def test_the_differential_compares_registration_progress_by_type() -> None:
    from conformance.differential import normalise

    real = {
        "result": {
            "Records": [
                {
                    "AOR": "a",
                    "state": "REGISTER_TIMEOUT_STATE",
                    "last_register_sent": "Fri Dec  4 21:54:38 2026",
                    "registration_t_out": EPOCH,
                    "socket": "udp:x:1",
                }
            ]
        }
    }
    sim = {
        "result": {
            "Records": [
                {
                    "AOR": "a",
                    "state": "NOT_REGISTERED_STATE",
                    "last_register_sent": EPOCH,
                    "registration_t_out": EPOCH,
                }
            ]
        }
    }
    assert normalise("reg_list", real) == normalise("reg_list", sim)
    other = {
        "result": {
            "Records": [
                {
                    "AOR": "b",
                    "state": "NOT_REGISTERED_STATE",
                    "last_register_sent": EPOCH,
                    "registration_t_out": EPOCH,
                }
            ]
        }
    }
    assert normalise("reg_list", other) != normalise("reg_list", sim)


def _moving(answers: bool) -> tuple[Simulator, Clock]:
    clock = Clock(1_800_000_000.0, frozen=True)
    registrant = {
        "aor": "sip:trunk@127.0.0.1",
        "contact": "sip:trunk@127.0.0.1:5060",
        "registrar": "sip:127.0.0.1:5099",
        "expires": 600,
        "enabled": True,
        "answers": answers,
    }
    section = {"timer_interval": 30, "registrants": [registrant]}
    return Simulator({"uac_registrant": section}, clock=clock), clock


def _record(sim: Simulator) -> dict[str, Any]:
    (record,) = ask(sim, "reg_list")["result"]["Records"]
    return {k: record[k] for k in ("state", "last_register_sent", "registration_t_out")}


def test_a_registrar_that_never_answers_times_out_and_is_retried_as_on_the_lab() -> None:
    """The lab (timer_interval 30, tm fr_timeout 5, nothing listening): REGISTER sent at
    04:05:04, REGISTER_TIMEOUT_STATE, registration_t_out 04:14:39 (+5 + 600 - 30)."""
    sim, clock = _moving(answers=False)
    start = clock.now()
    assert _record(sim)["state"] == "NOT_REGISTERED_STATE"
    clock.advance(30)  # the first timer run sends the REGISTER
    assert _record(sim) == {
        "state": "REGISTERING_STATE",
        "last_register_sent": ctime(start + 30),
        "registration_t_out": EPOCH,
    }
    clock.advance(5)  # tm's timeout: 408
    assert _record(sim) == {
        "state": "REGISTER_TIMEOUT_STATE",
        "last_register_sent": ctime(start + 30),
        "registration_t_out": ctime(start + 35 + 570),
    }
    clock.advance(570)  # not retried before registration_t_out, then at the next run
    assert _record(sim)["state"] == "REGISTER_TIMEOUT_STATE"
    clock.advance(30)
    assert _record(sim)["last_register_sent"] == ctime(start + 630)


def test_an_answering_registrar_registers_and_renews_before_expiry() -> None:
    sim, clock = _moving(answers=True)
    start = clock.now()
    clock.advance(30)
    assert _record(sim) == {
        "state": "REGISTERED_STATE",
        "last_register_sent": ctime(start + 30),
        "registration_t_out": ctime(start + 30 + 570),
    }
    clock.advance(600)  # due at +600: renewed at the run that finds it due
    assert _record(sim)["last_register_sent"] == ctime(start + 600)
    coords = {
        "aor": "sip:trunk@127.0.0.1",
        "contact": "sip:trunk@127.0.0.1:5060",
        "registrar": "sip:127.0.0.1:5099",
    }
    assert ask(sim, "reg_disable", coords)["result"] == "OK"  # unregistered at once
    assert _record(sim)["state"] == "NOT_REGISTERED_STATE"
    clock.advance(300)  # a disabled registrant is left alone
    assert _record(sim)["state"] == "NOT_REGISTERED_STATE"


def test_a_registrars_answer_shows_where_it_came_from_until_a_timeout() -> None:
    """A real 3.6.8 with a second OpenSIPS answering 200 (save) at the registrar's port:
    REGISTERED_STATE adds "dst_IP": "IPv4", "ip": "127.0.0.1" to reg_list, the un-REGISTER
    of reg_disable (answered too) keeps them, and tm's 408 once the registrar was stopped
    removes them (REGISTER_TIMEOUT_STATE)."""
    sim, clock = _moving(answers=True)
    coords = {
        "aor": "sip:trunk@127.0.0.1",
        "contact": "sip:trunk@127.0.0.1:5060",
        "registrar": "sip:127.0.0.1:5099",
    }

    def listed() -> dict[str, Any]:
        (record,) = ask(sim, "reg_list")["result"]["Records"]
        return {k: record.get(k) for k in ("state", "dst_IP", "ip")}

    assert listed() == {"state": "NOT_REGISTERED_STATE", "dst_IP": None, "ip": None}
    clock.advance(30)
    assert listed() == {"state": "REGISTERED_STATE", "dst_IP": "IPv4", "ip": "127.0.0.1"}
    assert ask(sim, "reg_disable", coords)["result"] == "OK"
    assert listed() == {"state": "NOT_REGISTERED_STATE", "dst_IP": "IPv4", "ip": "127.0.0.1"}
    (registrant,) = sim.world.get(RegistrantState).records
    registrant.answers = False  # the registrar is stopped
    assert ask(sim, "reg_enable", coords)["result"] == "OK"
    clock.advance(5)
    assert listed() == {"state": "REGISTER_TIMEOUT_STATE", "dst_IP": None, "ip": None}
