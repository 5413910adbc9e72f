"""Streamable HTTP: bearer tokens, per-token roles, Host/Origin checks, start-up refusal."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import trustme
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from opensips_mcp.gate import Role
from opensips_mcp.settings import Settings
from opensips_mcp.tokens import TokenStore, add_token, load_tokens
from opensips_mcp.transport_http import StartupError, build_http_app, make_uvicorn

from .conftest import FAST_MI
from .helpers import FakeMI, audit_records, error_code

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class Running:
    url: str
    host_header: str
    tokens: dict[str, str]
    audit: Path


@pytest.fixture
async def http_server(fake_mi: FakeMI, tmp_path: Path) -> AsyncIterator[Running]:
    """The HTTP server in-process on 127.0.0.1 (port 0), with one token per role."""
    tokens_file = tmp_path / "tokens.toml"
    tokens = {role.value: add_token(tokens_file, f"{role.value}-1", role) for role in Role}
    # a viewer token with its own rate limit: one call, then (practically) no refill
    tokens["bot"] = add_token(tokens_file, "bot", Role.VIEWER, mi_rate=0.001, mi_rate_burst=1)
    sock, port = listening_socket()
    settings = Settings(
        transport="http",
        host="127.0.0.1",
        port=port,
        mi_url=fake_mi.url,
        tokens_file=tokens_file,
        audit_log=tmp_path / "audit.jsonl",
        log_level="WARNING",
        **FAST_MI,  # type: ignore[arg-type]
    )
    app, _ = build_http_app(settings, TokenStore(load_tokens(tokens_file)))
    server = make_uvicorn(settings, app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield Running(
            f"http://127.0.0.1:{port}/mcp", f"127.0.0.1:{port}", tokens, settings.audit_log
        )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


def listening_socket() -> tuple[socket.socket, int]:
    """A listening TCP socket on 127.0.0.1 (IPPROTO_TCP, so that asyncio sets TCP_NODELAY
    on what it accepts: benchmarks/README.md), and its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port: int = sock.getsockname()[1]
    return sock, port


def mcp_client(url: str, token: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=20)
    return Client(streamable_http_client(url, http_client=http))


