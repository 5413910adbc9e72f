"""``completion/complete``: argument suggestions from the catalog and the live state.

* the resource template ``opensips://command/{name}``: the catalog's command names the
  caller's role may run (at least one recipe);
* prompt arguments, by name (:data:`ARGUMENT_SOURCES`, any prompt): AORs (``aor``),
  Call-IDs (``callid``), dialog ids (``dialog_id``), drouting gateway and carrier ids
  (``gateway_id``, ``carrier_id``), dialog profile names (``profile``); the target of
  ``drain_safely`` (dispatcher addresses, load-balancer destination ids or cluster node
  ids, after its ``target`` argument); and the fixed choices of a ``Literal`` argument.

Bounded and fast: each live source costs at most one read MI command per completion
request (gated and audited like any other, under the name ``completion:<source>``), its
answer is cached for :data:`CACHE_TTL` seconds, and at most :data:`MAX_VALUES` values
are returned (the spec's limit), prefix matches first, then other matches.
A failed read completes nothing rather than failing the request.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server import MCPServer
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from opensips_mcp.errors import MCPToolError
from opensips_mcp.gate import Role
from opensips_mcp.resources import COMMAND_TEMPLATE
from opensips_mcp.runtime import Runtime, entry_levels_allowed

MAX_VALUES = 100
"""The most values one answer carries (the MCP limit)."""
CACHE_TTL = 5.0
"""Seconds a live source's answer is reused."""


@dataclass(frozen=True, slots=True)
class Source:
    """One read MI command and how to pull the suggestions out of its answer."""

    name: str
    command: str
    params: Mapping[str, Any] | None
    extract: Callable[[Any], list[str]]


def _dicts(value: Any, key: str) -> list[Mapping[str, Any]]:
    items = value.get(key) if isinstance(value, Mapping) else None
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _aors(result: Any) -> list[str]:
    return [str(a.get("AOR")) for d in _dicts(result, "Domains") for a in _dicts(d, "AORs")]


def _callids(result: Any) -> list[str]:
    return [str(d.get("callid")) for d in _dicts(result, "Dialogs") if d.get("callid")]


def _dialog_ids(result: Any) -> list[str]:
    return [str(d.get("ID")) for d in _dicts(result, "Dialogs") if d.get("ID") is not None]


def _gateways(result: Any) -> list[str]:
    return [str(g.get("ID")) for g in _dicts(result, "Gateways") if g.get("ID") is not None]


def _carriers(result: Any) -> list[str]:
    return [str(c.get("ID")) for c in _dicts(result, "Carriers") if c.get("ID") is not None]


def _ds_addresses(result: Any) -> list[str]:
    return [
        str(dest.get("URI"))
        for part in _dicts(result, "PARTITIONS")
        for s in _dicts(part, "SETS")
        for dest in _dicts(s, "Destinations")
        if dest.get("URI")
    ]


def _lb_ids(result: Any) -> list[str]:
    return [str(d.get("id")) for d in _dicts(result, "Destinations") if d.get("id") is not None]


def _node_ids(result: Any) -> list[str]:
    return [
        str(n.get("node_id"))
        for c in _dicts(result, "Clusters")
        for n in _dicts(c, "Nodes")
        if n.get("node_id") is not None
    ]


def _profiles(result: Any) -> list[str]:
    if isinstance(result, Mapping):
        return [str(p.get("name")) for p in _dicts(result, "Profiles") if p.get("name")]
    return []


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("aors", "ul_dump", {"brief": 1}, _aors),
        Source("callids", "dlg_list", {"index": 0, "counter": 1000}, _callids),
        Source("dialog_ids", "dlg_list", {"index": 0, "counter": 1000}, _dialog_ids),
        Source("gateways", "dr_gw_status", None, _gateways),
        Source("carriers", "dr_carrier_status", None, _carriers),
        Source("dispatcher_addresses", "ds_list", None, _ds_addresses),
        Source("lb_destinations", "lb_list", None, _lb_ids),
        Source("cluster_nodes", "clusterer_list", None, _node_ids),
        Source("profiles", "list_all_profiles", None, _profiles),
    )
}
"""Every live source, by name."""

