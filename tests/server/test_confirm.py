"""Confirmation before destructive changes (--confirm), against the simulator.

In-memory clients that accept, decline, cancel, and one without the elicitation
capability; both protocol eras (handshake: mid-call elicitation/create; 2026-07-28:
InputRequiredResult and a repeated call). Nothing is sent unless the user said yes:
checked in the simulator's journal and in the audit record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.instances import InstanceConfig
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from opensips_sim.simulator import Simulator
from opensips_sim.wire import WireServer

from .conftest import FAST_MI
from .helpers import audit_records, error_code

MODES = ["legacy", "auto"]
"""legacy: the initialize handshake (elicitation/create mid-call); auto: 2026-07-28."""


def server_for(url: str, tmp_path: Path, **changes: Any) -> OpenSIPSMCP:
    values: dict[str, Any] = {
        "mi_url": url,
        "role": Role.ADMIN,
        "audit_log": tmp_path / "audit.jsonl",
        **FAST_MI,
        **changes,
    }
    return build_server(Settings(**values))


class Answering:
    """An elicitation callback that answers ``action`` (and records the questions)."""

    def __init__(self, action: str, confirm: bool = True) -> None:
        self.action = action
        self.confirm = confirm
        self.questions: list[str] = []

    async def __call__(
        self, ctx: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        self.questions.append(params.message)
        if self.action == "accept":
            return ElicitResult(action="accept", content={"confirm": self.confirm})
        return ElicitResult(action=self.action)  # type: ignore[arg-type]


def sent(simulator: Simulator, method: str) -> int:
    return sum(1 for e in simulator.journal.entries() if e["method"] == method)


async def first_dialog_id(url: str, tmp_path: Path) -> tuple[str, str]:
    """(ID, callid) of a call in progress, as dialogs_list shows it."""
    async with Client(server_for(url, tmp_path)) as c:
        result = await c.call_tool("dialogs_list", {})
    assert result.structured_content is not None
    first = result.structured_content["dialogs"][0]
    return str(first["id"]), str(first["callid"])


@pytest.mark.parametrize("mode", MODES)
async def test_accepted_confirmation_sends_once_with_the_effect_stated(
    sim: tuple[Simulator, str], tmp_path: Path, mode: str
) -> None:
    simulator, url = sim
    dialog_id, callid = await first_dialog_id(url, tmp_path)
    answer = Answering("accept")
    async with Client(server_for(url, tmp_path), mode=mode, elicitation_callback=answer) as c:  # type: ignore[arg-type]
        result = await c.call_tool("dialog_end", {"dialog_id": dialog_id})
    assert error_code(result) is None
    assert sent(simulator, "dlg_end_dlg") == 1
    assert len(answer.questions) == 1
    question = answer.questions[0]
    assert "ends 1 call: alice -> bob, confirmed" in question
    assert callid in question
    record = audit_records(tmp_path / "audit.jsonl")[-1]
    assert record["outcome"] == "ok"
    assert record["confirmation"]["answer"] == "accept"
    assert record["confirmation"]["question"] == question


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("action", "confirm"), [("decline", True), ("cancel", True), ("accept", False)]
)
async def test_declined_or_cancelled_sends_nothing(
    sim: tuple[Simulator, str], tmp_path: Path, mode: str, action: str, confirm: bool
) -> None:
    simulator, url = sim
    answer = Answering(action, confirm)
    async with Client(server_for(url, tmp_path), mode=mode, elicitation_callback=answer) as c:  # type: ignore[arg-type]
        result = await c.call_tool("profile_end_dialogs", {"profile": "inbound"})
    assert error_code(result) == "declined"
    assert sent(simulator, "profile_end_dlgs") == 0
    assert answer.questions and "ends 3 calls in profile inbound" in answer.questions[0]
    record = audit_records(tmp_path / "audit.jsonl")[-1]
    assert record["outcome"] == "declined"
    expected = "cancel" if action == "cancel" else "decline"
    assert record["confirmation"]["answer"] == expected
    assert "profile inbound" in record["confirmation"]["question"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_that_cannot_elicit_is_refused(
    sim: tuple[Simulator, str], tmp_path: Path, mode: str
) -> None:
    simulator, url = sim
    async with Client(server_for(url, tmp_path), mode=mode) as c:  # type: ignore[arg-type]
        listed = {t.name: t for t in (await c.list_tools()).tools}
        result = await c.call_tool(
            "mi_execute",
            {"command": "ul_rm", "params": {"table_name": "location", "aor": "bob"}},
        )
    assert "--confirm none" in (listed["dialog_end"].description or "")
    assert "Needs confirmation" not in (listed["dialogs_list"].description or "")
    assert error_code(result) == "confirmation_unavailable"
    assert sent(simulator, "ul_rm") == 0
    record = audit_records(tmp_path / "audit.jsonl")[-1]
    assert (record["outcome"], record["confirmation"]["answer"]) == ("denied", "unavailable")


async def test_statement_counts_the_contacts_of_an_aor(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    simulator, url = sim
    answer = Answering("accept")
    async with Client(server_for(url, tmp_path), elicitation_callback=answer) as c:
        result = await c.call_tool(
            "mi_execute",
            {"command": "ul_rm", "params": {"table_name": "location", "aor": "bob"}},
        )
    assert error_code(result) is None
    assert "removes 1 contact of AOR bob" in answer.questions[0]
    assert sent(simulator, "ul_rm") == 1


async def test_carried_command_of_cluster_broadcast_is_confirmed(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    simulator, url = sim
    answer = Answering("decline")
    params = {"cluster_id": 1, "cmd_name": "dlg_end_dlg", "cmd_params": ["1"]}
    async with Client(server_for(url, tmp_path), elicitation_callback=answer) as c:
        result = await c.call_tool(
            "mi_execute", {"command": "cluster_broadcast_mi", "params": params}
        )
    assert error_code(result) == "declined"
    assert sent(simulator, "cluster_broadcast_mi") == 0
    assert "'dlg_end_dlg'" in answer.questions[0]
    assert "every node of cluster 1" in answer.questions[0]


@pytest.mark.parametrize(
    ("policy", "asked"),
    [(ConfirmPolicy.NONE, False), (ConfirmPolicy.ADMIN, False), (ConfirmPolicy.DESTRUCTIVE, True)],
)
async def test_policy_decides_what_is_asked(
    sim: tuple[Simulator, str], tmp_path: Path, policy: ConfirmPolicy, asked: bool
) -> None:
    simulator, url = sim
    dialog_id, _ = await first_dialog_id(url, tmp_path)
    answer = Answering("accept")
    server = server_for(url, tmp_path, confirm=policy)
    async with Client(server, elicitation_callback=answer) as c:
        result = await c.call_tool("dialog_end", {"dialog_id": dialog_id})
        reads = await c.call_tool("dialogs_list", {})
    assert error_code(result) is None and error_code(reads) is None
    assert bool(answer.questions) is asked
    assert sent(simulator, "dlg_end_dlg") == 1


async def test_the_statement_reads_and_names_the_instance_the_call_goes_to(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    simulator, url = sim
    edge = Simulator("quiet", seed=7)
    wire = WireServer(edge)
    port = await wire.start("127.0.0.1", 0)
    try:
        instances = (
            InstanceConfig("default", url),
            InstanceConfig("edge", f"http://127.0.0.1:{port}/mi"),
        )
        server = server_for(url, tmp_path, instances=instances, default_instance="default")
        answer = Answering("decline")
        async with Client(server, elicitation_callback=answer) as c:
            result = await c.call_tool(
                "mi_execute",
                {
                    "command": "ul_rm",
                    "params": {"table_name": "location", "aor": "bob"},
                    "instance": "edge",
                },
            )
    finally:
        await wire.close()
    assert error_code(result) == "declined"
    assert f"on instance edge (127.0.0.1:{port})" in answer.questions[0]
    # the statement's read (once per round: a 2026-07-28 client repeats the call to answer)
    assert {e["method"] for e in edge.journal.entries()} == {"ul_show_contact"}
    assert [e["method"] for e in simulator.journal.entries()] == []
