"""Tool registration: toolsets, their tools, and how each tool's levels become annotations.

A toolset is a module in this package that defines ``TOOLSET = Toolset(...)``; it is
found automatically (:func:`discover_toolsets`), so adding ``tools/dialog.py`` is all it
takes. Tools are plain async functions registered with :meth:`Toolset.tool`; they run
MI commands only through :mod:`opensips_mcp.runtime` (gate + audit + error mapping)::

    # opensips_mcp/tools/dialog.py
    from mcp.server.mcpserver import Context
    from pydantic import BaseModel

    from opensips_mcp.runtime import runtime_of
    from opensips_mcp.tools import Toolset

    TOOLSET = Toolset("dialog", "Calls in progress: list, inspect, end.")

    class EndCallResult(BaseModel):
        dialog_id: str
        ended: bool

    @TOOLSET.tool(uses=[("dlg_end_dlg", ("dialog_id",))], idempotent=False)
    async def dlg_end_call(ctx: Context, dialog_id: str) -> EndCallResult:
        '''End one call (both legs get a BYE). The call is dropped: destructive.'''
        result = await runtime_of(ctx).run_mi(
            ctx, tool="dlg_end_call", command="dlg_end_dlg", params={"dialog_id": dialog_id}
        )
        return EndCallResult(dialog_id=dialog_id, ended=result.result == "OK")

Levels and annotations are derived from the catalog, never written twice: ``uses``
lists the (command, recipe) pairs the tool may send (a bare command name means all its
recipes). The tool's ``min_level`` (the least it needs to do anything) decides which
roles see it; its ``max_level`` gives the annotations: ``readOnlyHint`` when it is
``read``, ``destructiveHint`` when it is ``destructive`` or ``admin``. A tool that uses no
catalogued command (or wraps any command, as ``mi_execute`` does) passes
``min_level``/``max_level`` explicitly. The server lowers ``max_level`` to what the
caller's role allows when listing, so a viewer sees ``mi_execute`` as read-only.
``openWorldHint`` is false unless ``open_world=True``: a tool talks to one known
OpenSIPS, not the open internet (``mi_execute`` can send SIP anywhere: true).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mcp.types import ToolAnnotations

from opensips_mcp.catalog import AccessLevel, highest, load_catalog
from opensips_mcp.gate import Role

ToolFn = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=ToolFn)
Use = str | tuple[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A registered tool: its function and what its levels mean for roles and hints."""

    name: str
    fn: ToolFn
    toolset: str
    min_level: AccessLevel
    max_level: AccessLevel
    idempotent: bool
    open_world: bool = False
    title: str | None = None
    description: str | None = None

    def visible_to(self, role: Role) -> bool:
        """True when ``role`` can use the tool for something (else it is not listed)."""
        return role.allows(self.min_level)

    def level_for(self, role: Role) -> AccessLevel:
        """The highest level this tool may reach when called by ``role``."""
        return self.max_level if role.allows(self.max_level) else role.max_level

    def annotations(self, role: Role | None = None) -> ToolAnnotations:
        """All four hints, for the tool as a whole or as ``role`` can use it."""
        level = self.max_level if role is None else self.level_for(role)
        read_only = level is AccessLevel.READ
        return ToolAnnotations(
            title=self.title,
            read_only_hint=read_only,
            destructive_hint=not read_only and level >= AccessLevel.DESTRUCTIVE,
            idempotent_hint=True if read_only else self.idempotent,
            open_world_hint=self.open_world,
        )


def levels_of(uses: Iterable[Use]) -> tuple[AccessLevel, AccessLevel]:
    """(min, max) level over the (command, recipe) pairs a tool may send.

    Raises ``ValueError`` naming an unknown command or recipe.
    """
    catalog = load_catalog()
    levels: list[AccessLevel] = []
    for use in uses:
        name, recipe = (use, None) if isinstance(use, str) else (use[0], tuple(use[1]))
        entry = catalog.get(name)
        if entry is None:
            raise ValueError(f"unknown MI command {name!r}")
        if recipe is None:
            levels += [r.level for r in entry.recipes]
            continue
        match = [r for r in entry.recipes if r.key == frozenset(recipe)]
        if not match:
            raise ValueError(f"{name} has no recipe {recipe}; valid: {entry.recipes_text()}")
        levels.append(match[0].level)
    if not levels:
        raise ValueError("a tool must use at least one command, or give min_level/max_level")
    return min(levels, key=lambda lv: lv.rank), highest(*levels)


