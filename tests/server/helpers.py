"""Helpers for the MCP server tests: a small recording MI endpoint and result readers.

``FakeMI`` is an aiohttp JSON-RPC endpoint on 127.0.0.1 (port 0) that records every
request it receives (the evidence for "a denied call sends nothing": count at the
server) and answers ``uptime``, ``which``, ``version``, ``ps`` like OpenSIPS 3.6, and
any other offered command with ``"OK"`` unless a test sets an answer.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from mcp import Client
from mcp.types import CallToolResult

from opensips_mcp.catalog import load_catalog
from opensips_mcp.server import OpenSIPSMCP

PS_RESULT = {
    "Processes": [
        {"ID": 0, "PID": 1938, "Type": "attendant"},
        {"ID": 1, "PID": 1941, "Type": "HTTPD 127.0.0.1:8888"},
        {"ID": 2, "PID": 1942, "Type": "time_keeper"},
        {"ID": 3, "PID": 1943, "Type": "timer"},
    ]
}
UPTIME_RESULT = {
    "Now": "Thu Nov 26 10:42:44 2026",
    "Up since": "Thu Nov 26 10:38:57 2026",
    "Up time": "227 [sec]",
}
VERSION_RESULT = {"Server": "OpenSIPS (3.6.8 (x86_64/linux))"}


@dataclass
class Answer:
    """A canned answer: a JSON-RPC result, a JSON-RPC error, or a bare HTTP status."""

    result: Any = "OK"
    error: tuple[int, str] | None = None
    http_status: int | None = None


@dataclass
class FakeMI:
    """A recording MI endpoint (see the module docstring)."""

    offered: set[str] = field(default_factory=lambda: set(load_catalog().names()))
    answers: dict[str, Answer | Callable[[Any], Answer]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    hold: dict[str, asyncio.Event] = field(default_factory=dict)
    received: dict[str, asyncio.Event] = field(default_factory=dict)
    url: str = ""

    def methods(self) -> list[str]:
        """The ``method`` of every request received, in order."""
        return [r.get("method", "") for r in self.requests]

    def count(self, method: str | None = None) -> int:
        """How many requests arrived (for ``method`` only, when given)."""
        return len(self.requests) if method is None else self.methods().count(method)

    def without_module(self, module: str) -> None:
        """Stop offering the commands of ``module`` (as if it were not loaded)."""
        for entry in load_catalog().entries():
            if entry.module == module:
                self.offered.discard(entry.name)

    def _default(self, method: str) -> Answer:
        if method == "uptime":
            return Answer(UPTIME_RESULT)
        if method == "version":
            return Answer(VERSION_RESULT)
        if method == "ps":
            return Answer(PS_RESULT)
        if method == "which":
            return Answer(sorted(self.offered))
        return Answer("OK")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        method = body.get("method", "")
        if method in self.received:
            self.received[method].set()
        if method in self.hold:
            await asyncio.wait_for(self.hold[method].wait(), timeout=10)
        if method not in self.offered:
            answer = Answer(error=(-32601, "Method not found"))
        else:
            configured = self.answers.get(method)
            if configured is None:
                answer = self._default(method)
            elif callable(configured):
                answer = configured(body.get("params"))
            else:
                answer = configured
        if answer.http_status is not None:
            return web.Response(status=answer.http_status)
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": body.get("id")}
        if answer.error is not None:
            payload["error"] = {"code": answer.error[0], "message": answer.error[1]}
        else:
            payload["result"] = answer.result
        return web.Response(text=json.dumps(payload), content_type="application/json")


_CODE = re.compile(r"^(?:Error executing tool \S+: )?([a-z_]+):")


def error_code(result: CallToolResult) -> str | None:
    """The stable error code of a failed tool call (``None`` if it did not fail)."""
    if not result.is_error:
        return None
    text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
    match = _CODE.match(text)
    return match.group(1) if match else f"<no code: {text[:80]}>"


def error_text(result: CallToolResult) -> str:
    """The whole text of a failed tool call."""
    return result.content[0].text if result.content else ""  # type: ignore[union-attr]


def audit_records(path: Path) -> list[dict[str, Any]]:
    """Every call record stored so far (``pending`` and file records left out)."""
    return [r for r in trail_lines(path) if r.get("kind") == "call"]


def trail_lines(path: Path) -> list[dict[str, Any]]:
    """Every line stored so far in the live file, parsed (file headers included)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


async def call(
    server: OpenSIPSMCP, tool: str, args: dict[str, Any] | None = None
) -> CallToolResult:
    """One tool call over a fresh in-memory client."""
    async with Client(server) as client:
        return await client.call_tool(tool, args or {})
