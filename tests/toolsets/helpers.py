"""Helpers for the toolset tests: servers per role against a simulator, calls, journal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.types import CallToolResult

from opensips_mcp.catalog import AccessLevel, load_catalog
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from opensips_sim.runner import RunningSimulator

FAST_MI = {
    "opensips_version": "3.6.8",  # the simulator impersonates 3.6.8 unless told otherwise
    "mi_connect_timeout": 0.5,
    "mi_read_timeout": 20.0,
    "mi_total_timeout": 30.0,
}
RESULT_LIMIT = 64 * 1024

_CODE = re.compile(r"^Error executing tool \w+: (\w+):")


def server_for(sim: RunningSimulator, role: Role, audit_dir: Path, **changes: Any) -> OpenSIPSMCP:
    """A server for ``role`` pointed at ``sim``, auditing into ``audit_dir``."""
    values: dict[str, Any] = {
        "mi_url": sim.url,
        "role": role,
        "audit_log": audit_dir / f"audit-{role.value}.jsonl",
        "confirm": ConfirmPolicy.NONE,  # confirmation is tested in tests/server/test_confirm.py
        **FAST_MI,
        **changes,
    }
    return build_server(Settings(**values))


async def call(
    server: OpenSIPSMCP, tool: str, args: dict[str, Any] | None = None
) -> CallToolResult:
    """One tool call over a fresh in-memory client."""
    async with Client(server) as client:
        return await client.call_tool(tool, args or {})


def content(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful call (fails the test otherwise)."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


def text_of(result: CallToolResult) -> str:
    """The text block of a result."""
    block = result.content[0] if result.content else None
    return getattr(block, "text", "")


def error_code(result: CallToolResult) -> str | None:
    """The stable error code of a failed call, ``None`` when it did not fail."""
    if not result.is_error:
        return None
    match = _CODE.match(text_of(result))
    return match.group(1) if match else f"<no code: {text_of(result)[:80]}>"


def result_size(result: CallToolResult) -> int:
    """Bytes of the whole tool result as sent (structured content and text)."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


def methods(sim: RunningSimulator, since: int = 0) -> list[str]:
    """The MI methods the simulator received after journal entry ``since``."""
    return [e["method"] for e in sim.journal(since)]


def last_seq(sim: RunningSimulator) -> int:
    """The journal position now (pass to :func:`methods` as ``since``)."""
    entries = sim.journal()
    return entries[-1]["seq"] if entries else 0


def catalog_level(method: str, params: Any) -> AccessLevel:
    """The catalog level of one journaled request."""
    return load_catalog().resolve(method, params).level


def walk(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, leaf) of a JSON value; list indexes appear as ``int``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, (*path, index))
    else:
        yield path, value


def schema_at(schema: dict[str, Any], path: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The schema nodes that may describe the value at ``path`` ($ref and anyOf resolved)."""
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in node:
            return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
        if "anyOf" in node:
            return [n for branch in node["anyOf"] for n in resolve(branch)]
        return [node]

    nodes = resolve(schema)
    for step in path:
        following: list[dict[str, Any]] = []
        for node in nodes:
            if isinstance(step, int) and "items" in node:
                following += resolve(node["items"])
            elif isinstance(step, str) and step in node.get("properties", {}):
                following += resolve(node["properties"][step])
            elif isinstance(step, str) and isinstance(node.get("additionalProperties"), dict):
                following += resolve(node["additionalProperties"])
        nodes = following
    return nodes


def compact(data: Any) -> str:
    """JSON as the tools write their text block."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
