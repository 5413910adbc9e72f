"""Recipe matching and command execution, exactly as OpenSIPS's MI core does it.

OpenSIPS accepts a command's params when their names equal one of its recipes:

* ``{}``, ``[]`` and no ``params`` are "no params": the recipe without names, if any;
* named (object): no recipe with that many names (duplicates count) -> ``Too few or too
  many parameters``;
  recipes with that many names but none with these names -> ``Named parameters do not match``;
* positional (array): refused for named-only commands (``Command only supports named
  parameters``); bound by position to the one recipe with that many names; two such
  recipes -> ``Ambiguous call, use named parameters instead``.

Commands the simulator does not implement (but the captured server offered) pass the same
checks and then answer ``{"code": 501, "message": "Not implemented by opensips-sim"}``: an
error object, so a client treats it as an answer (never retried, nothing applied).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from . import errors
from .errors import MIError
from .jsonrpc import member_count
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


def available(method: str) -> CommandInfo | None:
    """The command if this simulated server offers it, else ``None``.

    The simulated server is the captured one: it offers every command that answered live
    (its module was loaded) plus any command the simulator implements. A command of a
    module that was not loaded answers ``-32601`` exactly as on the real server.
    """
    info = commands().get(method)
    if info is None or not (info.seen_live or method in HANDLERS):
        return None
    return info


def resolve(
    method: str,
    raw_params: Mapping[str, Any] | list[Any] | None,
    *,
    recipes: tuple[tuple[str, ...], ...] | None = None,
    info: CommandInfo | None = None,
) -> Resolved:
    """Match ``method`` and its params to a command and recipe, or raise the real MIError.

    ``recipes``: the impersonated version's own recipes of ``method``, where they differ
    from 3.6's (:attr:`opensips_sim.persona.Persona.recipes`); ``info``: a command the
    impersonated version has and 3.6 has not (:attr:`~opensips_sim.persona.Persona.
    new_commands`)."""
    info = info or available(method)
    if info is None:
        raise MIError(errors.METHOD_NOT_FOUND, "Method not found")
    if recipes is not None:
        info = replace(info, recipes=recipes)
    impl = HANDLERS.get(method)
    if not raw_params:
        for recipe in info.recipes:
            if not recipe:
                return Resolved(info, impl, recipe, Params({}))
        raise errors.invalid_params(errors.TOO_FEW_OR_MANY)
    if isinstance(raw_params, list):
        if info.named_only or (impl is not None and impl.named_only):
            raise errors.invalid_params(errors.NAMED_ONLY)
        same_size = [r for r in info.recipes if r and len(r) == len(raw_params)]
        if len(same_size) > 1:
            raise errors.invalid_params(errors.AMBIGUOUS_CALL)
        if not same_size:
            raise errors.invalid_params(errors.TOO_FEW_OR_MANY)
        recipe = same_size[0]
        return Resolved(info, impl, recipe, Params(dict(zip(recipe, raw_params, strict=True))))
    names = set(raw_params)
    count = member_count(raw_params)
    same_size = [r for r in info.recipes if r and len(r) == count]
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
