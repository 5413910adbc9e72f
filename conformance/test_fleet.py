"""Property 7, fleets: permissions and never-resent writes hold per instance.

One server manages the three nodes of a simulated clusterer cluster
(``opensips_sim.cluster``), each instance with its own cap: ``node1`` none, ``node2``
``operator``, ``node3`` ``viewer``. For any call, any caller role and any instance:

* the gate allows it iff the caller's role *capped by the instance* may use its level
  (the same check as property 1, with the capped role), and a denied call reaches no node;
* an allowed call reaches that instance's node once, and no other node;
* a write meeting a fault on its node is sent at most once (property 2, per instance).

The cluster is the suite's own, whatever ``OPENSIPS_MI_URL`` says: these are properties of
the server's per-instance gate, not of the target. Its nodes impersonate the version the
calls are drawn for (``OPENSIPS_CONFORMANCE_VERSION``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from mcp import Client

from conformance.checks import check_permission, own_requests
from conformance.harness import (
    CAPTURE_EPOCH,
    FAULT_MI,
    AuditTail,
    Harness,
    McpSession,
    SimControl,
    ToolOutcome,
)
from conformance.oracle import ROLES
from conformance.profiles import scaled
from conformance.strategies import (
    FAULT_ACTIONS,
    QUIET_FACTS,
    WHENS,
    MICall,
    any_call,
    fault_rule,
    sendable,
    write_calls,
)
from conformance.versions import target_version
from opensips_mcp.audit import AuditLog
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.instances import InstanceConfig
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from opensips_sim.clock import Clock
from opensips_sim.cluster import SimulatedCluster
from opensips_sim.simulator import Settings as SimSettings

CAPS: dict[str, Role | None] = {"node1": None, "node2": Role.OPERATOR, "node3": Role.VIEWER}
NODES = {"node1": 1, "node2": 2, "node3": 3}
WRITES = [call for calls in write_calls(QUIET_FACTS).values() for call in calls]


@dataclass
class FleetSession(McpSession):
    """An MCP session whose every call goes to one instance (``instance`` argument)."""

    instance: str = "node1"

    def call(self, tool: str, arguments: Any = None) -> ToolOutcome:
        return super().call(tool, {**dict(arguments or {}), "instance": self.instance})


@dataclass
class Fleet:
    """The simulated cluster, its control APIs, and a session per (role, instance)."""

    harness: Harness
    cluster: SimulatedCluster
    controls: dict[str, SimControl]
    servers: dict[Role, OpenSIPSMCP]
    clients: dict[Role, Client]
    audits: dict[Role, AuditTail]

    def session(self, role: str, instance: str) -> FleetSession:
        """A session of ``role`` talking to ``instance``; its ``role`` is the capped one,
        which is what the gate must apply."""
        caller = Role(role)
        cap = CAPS[instance]
        capped = caller if cap is None else min(caller, cap, key=list(Role).index)
        return FleetSession(
            capped,
            self.servers[caller],
            self.clients[caller],
            self.audits[caller],
            self.harness.portal,
            instance,
        )

    def reset(self) -> None:
        for control in self.controls.values():
            control.reset()
            control.clear_faults()


@pytest.fixture(scope="module")
def fleet(harness: Harness) -> Iterator[Fleet]:
    async def start() -> SimulatedCluster:
        cluster = SimulatedCluster(
            3,
            "quiet",
            seed=1,
            clock=Clock(CAPTURE_EPOCH, frozen=True),
            # the version the suite's calls are drawn for (OPENSIPS_CONFORMANCE_VERSION)
            settings=SimSettings(opensips_version=target_version()),
        )
        await cluster.start("127.0.0.1", 0)
        return cluster

    cluster = harness.portal.call(start)
    try:
        instances = tuple(
            InstanceConfig(name, cluster.url(node), max_role=CAPS[name], cluster_node_id=node)
            for name, node in NODES.items()
        )
        controls = {
            name: SimControl(cluster.url(node).removesuffix("/mi") + "/sim")
            for name, node in NODES.items()
        }
        servers: dict[Role, OpenSIPSMCP] = {}
        clients: dict[Role, Client] = {}
        audits: dict[Role, AuditTail] = {}
        for role in Role:
            path = harness.workdir / f"fleet-audit-{role.value}.jsonl"
            settings = Settings(
                role=role,
                principal=f"fleet-{role.value}",
                instances=instances,
                audit_log=path,
                log_level="WARNING",
                confirm=ConfirmPolicy.NONE,
                **FAULT_MI,
            )
            server = build_server(settings, audit=AuditLog(path))
            client = harness.stack.enter_context(
                harness.portal.wrap_async_context_manager(Client(server))
            )
            servers[role], clients[role] = server, client
            audits[role] = AuditTail(path)
            audits[role].skip_to_end()
        yield Fleet(harness, cluster, controls, servers, clients, audits)
    finally:
        for control in controls.values():
            control.close()
        harness.portal.call(cluster.close)


@settings(max_examples=scaled(60))
@given(
    call=any_call(QUIET_FACTS),
    role=st.sampled_from(ROLES),
    instance=st.sampled_from(sorted(NODES)),
)
def test_the_gate_applies_the_callers_role_capped_by_the_instance(
    fleet: Fleet, call: MICall, role: str, instance: str
) -> None:
    """Allowed iff the capped role may use the level; only that instance's node is asked."""
    fleet.reset()
    marks = {name: control.mark() for name, control in fleet.controls.items()}
    session = fleet.session(role, instance)
    note(f"{role} on {instance} (acts as {session.role.value}): {call}")
    check_permission(session, fleet.controls[instance], call)
    for other, control in fleet.controls.items():
        if other != instance:
            assert own_requests(control.since(marks[other]), call.command) == [], (
                f"a call for {instance} reached {other}"
            )


@settings(max_examples=scaled(40))
@given(
    call=st.sampled_from(WRITES),
    instance=st.sampled_from(["node1", "node2"]),
    action=st.sampled_from([a for a in FAULT_ACTIONS if a != "partial"]),
    when=st.sampled_from(WHENS),
)
def test_a_write_meeting_a_fault_on_its_instance_is_sent_at_most_once(
    fleet: Fleet, call: MICall, instance: str, action: str, when: str
) -> None:
    """Whatever goes wrong on one node, the write reaches it at most once, and no other."""
    if not sendable(call):
        return
    fleet.reset()
    control = fleet.controls[instance]
    control.add_faults([fault_rule(call.command, action, when)])
    marks = {name: c.mark() for name, c in fleet.controls.items()}
    session = fleet.session("admin", instance)
    session.audit.new_lines()
    outcome = session.call("mi_execute", call.arguments())
    records = session.audit.new_records()
    note(f"{call} on {instance} under {action}/{when} -> {outcome.code or 'ok'}")
    entries = control.since(marks[instance])
    sent = own_requests(entries, call.command)
    assert len(sent) <= 1, f"a write reached {instance} {len(sent)} times"
    assert len(records) == 1 and records[0]["instance"] == instance
    assert records[0]["mi_attempts"] == len(entries), "audited attempts differ from requests"
    if sent and sent[0]["fault"] is not None:
        assert outcome.is_error, f"a {action} fault ({when}) was reported as success"
    for other, c in fleet.controls.items():
        if other != instance:
            assert own_requests(c.since(marks[other]), call.command) == []