ARGUMENT_SOURCES: dict[str, str] = {
    "aor": "aors",
    "callid": "callids",
    "dialog_id": "dialog_ids",
    "gateway_id": "gateways",
    "carrier_id": "carriers",
    "profile": "profiles",
}
"""A prompt argument of this name (any prompt) completes from this live source."""

DRAIN_TARGETS = {
    "dispatcher_destination": "dispatcher_addresses",
    "load_balancer_destination": "lb_destinations",
    "node": "cluster_nodes",
}
"""drain_safely's target_id completes from the source its ``target`` argument names."""


def rank(candidates: Iterable[str], typed: str) -> Completion:
    """The candidates matching ``typed``: prefix matches first (case-insensitive), then
    those containing it, each group sorted, deduplicated, at most :data:`MAX_VALUES`."""
    low = typed.casefold()
    unique = sorted(set(candidates))
    prefix = [c for c in unique if c.casefold().startswith(low)]
    inner = [c for c in unique if low and low in c.casefold() and c not in prefix]
    matches = prefix + inner
    return Completion(
        values=matches[:MAX_VALUES], total=len(matches), has_more=len(matches) > MAX_VALUES
    )


class Completer:
    """Answers ``completion/complete`` for one server (see the module docstring)."""

    def __init__(
        self, runtime: Runtime, prompt_function: Callable[[str], Callable[..., Any] | None]
    ) -> None:
        self.runtime = runtime
        self.prompt_function = prompt_function
        """The function of a registered prompt, by name (None: no such prompt)."""
        self._cache: dict[str, tuple[float, list[str]]] = {}

    async def complete(
        self,
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        """The completion of ``argument`` of ``ref`` (empty when nothing applies)."""
        typed = argument.value or ""
        if isinstance(ref, ResourceTemplateReference):
            if ref.uri == COMMAND_TEMPLATE and argument.name == "name":
                return rank(self._command_names(self.runtime.principal().role), typed)
            return rank([], typed)
        fn = self.prompt_function(ref.name)
        if fn is None:
            return rank([], typed)
        choices = literal_values(fn, argument.name)
        if choices:
            return rank(choices, typed)
        source = ARGUMENT_SOURCES.get(argument.name)
        if ref.name == "drain_safely" and argument.name == "target_id":
            given = (context.arguments or {}) if context is not None else {}
            source = DRAIN_TARGETS.get(given.get("target", "node"))
        if source is None:
            return rank([], typed)
        return rank(await self._live(SOURCES[source]), typed)

    def _command_names(self, role: Role) -> list[str]:
        return [
            entry.name
            for entry in self.runtime.catalog.entries()
            if entry_levels_allowed(entry, role)
        ]

    async def _live(self, source: Source) -> list[str]:
        now = time.monotonic()
        cached = self._cache.get(source.name)
        if cached is not None and now - cached[0] < CACHE_TTL:
            return cached[1]
        try:
            async with self.runtime.tool_call(None, f"completion:{source.name}") as call:
                answer = await call.mi(source.command, source.params)
        except MCPToolError:
            return []
        values = source.extract(answer.result)
        self._cache[source.name] = (time.monotonic(), values)
        return values


def literal_values(fn: Callable[..., Any], argument: str) -> tuple[str, ...]:
    """The choices of a ``Literal[...]`` parameter of ``fn`` (``Annotated`` unwrapped)."""
    hints = typing.get_type_hints(fn, include_extras=True)
    hint = hints.get(argument)
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) is typing.Literal:
        return tuple(str(v) for v in typing.get_args(hint))
    return ()


def register_completions(server: MCPServer[Any], runtime: Runtime) -> Completer:
    """Serve ``completion/complete`` on ``server`` (declares the completions capability)."""

    def prompt_function(name: str) -> Callable[..., Any] | None:
        prompt = server._prompt_manager.get_prompt(name)
        return prompt.fn if prompt is not None else None

    completer = Completer(runtime, prompt_function)
    server.completion()(completer.complete)  # type: ignore[no-untyped-call]
    return completer
