"""MCP logging: logging/setLevel honoured, notifications/message about the agent's own
calls (a retried read, a slow answer, an outcome-unknown write and its state read, a
declined confirmation), filtered by the level set. In-memory clients, the simulator."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult, LoggingMessageNotificationParams

from opensips_mcp import runtime as runtime_module
from opensips_mcp.gate import Role
from opensips_mcp.mi.client import MIClient, MIResponse
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from opensips_sim.simulator import Simulator

from .conftest import FAST_MI
from .helpers import error_code

# The client's logging/setLevel is deprecated as of 2026-07-28; handshake clients use it.
pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


def server_for(url: str, tmp_path: Path, **changes: Any) -> OpenSIPSMCP:
    values: dict[str, Any] = {
        "mi_url": url,
        "role": Role.ADMIN,
        "audit_log": tmp_path / "audit.jsonl",
        **FAST_MI,
        **changes,
    }
    return build_server(Settings(**values))


class Logs:
    """A logging callback keeping every message."""

    def __init__(self) -> None:
        self.messages: list[LoggingMessageNotificationParams] = []

    async def __call__(self, params: LoggingMessageNotificationParams) -> None:
        self.messages.append(params)

    def levels(self) -> list[str]:
        return [m.level for m in self.messages]

    def data(self, level: str) -> list[dict[str, Any]]:
        return [m.data for m in self.messages if m.level == level and isinstance(m.data, dict)]


async def decline(ctx: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="decline")


async def test_the_server_declares_logging_and_accepts_set_level(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    _, url = sim
    async with Client(server_for(url, tmp_path), mode="legacy") as c:
        assert c.server_capabilities.logging is not None
        assert c.server_capabilities.completions is not None
        await c.set_logging_level("warning")


@pytest.mark.parametrize(("level", "delivered"), [("debug", True), ("warning", False)])
async def test_a_declined_confirmation_is_logged_at_notice(
    sim: tuple[Simulator, str], tmp_path: Path, level: str, delivered: bool
) -> None:
    _, url = sim
    logs = Logs()
    server = server_for(url, tmp_path)
    async with Client(
        server, mode="legacy", logging_callback=logs, elicitation_callback=decline
    ) as c:
        await c.set_logging_level(level)  # type: ignore[arg-type]
        result = await c.call_tool("profile_end_dialogs", {"profile": "inbound"})
    assert error_code(result) == "declined"
    notices = logs.data("notice")
    assert bool(notices) is delivered
    if delivered:
        assert notices[0]["command"] == "profile_end_dlgs"
        assert notices[0]["answer"] == "decline"
        assert all(m.logger == "opensips_mcp" for m in logs.messages)


async def test_a_retried_read_is_logged_at_info(
    sim: tuple[Simulator, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = sim
    original = MIClient.call

    async def retried(self: MIClient, *args: Any, **kwargs: Any) -> MIResponse:
        # As if the first try had been refused before it was sent.
        return replace(await original(self, *args, **kwargs), tries=2)

    monkeypatch.setattr(MIClient, "call", retried)
    logs = Logs()
    async with Client(server_for(url, tmp_path), mode="legacy", logging_callback=logs) as c:
        await c.set_logging_level("info")
        result = await c.call_tool("mi_execute", {"command": "uptime"})
        await c.set_logging_level("notice")
        await c.call_tool("mi_execute", {"command": "uptime"})
    assert error_code(result) is None
    assert [(d["command"], d["tries"]) for d in logs.data("info")] == [("uptime", 2)]


async def test_a_slow_answer_is_logged_at_warning(
    sim: tuple[Simulator, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = sim
    monkeypatch.setattr(runtime_module, "SLOW_SECONDS", 0.0)
    logs = Logs()
    async with Client(server_for(url, tmp_path), mode="legacy", logging_callback=logs) as c:
        await c.set_logging_level("warning")
        await c.call_tool("mi_execute", {"command": "uptime"})
    warnings = logs.data("warning")
    assert [d["command"] for d in warnings] == ["uptime"]
    assert warnings[0]["elapsed_seconds"] >= 0
    assert "info" not in logs.levels()


async def test_an_outcome_unknown_write_is_logged_with_the_read_to_run(
    sim: tuple[Simulator, str], tmp_path: Path
) -> None:
    simulator, url = sim
    simulator.faults.extend(
        [{"command": "lb_reload", "action": "http_500", "when": "after_apply", "count": 1}]
    )
    logs = Logs()
    async with Client(server_for(url, tmp_path), mode="legacy", logging_callback=logs) as c:
        await c.set_logging_level("warning")
        result = await c.call_tool("mi_execute", {"command": "lb_reload"})
    assert error_code(result) == "outcome_unknown"
    (warning,) = logs.data("warning")
    assert (warning["command"], warning["check_with"]) == ("lb_reload", "lb_list")
    assert "lb_list" in warning["message"]
    methods = [e["method"] for e in simulator.journal.entries()]
    assert methods == ["lb_reload"]  # sent once, nothing else: the agent reads next


async def test_messages_reach_a_2026_client_that_opts_in_per_request(
    sim: tuple[Simulator, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = sim
    monkeypatch.setattr(runtime_module, "SLOW_SECONDS", 0.0)
    logs = Logs()
    async with Client(server_for(url, tmp_path), logging_callback=logs, log_level="info") as c:
        result = await c.call_tool("mi_execute", {"command": "uptime"})
    assert error_code(result) is None
    assert [d["command"] for d in logs.data("warning")] == ["uptime"]