@dataclass
class Toolset:
    """A named group of tools, selectable with ``--toolsets``."""

    name: str
    description: str
    specs: list[ToolSpec] = field(default_factory=list)

    def tool(
        self,
        *,
        uses: Sequence[Use] = (),
        min_level: AccessLevel | None = None,
        max_level: AccessLevel | None = None,
        idempotent: bool = False,
        open_world: bool = False,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
    ) -> Callable[[F], F]:
        """Register an async tool function (its docstring is the description by default)."""

        def decorator(fn: F) -> F:
            lo, hi = levels_of(uses) if uses else (AccessLevel.READ, AccessLevel.READ)
            spec = ToolSpec(
                name=name or fn.__name__,
                fn=fn,
                toolset=self.name,
                min_level=min_level or lo,
                max_level=max_level or hi,
                idempotent=idempotent,
                open_world=open_world,
                title=title,
                description=description,
            )
            if spec.min_level > spec.max_level:
                raise ValueError(f"tool {spec.name}: min_level above max_level")
            if any(s.name == spec.name for s in self.specs):
                raise ValueError(f"tool {spec.name} registered twice in toolset {self.name}")
            self.specs.append(spec)
            return fn

        return decorator


def discover_toolsets() -> dict[str, Toolset]:
    """Every toolset of this package: modules defining ``TOOLSET``, by toolset name."""
    found: dict[str, Toolset] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        toolset = getattr(module, "TOOLSET", None)
        if isinstance(toolset, Toolset):
            if toolset.name in found:
                raise ValueError(f"two toolsets are named {toolset.name!r}")
            found[toolset.name] = toolset
    return found


class ToolSelectionError(ValueError):
    """``--toolsets`` or ``--tools`` names something that does not exist."""


def select_tools(
    toolsets: dict[str, Toolset],
    toolset_names: Sequence[str] = (),
    tool_names: Sequence[str] = (),
) -> list[ToolSpec]:
    """The tools to register.

    Neither list given: every tool of every toolset. Otherwise the tools of the named
    toolsets plus the individually named tools; when toolsets are named, the generic
    ``mi_*`` tools are registered too, for admins (see :func:`listed_to`). Unknown names
    raise :class:`ToolSelectionError` listing the valid ones.
    """
    every = {spec.name: spec for ts in toolsets.values() for spec in ts.specs}
    unknown_sets = [n for n in toolset_names if n not in toolsets and n != "all"]
    if unknown_sets:
        raise ToolSelectionError(
            f"unknown toolset(s) {', '.join(unknown_sets)}; known: "
            f"{', '.join(sorted(toolsets))}, all"
        )
    unknown_tools = [n for n in tool_names if n not in every]
    if unknown_tools:
        raise ToolSelectionError(
            f"unknown tool(s) {', '.join(unknown_tools)}; known: {', '.join(sorted(every))}"
        )
    if (not toolset_names and not tool_names) or "all" in toolset_names:
        return list(every.values())
    chosen = {spec.name: spec for name in toolset_names for spec in toolsets[name].specs}
    for name in tool_names:
        chosen.setdefault(name, every[name])
    if toolset_names and GENERIC in toolsets:
        for spec in toolsets[GENERIC].specs:
            if _is_mi_tool(spec):
                chosen.setdefault(spec.name, spec)
    return list(chosen.values())


GENERIC = "generic"
"""The toolset of the generic tools (``mi_execute``, ``mi_list_commands``, ...)."""


def _is_mi_tool(spec: ToolSpec) -> bool:
    return spec.toolset == GENERIC and spec.name.startswith("mi_")


def listed_to(
    spec: ToolSpec,
    role: Role,
    toolset_names: Sequence[str] = (),
    tool_names: Sequence[str] = (),
) -> bool:
    """Whether the tool listing shows ``spec`` to ``role``.

    A role sees the tools it can use (:meth:`ToolSpec.visible_to`). The generic ``mi_*``
    tools are always listed to admins; to viewers and operators only when selected: by
    default (no ``--toolsets``/``--tools``: every toolset, and the lists stay within
    budget), with ``--toolsets generic`` or ``all``, or by name with ``--tools``.
    """
    if not spec.visible_to(role):
        return False
    if not _is_mi_tool(spec) or role is Role.ADMIN:
        return True
    if not toolset_names and not tool_names:
        return True
    return GENERIC in toolset_names or "all" in toolset_names or spec.name in tool_names
