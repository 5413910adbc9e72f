"""Property 8, no amplification and a bounded viewer: against a simulator that executes like
OpenSIPS (one command at a time, each holding the MI for its cost: ``--cost-scale``), for
any sequence of tool calls by any role, with any fault, the time the MI endpoint spends
executing on this server's behalf is at most the cost of the commands the callers asked
for, once each; and a viewer never holds it busy beyond its budget per minute (plus the
one call that crossed it): past the budget, its calls are refused with nothing sent.

The time is read where it is spent: the simulator journals ``busy_s`` for every command it
executes (control API). The simulator here is this module's own, with costs switched on,
so the property runs whatever the target (a real server cannot report its busy time; the
same rules are checked on the lab by ``tests/lab/test_protection_on_lab.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import given, note, settings
from hypothesis import strategies as st
from mcp import Client

from conformance.harness import FAULT_MI, AuditTail, McpSession, SimControl
from conformance.oracle import ROLES
from conformance.profiles import scaled
from conformance.strategies import FAULT_ACTIONS, WHENS, MICall, fault_rule
from opensips_mcp.audit import AuditLog
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings
from opensips_sim.runner import running_simulator

#: t_hash holds the MI for 23.8 s x SCALE = 0.24 s; a dlg_list of the quiet scenario ~10 ms.
SCALE = 0.01
#: A viewer's MI seconds per minute in this module (a few dozen cheap calls).
BUDGET = 0.05

CALLS = [
    MICall("uptime"),
    MICall("dlg_list"),
    MICall("dlg_list", {"index": 0, "counter": 2}),
    MICall("ul_dump"),
    MICall("get_statistics", {"statistics": ["dialog:"]}),
    MICall("t_hash"),
]


@dataclass
class Costly:
    """The module's simulator (costs on) and one session per role."""

    control: SimControl
    sessions: dict[str, McpSession]


@pytest.fixture(scope="module")
def costly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Costly]:
    workdir: Path = tmp_path_factory.mktemp("mi-time")
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal(backend="asyncio"))
        sim = stack.enter_context(
            portal.wrap_async_context_manager(running_simulator("quiet", cost_scale=SCALE))
        )
        control = SimControl(sim.control_url)
        stack.callback(control.close)
        sessions: dict[str, McpSession] = {}
        for role in ROLES:
            audit_path = workdir / f"audit-{role}.jsonl"
            server = build_server(
                Settings(
                    mi_url=sim.url,
                    role=Role(role),
                    principal=f"mi-time-{role}",
                    audit_log=audit_path,
                    log_level="WARNING",
                    confirm=ConfirmPolicy.NONE,
                    opensips_version="3.6.8",  # no 'version' look-up among the counted calls
                    mi_viewer_budget=BUDGET,
                    **FAULT_MI,
                ),
                audit=AuditLog(audit_path),
            )
            client = stack.enter_context(portal.wrap_async_context_manager(Client(server)))
            tail = AuditTail(audit_path)
            tail.skip_to_end()
            sessions[role] = McpSession(Role(role), server, client, tail, portal)
        yield Costly(control, sessions)


def key(method: object, params: object) -> str:
    """One asked (command, params), as the journal shows it."""
    return json.dumps([method, params], sort_keys=True)


def busy(entries: list[dict[str, object]]) -> float:
    return sum(float(e.get("busy_s") or 0.0) for e in entries)  # type: ignore[arg-type]


@settings(max_examples=scaled(12), deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(("viewer", "operator", "admin")), st.sampled_from(CALLS)),
        min_size=1,
        max_size=5,
    ),
    fault=st.none()
    | st.tuples(
        st.sampled_from(CALLS),
        st.sampled_from(FAULT_ACTIONS),
        st.sampled_from(WHENS),
        st.integers(min_value=1, max_value=3),
    ),
)
def test_the_mi_executes_each_asked_command_at_most_once_whatever_the_faults(
    costly: Costly,
    steps: list[tuple[str, MICall]],
    fault: tuple[MICall, str, str, int] | None,
) -> None:
    """Each tool call's command reaches the endpoint at most once, so the endpoint's busy
    time is at most the sum of the asked commands' costs, once each."""
    control = costly.control
    control.reset()
    if fault is not None:
        call, action, when, count = fault
        rule = fault_rule(call.command, action, when, count=count)
        note(f"fault rule: {rule}")
        control.add_faults([rule])
    mark = control.mark()
    asked: dict[str, int] = {}
    for role, call in steps:
        outcome = costly.sessions[role].call("mi_execute", call.arguments())
        note(f"{role}: {call} -> {outcome.code or 'ok'}")
        asked[key(call.command, call.params)] = asked.get(key(call.command, call.params), 0) + 1
    entries = [e for e in control.since(mark) if e.get("method") != "which"]
    cost: dict[str, float] = {}
    ran: dict[str, int] = {}
    for entry in entries:
        k = key(entry.get("method"), entry.get("params"))
        ran[k] = ran.get(k, 0) + 1
        cost[k] = max(cost.get(k, 0.0), float(entry.get("busy_s") or 0.0))
    for k, times in ran.items():
        assert times <= asked.get(k, 0), f"{k} asked {asked.get(k, 0)} times, executed {times}"
    assert busy(entries) <= sum(cost[k] * asked[k] for k in cost) + 1e-9


def test_a_viewer_cannot_hold_the_mi_beyond_its_budget_per_minute(costly: Costly) -> None:
    """A viewer calling a costly read again and again is refused (over_budget, nothing
    sent) once its MI time in the last minute reaches the budget: the endpoint's busy time
    on its behalf stays within the budget plus the call that crossed it."""
    control = costly.control
    control.reset()
    mark = control.mark()
    viewer = costly.sessions["viewer"]
    codes = []
    for _ in range(40):
        outcome = viewer.call("mi_execute", {"command": "dlg_list"})
        codes.append(outcome.code)
        if outcome.code == "over_budget":
            break
    entries = [e for e in control.since(mark) if e.get("method") == "dlg_list"]
    one = max(float(e.get("busy_s") or 0.0) for e in entries)  # type: ignore[arg-type]

    assert codes[-1] == "over_budget", codes
    assert busy(entries) <= BUDGET + one, (busy(entries), BUDGET, one)
    sent_before = len(control.since(mark))
    assert viewer.call("mi_execute", {"command": "dlg_list"}).code == "over_budget"
    assert len(control.since(mark)) == sent_before  # refused: nothing sent
