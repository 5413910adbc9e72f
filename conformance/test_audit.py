"""Property 6, audit: one JSON record per tool call, in call order per principal, and no
secret anywhere in the file, over the real streamable HTTP transport with bearer tokens.

Three principals (one token each, different roles; two viewers on a read-only external
target) call tools at the same time, each its own sequence. Calls carry generated secret
values under secret names (``password``, ``token``, ``key``, ...): named, positional, in
nested objects and inside a carried command's parameters. The bearer tokens are secrets
too.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from conformance.harness import CALL_TIMEOUT, PATIENT_MI, AuditTail, Harness, Target, ToolOutcome
from conformance.oracle import expect
from conformance.profiles import scaled
from conformance.strategies import (
    COMMANDS,
    QUIET_FACTS,
    MICall,
    any_call,
    call_with_secrets,
    sendable,
)
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.settings import Settings
from opensips_mcp.tokens import TokenStore, add_token, load_tokens
from opensips_mcp.transport_http import build_http_app, make_uvicorn

STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class ToolCall:
    """One planned tool call, the secrets it carries and the command its record names."""

    tool: str
    arguments: dict[str, Any]
    secrets: tuple[str, ...] = ()

    @property
    def audited_command(self) -> str | None:
        """The ``command`` of its audit record, where the suite can tell (``mi_execute``)."""
        if self.tool != "mi_execute":
            return None
        exp = expect(self.arguments["command"], self.arguments.get("params"))
        return exp.command if exp.refusal is None else str(self.arguments["command"])


@dataclass
class HttpPrincipal:
    """A connected MCP client over HTTP with one bearer token."""

    name: str
    role: Role
    token: str
    client: Client


@dataclass
class HttpServer:
    """The MCP server over streamable HTTP, its principals and its audit file."""

    principals: list[HttpPrincipal]
    audit: AuditTail


@asynccontextmanager
async def serving(
    settings: Settings, tokens: TokenStore, sock: socket.socket
) -> AsyncIterator[None]:
    """Serve the HTTP app on ``sock`` (already listening) until the block ends."""
    app, _ = build_http_app(settings, tokens)
    server = make_uvicorn(settings, app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=STOP_TIMEOUT)


def http_client(url: str, token: str) -> Client:
    """An MCP client sending ``token`` as its bearer token."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=CALL_TIMEOUT)
    return Client(streamable_http_client(url, http_client=http))


@pytest.fixture(scope="module")
def http_server(harness: Harness, target: Target) -> Iterator[HttpServer]:
    """The HTTP server on 127.0.0.1 (port 0) with a token per principal."""
    workdir = harness.workdir / "http"
    workdir.mkdir(exist_ok=True)
    tokens_file = workdir / "tokens.toml"
    roles = (
        [("alice", Role.VIEWER), ("bob", Role.OPERATOR), ("carol", Role.ADMIN)]
        if target.allow_writes
        else [("alice", Role.VIEWER), ("bob", Role.VIEWER)]
    )
    tokens = {name: add_token(tokens_file, name, role) for name, role in roles}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    audit_path = workdir / "audit.jsonl"
    settings = Settings(
        transport="http",
        host="127.0.0.1",
        port=port,
        mi_url=target.mi_url,
        tokens_file=tokens_file,
        audit_log=audit_path,
        log_level="WARNING",
        confirm=ConfirmPolicy.NONE,
        **PATIENT_MI,
    )
    store = TokenStore(load_tokens(tokens_file))
    portal = harness.portal
    with ExitStack() as stack:
        stack.enter_context(sock)
        stack.enter_context(portal.wrap_async_context_manager(serving(settings, store, sock)))
        url = f"http://127.0.0.1:{port}/mcp"
        principals = [
            HttpPrincipal(
                name,
                role,
                tokens[name],
                stack.enter_context(
                    portal.wrap_async_context_manager(http_client(url, tokens[name]))
                ),
            )
            for name, role in roles
        ]
        tail = AuditTail(audit_path)
        tail.skip_to_end()
        yield HttpServer(principals, tail)


