"""Every typed tool against the quiet simulator, for every role: allowed calls do what
they say (checked in the simulator's state), denied calls send nothing (its journal),
and what a tool sends matches the level its annotations claim (the catalog's).

One simulator and one server per role serve the module (building a server costs more
than a call); the simulator's world is reset to the quiet scenario before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from opensips_mcp.catalog import AccessLevel, highest
from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP
from opensips_sim.runner import RunningSimulator, running_simulator
from opensips_sim.state.dialog import DialogState
from opensips_sim.state.usrloc import UsrlocState

from .conftest import CAPTURE_EPOCH
from .helpers import call, catalog_level, content, error_code, last_seq, server_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def quiet() -> AsyncIterator[RunningSimulator]:
    async with running_simulator("quiet", seed=1, frozen_at=CAPTURE_EPOCH) as running:
        yield running


@pytest.fixture(scope="module")
def servers(
    quiet: RunningSimulator, tmp_path_factory: pytest.TempPathFactory
) -> dict[Role, OpenSIPSMCP]:
    audit = tmp_path_factory.mktemp("audit")
    return {role: server_for(quiet, role, audit) for role in Role}


@pytest.fixture
def sim(quiet: RunningSimulator) -> RunningSimulator:
    """The module's simulator with a fresh quiet world."""
    quiet.sim.reset()
    return quiet


Check = Callable[[dict[str, Any], RunningSimulator], None]


@dataclass(frozen=True)
class Case:
    tool: str
    args: dict[str, Any]
    needs: Role
    check: Check

    def __str__(self) -> str:
        return self.tool


