"""The catalog: every OpenSIPS 3.6 MI command with an access level per recipe, and resolution
of a call ``(command, params)`` to the recipe OpenSIPS would pick and the level it needs."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from .errors import (
    CarriedCommandError,
    InvalidParamsShape,
    NoMatchingRecipe,
    UnknownCommand,
)
from .levels import AccessLevel, highest
from .model import CatalogEntry, Recipe, Resolution

Params = Mapping[str, Any] | Sequence[Any] | None


class Catalog:
    """All known MI commands, by name (3.6 names; 4.x aliases are accepted as input)."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        self._entries = {e.name: e for e in sorted(entries, key=lambda e: e.name)}
        self._aliases = {alias: e for e in self._entries.values() for alias in e.aliases}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def get(self, name: str) -> CatalogEntry | None:
        """The entry for a 3.6 name or a 4.x alias, else None."""
        return self._entries.get(name) or self._aliases.get(name)

    def entries(self) -> list[CatalogEntry]:
        """Every entry, sorted by name."""
        return list(self._entries.values())

    def names(self) -> list[str]:
        """Every 3.6 command name, sorted."""
        return list(self._entries)

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        """Real command names close to ``name`` (spelling and substring)."""
        names = list(self._entries)
        close = difflib.get_close_matches(name, names, n=limit, cutoff=0.6)
        needle = name.lower().strip()
        if len(needle) >= 3:
            close += [n for n in names if needle in n.lower() and n not in close]
        return close[:limit]

    def live_only_entry(self, name: str) -> CatalogEntry:
        """An entry for a command the live server offers but the catalog does not know: admin."""
        return CatalogEntry(
            name=name,
            module="unknown",
            summary="offered by the live OpenSIPS but not in the catalog; treated as admin",
            recipes=(),
            live_only=True,
        )

    def wire_name(self, name: str, live_names: frozenset[str]) -> str:
        """The name to send: the one the live ``which`` reports (3.6 name or its 4.x alias)."""
        entry = self.get(name)
        if entry is None or not live_names:
            return name
        for candidate in (entry.name, *entry.aliases):
            if candidate in live_names:
                return candidate
        return name

    def resolve(
        self, command: str, params: Params = None, *, live_names: frozenset[str] | None = None
    ) -> Resolution:
        """Resolve a call to ``(entry, recipe, level)`` as OpenSIPS would match it.

        Named params pick the recipe with exactly those names. Positional params bind to the
        first recipe of that length (as OpenSIPS does); since that is ambiguous for the caller,
        the level is the highest of all recipes of that length. A command the catalog does not
        know but ``live_names`` lists resolves as admin.
        """
        entry = self.get(command)
        if entry is None:
            if live_names is not None and command in live_names:
                live = self.live_only_entry(command)
                names = tuple(params) if isinstance(params, Mapping) else ()
                return Resolution(live, Recipe(names, AccessLevel.ADMIN), AccessLevel.ADMIN)
            raise UnknownCommand(command, self.suggest(command))
        recipe, level = _match(entry, params)
        if not entry.carries_command:
            return Resolution(entry, recipe, level)
        assert isinstance(params, Mapping | Sequence)
        carried = self._resolve_carried(entry, recipe, params, live_names)
        return Resolution(entry, recipe, highest(level, carried.level), carried)

    def _resolve_carried(
        self,
        entry: CatalogEntry,
        recipe: Recipe,
        params: Mapping[str, Any] | Sequence[Any],
        live_names: frozenset[str] | None,
    ) -> Resolution:
        if isinstance(params, Mapping):
            values = dict(params)
        else:
            values = dict(zip(recipe.params, params, strict=True))
        cmd_name = values.get("cmd_name")
        if not isinstance(cmd_name, str) or not cmd_name:
            raise CarriedCommandError(
                f"{entry.name} needs cmd_name: the name of the MI command to run on the nodes."
            )
        cmd_params = values.get("cmd_params")
        if cmd_params is not None and not isinstance(cmd_params, list):
            raise CarriedCommandError(
                f"{entry.name}: cmd_params must be an array of the carried command's parameter "
                "values, in the order of one of its recipes (see mi_describe_command)."
            )
        try:
            return self.resolve(cmd_name, cmd_params, live_names=live_names)
        except UnknownCommand as exc:
            hint = f" Did you mean: {', '.join(exc.suggestions)}?" if exc.suggestions else ""
            raise CarriedCommandError(
                f"{entry.name} carries {cmd_name!r}, which is not a known MI command; "
                f"it is refused.{hint}"
            ) from None
        except NoMatchingRecipe as exc:
            raise CarriedCommandError(f"{entry.name} carries {cmd_name!r}: {exc.message}") from None


def _match(entry: CatalogEntry, params: Params) -> tuple[Recipe, AccessLevel]:
    if params is None:
        params = {}
    if isinstance(params, str | bytes) or not isinstance(params, Mapping | Sequence):
        raise InvalidParamsShape(type(params).__name__)
    if isinstance(params, Mapping):
        given = frozenset(params)
        for recipe in entry.recipes:
            if recipe.key == given:
                return recipe, recipe.level
        raise NoMatchingRecipe(entry, sorted(given), positional=False)
    same_size = [r for r in entry.recipes if len(r.params) == len(params)]
    if not same_size:
        raise NoMatchingRecipe(entry, [str(i) for i in range(len(params))], positional=True)
    return same_size[0], highest(*(r.level for r in same_size))


def _entry_from_json(name: str, raw: Mapping[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        name=name,
        module=raw["module"],
        summary=raw.get("summary", ""),
        recipes=tuple(Recipe(tuple(r["params"]), AccessLevel(r["level"])) for r in raw["recipes"]),
        check_after=raw.get("check_after"),
        aliases=tuple(raw.get("aliases", ())),
        seen_live=bool(raw.get("seen_live", False)),
    )


@cache
def load_catalog() -> Catalog:
    """The packaged catalog (``commands.json``), loaded once."""
    raw = json.loads(
        resources.files("opensips_mcp.catalog").joinpath("commands.json").read_text("utf-8")
    )
    return Catalog(_entry_from_json(name, entry) for name, entry in raw["commands"].items())