async def post(running: Running, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(running.url, json=INIT, headers={**HEADERS, **headers})


async def test_a_request_without_a_token_is_refused_with_401(http_server: Running) -> None:
    response = await post(http_server, {})
    assert response.status_code == 401


async def test_an_unknown_token_is_refused_with_401(http_server: Running) -> None:
    response = await post(http_server, {"Authorization": "Bearer not-a-real-token"})
    assert response.status_code == 401


async def test_a_bad_host_is_refused_with_421_even_with_a_valid_token(
    http_server: Running,
) -> None:
    token = http_server.tokens["admin"]
    response = await post(
        http_server, {"Authorization": f"Bearer {token}", "Host": "evil.example:80"}
    )
    assert response.status_code == 421


async def test_a_bad_origin_is_refused_with_403_even_with_a_valid_token(
    http_server: Running,
) -> None:
    token = http_server.tokens["admin"]
    response = await post(
        http_server, {"Authorization": f"Bearer {token}", "Origin": "http://evil.example"}
    )
    assert response.status_code == 403


async def test_a_good_token_host_and_origin_are_served(http_server: Running) -> None:
    token = http_server.tokens["viewer"]
    response = await post(
        http_server,
        {"Authorization": f"Bearer {token}", "Origin": f"http://{http_server.host_header}"},
    )
    assert response.status_code == 200


WRITE = {"command": "ds_set_state", "params": {"state": "i", "group": 1, "address": "sip:a"}}


async def test_a_viewer_token_is_denied_a_write_and_nothing_is_sent(
    http_server: Running, fake_mi: FakeMI
) -> None:
    async with asyncio.timeout(20), mcp_client(http_server.url, http_server.tokens["viewer"]) as c:
        result = await c.call_tool("mi_execute", WRITE)
    assert error_code(result) == "permission_denied"
    assert fake_mi.count("ds_set_state") == 0
    (record,) = audit_records(http_server.audit)
    assert (record["principal"], record["role"], record["outcome"]) == (
        "viewer-1",
        "viewer",
        "denied",
    )


async def test_an_operator_token_runs_a_write(http_server: Running, fake_mi: FakeMI) -> None:
    async with (
        asyncio.timeout(20),
        mcp_client(http_server.url, http_server.tokens["operator"]) as c,
    ):
        result = await c.call_tool("mi_execute", WRITE)
    assert not result.is_error
    assert fake_mi.count("ds_set_state") == 1
    (record,) = audit_records(http_server.audit)
    assert (record["principal"], record["role"], record["outcome"]) == (
        "operator-1",
        "operator",
        "ok",
    )
    token_text = http_server.audit.read_text()
    assert all(token not in token_text for token in http_server.tokens.values())


async def test_each_token_sees_tools_hinted_for_its_own_role_in_one_process(
    http_server: Running,
) -> None:
    seen: dict[str, Any] = {}
    for role in ("viewer", "admin"):
        async with asyncio.timeout(20), mcp_client(http_server.url, http_server.tokens[role]) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            seen[role] = tools["mi_execute"].annotations
    assert (seen["viewer"].read_only_hint, seen["viewer"].destructive_hint) == (True, False)
    assert (seen["admin"].read_only_hint, seen["admin"].destructive_hint) == (False, True)


async def test_a_token_s_own_rate_limit_applies_to_it_alone(
    http_server: Running, fake_mi: FakeMI
) -> None:
    uptime = {"command": "uptime"}
    async with asyncio.timeout(20), mcp_client(http_server.url, http_server.tokens["bot"]) as c:
        first = await c.call_tool("mi_execute", uptime)
        second = await c.call_tool("mi_execute", uptime)
    async with asyncio.timeout(20), mcp_client(http_server.url, http_server.tokens["viewer"]) as c:
        others = [await c.call_tool("mi_execute", uptime) for _ in range(3)]
    assert not first.is_error
    assert error_code(second) == "rate_limited"
    assert not any(r.is_error for r in others)  # the server's setting: no limit
    assert fake_mi.count("uptime") == 4  # the refused call sent nothing


def test_refuses_to_start_on_a_public_address_without_tokens(tmp_path: Path) -> None:
    settings = Settings(
        transport="http", host="0.0.0.0", allowed_hosts=("x:1",), audit_log=tmp_path / "a.jsonl"
    )
    with pytest.raises(StartupError):
        build_http_app(settings, TokenStore(()))
    with pytest.raises(StartupError):
        build_http_app(settings, None)


async def test_loopback_without_tokens_serves_every_caller_with_the_configured_role(
    fake_mi: FakeMI, tmp_path: Path
) -> None:
    sock, port = listening_socket()
    settings = Settings(
        transport="http",
        port=port,
        mi_url=fake_mi.url,
        role=Role.OPERATOR,
        principal="local",
        audit_log=tmp_path / "audit.jsonl",
        log_level="WARNING",
        tokens_file=tmp_path / "none.toml",
        **FAST_MI,  # type: ignore[arg-type]
    )
    app, _ = build_http_app(settings, None)
    server = make_uvicorn(settings, app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(20), Client(f"http://127.0.0.1:{port}/mcp") as c:
            write = await c.call_tool("mi_execute", WRITE)
            destroy = await c.call_tool(
                "mi_execute", {"command": "dlg_end_dlg", "params": {"dialog_id": "1"}}
            )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
    assert not write.is_error
    assert error_code(destroy) == "permission_denied"
    assert [r["principal"] for r in audit_records(settings.audit_log)] == ["local", "local"]


async def test_https_serves_a_token_holder_and_refuses_plain_http(
    fake_mi: FakeMI, tmp_path: Path
) -> None:
    authority = trustme.CA()
    leaf = authority.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    tokens_file = tmp_path / "tokens.toml"
    token = add_token(tokens_file, "noc", Role.VIEWER)
    sock, port = listening_socket()
    settings = Settings(
        transport="http",
        port=port,
        mi_url=fake_mi.url,
        tokens_file=tokens_file,
        tls_cert=tmp_path / "cert.pem",
        tls_key=tmp_path / "key.pem",
        audit_log=tmp_path / "audit.jsonl",
        log_level="WARNING",
        **FAST_MI,  # type: ignore[arg-type]
    )
    app, _ = build_http_app(settings, TokenStore(load_tokens(tokens_file)))
    server = make_uvicorn(settings, app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    try:
        http = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, timeout=20, verify=trusting
        )
        url = f"https://127.0.0.1:{port}/mcp"
        async with (
            asyncio.timeout(20),
            http,
            Client(streamable_http_client(url, http_client=http)) as c,
        ):
            result = await c.call_tool("mi_execute", {"command": "uptime"})
        async with httpx.AsyncClient(timeout=10) as plain:
            with pytest.raises(httpx.HTTPError):  # TLS only: plain HTTP is not answered
                await plain.post(f"http://127.0.0.1:{port}/mcp", json=INIT, headers=HEADERS)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
    assert error_code(result) is None
    assert fake_mi.count("uptime") == 1