def _status(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["version"] and "3.6" in c["version"]
    assert (c["active_dialogs"], c["registered_users"], c["registered_contacts"]) == (3, 3, 3)
    assert c["processes"] == 12 and c["process_types"]["SIP receiver"] == 4
    assert c["shared_memory"]["total"] == 268435456 and c["problems"] == []


def _statistics(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["statistics"]["dialog:active_dialogs"] == 3
    assert c["missing"] == ["no_such_statistic"]
    assert c["groups"] == ["dialog"]


def _registrations(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["total"] == 3 and c["next_cursor"] is None
    assert {x["aor"] for x in c["contacts"]} == {"alice", "bob", "carol"}


def _one_aor(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert [x["contact"] for x in c["contacts"]] == ["sip:alice@127.0.0.1:5071"]
    assert c["contacts"][0]["user_agent"] == "sipp-reflab-alice"


def _dialogs(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["total"] == 3 and c["returned"] == 3 and c["next_cursor"] is None
    assert {d["state"] for d in c["dialogs"]} == {"confirmed"}


def _dialog(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["found"] is True and c["id"] == "424.f410db26"
    assert "c=IN IP4 127.0.0.1" in c["caller"]["sdp"]
    assert len(c["callees"]) == 1
    assert {(p["profile"], p["value"]) for p in c["profiles"]} == {
        ("inbound", ""),
        ("caller", "alice"),
    }


def _profiles(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert {(p["name"], p["size"]) for p in c["profiles"]} == {("inbound", 3), ("caller", 3)}


def _profile_values(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["values"] == [{"value": "alice", "count": 3}]


def _dispatcher(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["sets"] == [
        {
            "partition": "default",
            "set_id": 1,
            "destinations": 2,
            "active": 2,
            "inactive": 0,
            "probing": 0,
        }
    ]
    assert [d["uri"] for d in c["destinations"]] == ["sip:127.0.0.1:5081", "sip:127.0.0.1:5082"]


def _lb(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert [d["id"] for d in c["destinations"]] == [1, 2]
    assert c["destinations"][0]["resources"][0] == {
        "name": "pstn",
        "load": 0,
        "capacity": 10,
        "used_percent": 0.0,
    }


def _routing(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert [(t["id"], t["enabled"]) for t in c["targets"]] == [("gw1", True)]
    assert c["last_reload"]


def _route(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["matched"] is True
    assert c["targets"] == [{"kind": "carrier", "id": "carrier1", "enabled": True}]


def _cluster(c: dict[str, Any], sim: RunningSimulator) -> None:
    (cluster,) = c["clusters"]
    assert cluster["local_node_id"] == 1
    assert [n["node_id"] for n in cluster["nodes"]] == [2]


def _added(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["action"] == "added" and c["contacts_after"] == 1
    contacts = sim.world.get(UsrlocState).contacts("dave")
    assert contacts is not None and contacts[0].contact == "sip:dave@192.0.2.9:5060"


def _removed(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert (c["action"], c["contacts_before"], c["contacts_after"]) == ("removed", 1, 0)
    assert sim.world.get(UsrlocState).contacts("alice") is None


def _ended(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["ended"] is True
    ended = sim.world.get(DialogState).by_did("424.f410db26")
    assert ended is None or ended.state == 5  # listed as deleted until its BYEs end


def _profile_ended(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert (c["calls_before"], c["calls_after"]) == (3, 0)
    assert {d.state for d in sim.world.get(DialogState).walk()} <= {5}


def _ds_state(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["state_after"] == "inactive"


def _ds_reload(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["sets"][0]["destinations"] == 2


def _lb_status(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["destination"]["enabled"] is False


def _lb_resize(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["destination"]["resources"][0]["capacity"] == 7


def _lb_reload(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["destinations"] == 2


def _gw_off(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["target"]["enabled"] is False


def _dr_reload(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert (c["gateways"], c["carriers"]) == (1, 1)


def _node_off(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["seen_enabled"] is False


def _tag(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert c["state"] == "active"


def _drain(c: dict[str, Any], sim: RunningSimulator) -> None:
    assert (c["node_id"], c["disabled"], c["dialogs_at_start"], c["drained"]) == (1, True, 3, False)


CASES = [
    Case("opensips_status", {}, Role.VIEWER, _status),
    Case(
        "get_statistics", {"statistics": ["dialog:", "no_such_statistic"]}, Role.VIEWER, _statistics
    ),
    Case("registrations_list", {}, Role.VIEWER, _registrations),
    Case("registrations_list", {"aor": "alice"}, Role.VIEWER, _one_aor),
    Case("dialogs_list", {}, Role.VIEWER, _dialogs),
    Case("dialog_show", {"callid": "2-1979@127.0.0.1"}, Role.VIEWER, _dialog),
    Case("dialog_profiles", {}, Role.VIEWER, _profiles),
    Case("dialog_profiles", {"profile": "caller"}, Role.VIEWER, _profile_values),
    Case("dispatcher_list", {}, Role.VIEWER, _dispatcher),
    Case("lb_destinations", {}, Role.VIEWER, _lb),
    Case("routing_status", {}, Role.VIEWER, _routing),
    Case("routing_test_number", {"number": "+4412345", "group_id": 1}, Role.VIEWER, _route),
    Case("cluster_status", {}, Role.VIEWER, _cluster),
    Case(
        "registration_add",
        {"aor": "dave", "contact": "sip:dave@192.0.2.9:5060", "expires_seconds": 600},
        Role.OPERATOR,
        _added,
    ),
    Case(
        "dispatcher_set_state",
        {"set_id": 1, "address": "sip:127.0.0.1:5081", "state": "inactive"},
        Role.OPERATOR,
        _ds_state,
    ),
    Case("dispatcher_reload", {"keep_states": False}, Role.OPERATOR, _ds_reload),
    Case("lb_set_status", {"destination_id": 1, "enabled": False}, Role.OPERATOR, _lb_status),
    Case(
        "lb_resize",
        {"destination_id": 1, "resource": "pstn", "capacity": 7},
        Role.OPERATOR,
        _lb_resize,
    ),
    Case("lb_reload", {}, Role.OPERATOR, _lb_reload),
    Case(
        "routing_set_status",
        {"kind": "gateway", "id": "gw1", "enabled": False},
        Role.OPERATOR,
        _gw_off,
    ),
    Case("routing_reload", {}, Role.OPERATOR, _dr_reload),
    Case(
        "cluster_set_node_status",
        {"cluster_id": 1, "node_id": 2, "enabled": False},
        Role.OPERATOR,
        _node_off,
    ),
    Case("cluster_activate_sharing_tag", {"tag": "vip", "cluster_id": 1}, Role.OPERATOR, _tag),
    Case("cluster_drain_node", {"cluster_id": 1, "wait_seconds": 0}, Role.OPERATOR, _drain),
    Case("registration_remove", {"aor": "alice"}, Role.ADMIN, _removed),
    Case("dialog_end", {"dialog_id": "424.f410db26"}, Role.ADMIN, _ended),
    Case("profile_end_dialogs", {"profile": "inbound"}, Role.ADMIN, _profile_ended),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("role", list(Role))
async def test_a_tool_does_its_job_for_a_role_that_may_and_sends_nothing_otherwise(
    case: Case, role: Role, sim: RunningSimulator, servers: dict[Role, OpenSIPSMCP]
) -> None:
    before = last_seq(sim)
    result = await call(servers[role], case.tool, case.args)
    if role.allows(case.needs.max_level):
        case.check(content(result), sim)
    else:
        assert error_code(result) == "permission_denied"
        assert sim.journal(before) == []


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_a_tool_sends_exactly_up_to_the_level_its_annotations_claim(
    case: Case, sim: RunningSimulator, servers: dict[Role, OpenSIPSMCP]
) -> None:
    server = servers[Role.ADMIN]
    before = last_seq(sim)
    content(await call(server, case.tool, case.args))
    sent = [catalog_level(e["method"], e.get("params")) for e in sim.journal(before)]
    spec = server.specs[case.tool]
    assert sent, "the tool sent nothing"
    assert highest(*sent) == spec.max_level
    hints = spec.annotations()
    assert hints.read_only_hint == (spec.max_level is AccessLevel.READ)
    assert hints.destructive_hint == (spec.max_level >= AccessLevel.DESTRUCTIVE)