def tool_calls(target: Target) -> st.SearchStrategy[ToolCall]:
    """Tool calls of every generic tool; most carry secrets."""
    mi_calls = any_call(QUIET_FACTS)
    with_secrets = call_with_secrets(QUIET_FACTS)
    if not target.allow_writes:
        mi_calls = mi_calls.filter(lambda c: expect(c.command, c.params).is_read)
        with_secrets = with_secrets.filter(lambda cs: _safe_for_viewer(cs[0]))
    elif target.is_external:
        mi_calls = mi_calls.filter(sendable)
        with_secrets = with_secrets.filter(lambda cs: sendable(cs[0]))
    return st.one_of(
        with_secrets.map(lambda cs: ToolCall("mi_execute", cs[0].arguments(), tuple(cs[1]))),
        with_secrets.map(lambda cs: ToolCall("mi_execute", cs[0].arguments(), tuple(cs[1]))),
        mi_calls.map(lambda c: ToolCall("mi_execute", c.arguments())),
        st.sampled_from(COMMANDS).map(lambda c: ToolCall("mi_describe_command", {"command": c})),
        st.just(ToolCall("opensips_health", {})),
        st.just(ToolCall("mi_list_commands", {"module": "dialog"})),
    )


def _safe_for_viewer(call: MICall) -> bool:
    exp = expect(call.command, call.params)
    return exp.refusal is not None or exp.is_read


async def _run_sequences(
    server: HttpServer, plans: list[list[ToolCall]]
) -> dict[str, list[ToolOutcome]]:
    outcomes: dict[str, list[ToolOutcome]] = {p.name: [] for p in server.principals}

    async def run(principal: HttpPrincipal, plan: list[ToolCall]) -> None:
        for call in plan:
            with anyio.fail_after(CALL_TIMEOUT):
                result = await principal.client.call_tool(call.tool, call.arguments)
            outcomes[principal.name].append(ToolOutcome.of(result))

    async with anyio.create_task_group() as tg:
        for principal, plan in zip(server.principals, plans, strict=True):
            tg.start_soon(run, principal, plan)
    return outcomes


@settings(max_examples=scaled(25))
@given(data=st.data())
def test_every_tool_call_is_audited_once_in_order_without_secrets(
    harness: Harness, target: Target, http_server: HttpServer, data: st.DataObject
) -> None:
    """Concurrent principals' tool calls each leave exactly one valid JSON record, in each
    principal's call order, and no secret value (nor a bearer token) appears in the file."""
    if target.control is not None:
        target.control.reset()
    plans = [
        data.draw(st.lists(tool_calls(target), max_size=5), label=f"calls of {p.name}")
        for p in http_server.principals
    ]
    http_server.audit.new_lines()
    outcomes = harness.portal.call(_run_sequences, http_server, plans)
    lines = http_server.audit.new_lines()
    parsed = [_parse(line) for line in lines]
    records = [r for r in parsed if r.get("kind") == "call"]
    assert len(records) == sum(len(plan) for plan in plans), "not one record per tool call"
    intents = {r["call_id"] for r in parsed if r.get("kind") == "pending"}
    referenced = {c["call_id"] for r in records for c in r["calls"] if c.get("call_id")}
    assert intents == referenced, "a pending record without its call record, or the reverse"
    for principal, plan in zip(http_server.principals, plans, strict=True):
        mine = [r for r in records if r["principal"] == principal.name]
        note(f"{principal.name}: {[(r['tool'], r['command'], r['outcome']) for r in mine]}")
        assert [r["tool"] for r in mine] == [c.tool for c in plan], "records out of call order"
        for record, call, outcome in zip(mine, plan, outcomes[principal.name], strict=True):
            assert record["role"] == principal.role.value
            if call.audited_command is not None:
                assert record["command"] == call.audited_command
            assert (record["outcome"] == "ok") == (not outcome.is_error)
    text = "\n".join(lines)
    secrets = [s for plan in plans for call in plan for s in call.secrets]
    secrets += [p.token for p in http_server.principals]
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"secret values in the audit file: {leaked}"


def _parse(line: str) -> dict[str, Any]:
    record = json.loads(line)
    assert isinstance(record, dict), f"an audit line is not a JSON object: {line[:200]}"
    return record
