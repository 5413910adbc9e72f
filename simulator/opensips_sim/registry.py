"""The simulator's command table: every real 3.6 command (from ``data/commands-3.6.json``)
and the handlers that implement some of them.

A handler is registered with :func:`command`::

    @command("ds_set_state", level="write")
    def ds_set_state(ctx: CallContext, params: Params) -> object:
        ...

``level`` is the simulator's own classification (used by fault rules and the journal),
either a fixed string or a function of the params (get-or-set commands).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from .params import Params

if TYPE_CHECKING:
    from .world import World

Level = Literal["read", "write", "destructive", "admin"]
LEVELS: tuple[Level, ...] = ("read", "write", "destructive", "admin")


@dataclass
class CallContext:
    """What a handler gets besides its params.

    ``partial``: set by a ``partial`` fault on bulk commands: apply to at most this many
    targets, then raise :class:`PartialFailure`.
    """

    world: World
    method: str
    partial: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class PartialFailure(Exception):
    """Raised by a bulk handler after applying to ``ctx.partial`` targets only."""

    def __init__(self, applied: int) -> None:
        super().__init__(f"partial: applied to {applied} targets")
        self.applied = applied


Handler = Callable[[CallContext, Params], Any]
LevelRule = Level | Callable[[Params], Level]


@dataclass(frozen=True)
class CommandInfo:
    """One real MI command: its module, recipes and help, as OpenSIPS 3.6.8 reports them."""

    name: str
    module: str
    recipes: tuple[tuple[str, ...], ...]
    help: str
    seen_live: bool
    flags: tuple[str, ...] = ()

    @property
    def named_only(self) -> bool:
        """True when OpenSIPS flags the command ``MI_NAMED_PARAMS_ONLY``."""
        return "MI_NAMED_PARAMS_ONLY" in self.flags


@dataclass(frozen=True)
class Implementation:
    """A handler and its level rule."""

    handler: Handler
    level: LevelRule
    named_only: bool = False

    def level_for(self, params: Params) -> Level:
        """The level of this call (get-or-set commands depend on the params)."""
        return self.level(params) if callable(self.level) else self.level


HANDLERS: dict[str, Implementation] = {}


def command(
    name: str, *, level: LevelRule, named_only: bool = False, since: str | None = None
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the implementation of the real MI command ``name``.

    ``since``: a version whose captured commands have ``name`` and 3.6 has not (4.0.1's
    ``tcp:close``): 3.6 never offers it; that version's persona runs it."""
    known = commands() if since is None else _version_commands(since)
    if name not in known:
        raise ValueError(f"{name!r} is not a real OpenSIPS {since or '3.6'} MI command")

    def register(handler: Handler) -> Handler:
        if name in HANDLERS:
            raise ValueError(f"{name!r} registered twice")
        HANDLERS[name] = Implementation(handler, level, named_only)
        return handler

    return register


@cache
def commands() -> dict[str, CommandInfo]:
    """Every real MI command of OpenSIPS 3.6.8, by name."""
    raw = json.loads(
        resources.files("opensips_sim").joinpath("data/commands-3.6.json").read_text("utf-8")
    )
    return {
        name: CommandInfo(
            name=name,
            module=entry["module"],
            recipes=tuple(tuple(r) for r in entry["recipes"]),
            help=entry.get("help", ""),
            seen_live=bool(entry.get("seen_live", False)),
            flags=tuple(entry["flags"].split("|")) if entry.get("flags") else (),
        )
        for name, entry in raw["commands"].items()
    }


@cache
def _version_commands(version: str) -> frozenset[str]:
    raw = json.loads(
        resources.files("opensips_sim").joinpath(f"data/commands-{version}.json").read_text("utf-8")
    )
    return frozenset(raw["commands"])


def load_all_handlers() -> dict[str, Implementation]:
    """Import every module of ``commands/`` so that their handlers register."""
    import importlib
    import pkgutil

    from . import commands as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return HANDLERS
