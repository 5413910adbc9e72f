"""Confirmation through the real transports: `opensips-mcp serve` over stdio (a subprocess)
and over streamable HTTP (in-process uvicorn), each answer: accept, decline, cancel, and a
client without the elicitation capability. Checked in the simulator's journal and the audit."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from opensips_mcp.gate import Role
from opensips_mcp.settings import Settings
from opensips_mcp.transport_http import build_http_app, make_uvicorn
from opensips_sim.simulator import Simulator

from .conftest import FAST_MI
from .helpers import audit_records, error_code

SCRIPT = str(Path(sys.executable).with_name("opensips-mcp"))
ANSWERS = [("accept", None), ("decline", "declined"), ("cancel", "declined"), (None, "refused")]
"""(what the user answers, or None: the client cannot elicit; the expected outcome)."""


class Scripted:
    """A user who answers each question with the next answer of a script."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)

    async def __call__(
        self, ctx: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        action = self.answers.pop(0)
        if action == "accept":
            return ElicitResult(action="accept", content={"confirm": True})
        return ElicitResult(action=action)  # type: ignore[arg-type]


def answering(action: str) -> Scripted:
    return Scripted([action])


def check(simulator: Simulator, audit: Path, code: str | None, expected: str | None) -> None:
    sent = [e for e in simulator.journal.entries() if e["method"] == "ul_rm"]
    record = audit_records(audit)[-1]
    if expected is None:
        assert code is None and len(sent) == 1
        assert (record["outcome"], record["confirmation"]["answer"]) == ("ok", "accept")
        return
    assert sent == []
    if expected == "declined":
        assert code == "declined" and record["outcome"] == "declined"
    else:
        assert code == "confirmation_unavailable" and record["outcome"] == "denied"
    assert "removes 1 contact of AOR bob" in record["confirmation"]["question"]


REMOVE_BOB = {"command": "ul_rm", "params": {"table_name": "location", "aor": "bob"}}


async def test_stdio_each_answer(sim: tuple[Simulator, str], tmp_path: Path) -> None:
    """One subprocess whose user declines, cancels, then accepts; one whose client cannot
    elicit (two subprocesses: a process start costs seconds on a loaded machine)."""
    simulator, url = sim
    audit = tmp_path / "audit.jsonl"
    params = StdioServerParameters(
        command=SCRIPT,
        args=["serve", "--mi-url", url, "--audit-log", str(audit), "--role", "admin"],
    )
    user = Scripted(["decline", "cancel", "accept"])
    async with asyncio.timeout(30), Client(params, elicitation_callback=user) as c:
        for expected in ("declined", "declined"):
            result = await c.call_tool("mi_execute", REMOVE_BOB)
            check(simulator, audit, error_code(result), expected)
        # its own audit log: one process per audit log
        other = tmp_path / "audit-2.jsonl"
        args = [*params.args[:-4], "--audit-log", str(other), "--role", "admin"]
        cannot_params = StdioServerParameters(command=SCRIPT, args=args)
        async with asyncio.timeout(30), Client(cannot_params) as cannot:
            refused = await cannot.call_tool("mi_execute", REMOVE_BOB)
            check(simulator, other, error_code(refused), "refused")
        result = await c.call_tool("mi_execute", REMOVE_BOB)
        check(simulator, audit, error_code(result), None)
    assert user.answers == []


@pytest.fixture
async def http_url(sim: tuple[Simulator, str], tmp_path: Path) -> AsyncIterator[str]:
    """`serve --transport http` in-process on loopback, admin, no tokens, default --confirm."""
    _, mi_url = sim
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    settings = Settings(
        transport="http",
        port=port,
        mi_url=mi_url,
        role=Role.ADMIN,
        audit_log=tmp_path / "audit.jsonl",
        tokens_file=tmp_path / "no-tokens.toml",
        log_level="WARNING",
        **FAST_MI,  # type: ignore[arg-type]
    )
    app, _ = build_http_app(settings, None)
    server = make_uvicorn(settings, app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(("action", "expected"), ANSWERS)
async def test_http(
    sim: tuple[Simulator, str],
    http_url: str,
    tmp_path: Path,
    mode: str,
    action: str | None,
    expected: str | None,
) -> None:
    simulator, _ = sim
    callback = answering(action) if action else None
    async with (
        asyncio.timeout(30),
        Client(http_url, mode=mode, elicitation_callback=callback) as c,  # type: ignore[arg-type]
    ):
        result = await c.call_tool("mi_execute", REMOVE_BOB)
    check(simulator, tmp_path / "audit.jsonl", error_code(result), expected)
