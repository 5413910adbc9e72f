"""Catalog records: one per MI command, an access level per parameter recipe."""

from __future__ import annotations

from dataclasses import dataclass

from .levels import AccessLevel, highest


@dataclass(frozen=True)
class Recipe:
    """One exact set of parameter names a command accepts, and what calling it that way may do."""

    params: tuple[str, ...]
    level: AccessLevel

    @property
    def key(self) -> frozenset[str]:
        """The names as a set: OpenSIPS matches named params by set equality."""
        return frozenset(self.params)


@dataclass(frozen=True)
class VersionForm:
    """How one OpenSIPS version knows a command: its name there, aliases and recipes.

    ``name`` is what that version's ``which`` reports (4.x: ``module:name``); ``aliases`` and
    ``local_name`` (4.x) are the other names a request may use (the local name only while no
    other loaded module exports the same one).
    """

    version: str
    name: str
    module: str
    recipes: tuple[tuple[str, ...], ...]
    aliases: tuple[str, ...] = ()
    local_name: str | None = None
    seen_live: bool = False
    named_only: bool = False

    @property
    def accepted_names(self) -> tuple[str, ...]:
        """The names this version answers to for sure (full name, then aliases)."""
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class CatalogEntry:
    """A real OpenSIPS MI command."""

    name: str
    module: str
    summary: str
    recipes: tuple[Recipe, ...]
    check_after: str | None = None
    aliases: tuple[str, ...] = ()
    seen_live: bool = False
    live_only: bool = False
    versions: tuple[VersionForm, ...] = ()
    """The command in each catalogued OpenSIPS version that has it (empty: unversioned)."""
    level_reason: str | None = None
    """Why a command new in 4.x has the level it has (the level policy's note)."""

    def form(self, version: str) -> VersionForm | None:
        """This command as OpenSIPS ``version`` knows it, or None when it lacks it."""
        return next((f for f in self.versions if f.version == version), None)

    def exists_in(self, version: str) -> bool:
        """Whether OpenSIPS ``version`` has this command (unversioned entries: always)."""
        return not self.versions or self.form(version) is not None

    @property
    def max_level(self) -> AccessLevel:
        """The highest level any recipe needs (admin for a command we know nothing about)."""
        if not self.recipes:
            return AccessLevel.ADMIN
        return highest(*(r.level for r in self.recipes))

    @property
    def min_level(self) -> AccessLevel:
        """The lowest level some recipe needs: a role below it can never use the command."""
        if not self.recipes:
            return AccessLevel.ADMIN
        return min((r.level for r in self.recipes), key=lambda lv: lv.rank)

    @property
    def carries_command(self) -> bool:
        """True for commands that run another MI command (on cluster peers)."""
        return self.name in CARRIERS

    def recipes_text(self) -> str:
        """The valid recipes, human-readable: ``{} | {gw_id} | {gw_id, status}``."""
        return " | ".join("{" + ", ".join(r.params) + "}" for r in self.recipes) or "{}"


@dataclass(frozen=True)
class Resolution:
    """A call resolved to its command, recipe and the level the gate must allow.

    ``level`` already includes the level of a carried command (``cluster_send_mi``,
    ``cluster_broadcast_mi``), resolved with its own params into ``carried``.
    """

    entry: CatalogEntry
    recipe: Recipe
    level: AccessLevel
    carried: Resolution | None = None


# Commands whose ``cmd_name``/``cmd_params`` run another command on cluster nodes.
CARRIERS = frozenset({"cluster_send_mi", "cluster_broadcast_mi"})
