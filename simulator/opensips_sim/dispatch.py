"""Recipe matching and command execution, exactly as OpenSIPS's MI core does it.

OpenSIPS accepts a command's params when their names equal one of its recipes:

* named (object): no recipe with that many names -> ``Too few or too many parameters``;
  recipes with that many names but none with these names -> ``Named parameters do not match``;
* positional (array): bound to the first recipe with that many names, in order, unless the
  command is named-only (``Command only supports named parameters``);
* ``{}`` and ``[]`` are "no params".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import MIError
from .params import Params
from .registry import HANDLERS, CallContext, CommandInfo, Implementation, Level, commands
from .world import World


@dataclass(frozen=True)
class Resolved:
    """A request matched to its command and recipe, before anything runs."""

    info: CommandInfo
    impl: Implementation | None
    recipe: tuple[str, ...]
    params: Params

    @property
    def level(self) -> Level:
        """The simulator's level for this call; unimplemented commands count as ``admin``."""
        return self.impl.level_for(self.params) if self.impl else "admin"


def resolve(method: str, raw_params: Mapping[str, Any] | list[Any] | None) -> Resolved:
    """Match ``method`` and its params to a command and recipe, or raise the real MIError."""
    info = commands().get(method)
    if info is None:
        raise MIError(errors.METHOD_NOT_FOUND, "Method not found")
    impl = HANDLERS.get(method)
    if raw_params is None:
        raw_params = {}
    if isinstance(raw_params, list):
        if raw_params and impl is not None and impl.named_only:
            raise errors.invalid_params(errors.NAMED_ONLY)
        for recipe in info.recipes:
            if len(recipe) == len(raw_params):
                return Resolved(
                    info, impl, recipe, Params(dict(zip(recipe, raw_params, strict=True)))
                )
        raise errors.invalid_params(errors.TOO_FEW_OR_MANY)
    names = set(raw_params)
    same_size = [r for r in info.recipes if len(r) == len(names)]
    if not same_size:
        raise errors.invalid_params(errors.TOO_FEW_OR_MANY)
    for recipe in same_size:
        if set(recipe) == names:
            return Resolved(info, impl, recipe, Params(raw_params))
    raise errors.invalid_params(errors.NAMES_DO_NOT_MATCH)


NOT_IMPLEMENTED_CODE = 501
NOT_IMPLEMENTED_MESSAGE = "Not implemented by opensips-sim"


def execute(resolved: Resolved, world: World, *, partial: int | None = None) -> Any:
    """Run a resolved call against ``world``; raises MIError as OpenSIPS would answer."""
    if resolved.impl is None:
        raise MIError(NOT_IMPLEMENTED_CODE, NOT_IMPLEMENTED_MESSAGE)
    world.tick()
    ctx = CallContext(world=world, method=resolved.info.name, partial=partial)
    return resolved.impl.handler(ctx, resolved.params)


def run(world: World, method: str, raw_params: Mapping[str, Any] | list[Any] | None) -> Any:
    """Resolve and execute in one step (used for commands carried by ``cluster_send_mi``)."""
    return execute(resolve(method, raw_params), world)
