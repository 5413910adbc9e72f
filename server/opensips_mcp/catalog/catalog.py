"""The catalog: every OpenSIPS MI command (3.4.18, 3.6.8, 4.0.1) with an access level per
recipe, and resolution of a call ``(command, params)`` to the recipe OpenSIPS would pick and
the level it needs.

:func:`load_catalog` is every command of every catalogued version (the union; recipes of all
versions). :meth:`Catalog.for_version` is what one OpenSIPS version offers: its commands and
recipes, every name it accepts, and the name to send. Any name of a command (3.x name, 4.x
``module:name``, alias, a local name that is unique in that version) reaches the same entry
and level in every view; a command the version lacks is refused (:class:`NotInVersion`)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

from .errors import (
    AmbiguousCommand,
    CarriedCommandError,
    InvalidParamsShape,
    NoMatchingRecipe,
    NotInVersion,
    UnknownCommand,
)
from .levels import AccessLevel, highest
from .model import CatalogEntry, Recipe, Resolution, VersionForm

Params = Mapping[str, Any] | Sequence[Any] | None


class Catalog:
    """Known MI commands by name: every version's (the union), or one version's (``version``).

    Entries are keyed by their 3.x name (a command new in 4.x: its 4.x name); any other name
    of a command (4.x name, alias, unique local name) is accepted as input.
    """

    def __init__(
        self,
        entries: Iterable[CatalogEntry],
        *,
        version: str | None = None,
        versions: Sequence[str] = (),
        default_version: str | None = None,
    ) -> None:
        self._all = {e.name: e for e in sorted(entries, key=lambda e: e.name)}
        self.version = version
        """The OpenSIPS version this view is for (``None``: every version, the union)."""
        self.versions = tuple(versions)
        """Every catalogued version, oldest first."""
        self.default_version = default_version or (versions[-1] if versions else None)
        """The version assumed when a server's own cannot be learnt."""
        if version is None:
            self._entries = dict(self._all)
        else:
            self._entries = {
                n: _project(e, version) for n, e in self._all.items() if e.exists_in(version)
            }
        self._names, self._ambiguous, self._local = _index(self._all, version)
        self._views: dict[str, Catalog] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._names

    def get(self, name: str) -> CatalogEntry | None:
        """The entry for any name of a command this view offers, else None."""
        key = self._names.get(name)
        return self._entries.get(key) if key is not None else None

    def lookup(self, name: str) -> CatalogEntry | None:
        """The entry for any name of a command of any catalogued version, else None."""
        key = self._names.get(name)
        return self._all.get(key) if key is not None else None

    def entries(self) -> list[CatalogEntry]:
        """Every entry this view offers, sorted by name."""
        return list(self._entries.values())

    def names(self) -> list[str]:
        """Every command's catalog name (3.x name; new 4.x commands: 4.x name), sorted."""
        return list(self._entries)

    def for_version(self, version: str) -> Catalog:
        """The catalog of OpenSIPS ``version``: the catalogued version with the same
        major.minor (else the closest older one, else the oldest)."""
        chosen = pick_version(version, self.versions) if self.versions else version
        view = self._views.get(chosen)
        if view is None:
            view = Catalog(
                self._all.values(),
                version=chosen,
                versions=self.versions,
                default_version=self.default_version,
            )
            view._views = self._views
            self._views[chosen] = view
        return view

    def send_name(self, entry: CatalogEntry) -> str:
        """The name to send for ``entry``: this version's own (4.x: ``module:name``, never
        an ambiguous bare name); the catalog name in the union view."""
        if self.version is None:
            return entry.name
        form = entry.form(self.version)
        return form.name if form is not None else entry.name

    def accepted_names(self, entry: CatalogEntry) -> list[str]:
        """Every name this view's OpenSIPS version answers to for ``entry``: its own name,
        its aliases, and (4.x) its local name when no other command has it."""
        if self.version is None:
            return [entry.name, *entry.aliases]
        form = entry.form(self.version)
        if form is None:
            return [entry.name]
        names = list(form.accepted_names)
        if form.local_name and self._local.get(form.local_name) == entry.name:
            names.append(form.local_name)
        return list(dict.fromkeys(names))

    def suggest(self, name: str, limit: int = 5) -> list[str]:
        """Real command names close to ``name`` (spelling and substring)."""
        names = [n for n, key in self._names.items() if key in self._entries]
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
            known = self.lookup(command)
            if known is not None and self.version is not None:
                raise NotInVersion(command, self.version, known.versions)
            if command in self._ambiguous:
                raise AmbiguousCommand(command, self._ambiguous[command], self.version)
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
        except (NoMatchingRecipe, NotInVersion, AmbiguousCommand) as exc:
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


def pick_version(version: str, catalogued: Sequence[str]) -> str:
    """The catalogued version for a server reporting ``version``: the same one, else the
    same major.minor, else the closest older one, else the oldest."""
    if version in catalogued:
        return version
    wanted = _version_key(version)
    same = [v for v in catalogued if _version_key(v)[:2] == wanted[:2]]
    if same:
        return same[-1]
    older = [v for v in catalogued if _version_key(v) < wanted]
    return older[-1] if older else catalogued[0]


def _version_key(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _project(entry: CatalogEntry, version: str) -> CatalogEntry:
    """``entry`` with only the recipes ``version`` accepts, in that version's order."""
    form = entry.form(version)
    if form is None:
        return entry
    by_params = {r.params: r for r in entry.recipes}
    return replace(entry, recipes=tuple(by_params[p] for p in form.recipes))


def _index(
    entries: Mapping[str, CatalogEntry], version: str | None
) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
    """name -> catalog name for every accepted name; ambiguous local names -> their full
    names; unique local names -> catalog name. Precedence: catalog names, this version's
    names and aliases, other versions' names and aliases, then unique local names (in the
    union: local names that name one command in every version that has them)."""
    names: dict[str, str] = {n: n for n in entries}
    mine: list[tuple[VersionForm, str]] = []
    for entry in entries.values():
        forms = entry.versions if version is None else (entry.form(version),)
        for form in forms:
            if form is not None:
                mine.append((form, entry.name))
                for other in form.accepted_names:
                    names.setdefault(other, entry.name)
    for entry in entries.values():
        for other in (*entry.aliases, *(n for f in entry.versions for n in f.accepted_names)):
            names.setdefault(other, entry.name)
    by_local: dict[str, list[tuple[str, str]]] = {}
    for form, key in mine:
        if form.local_name:
            by_local.setdefault(form.local_name, []).append((form.name, key))
    ambiguous: dict[str, list[str]] = {}
    local: dict[str, str] = {}
    for local_name, owners in by_local.items():
        owners = list({key: (full, key) for full, key in owners}.values())
        if len(owners) == 1:
            local[local_name] = owners[0][1]
            names.setdefault(local_name, owners[0][1])
        elif local_name not in names:
            ambiguous[local_name] = sorted(full for full, _ in owners)
    if version is not None:
        # Another version's local name reaches its command here too when it names one
        # command in every version (``list_ctx`` on 3.x is dlg_list_ctx).
        union_names, _, _ = _index(entries, None)
        for name, key in union_names.items():
            names.setdefault(name, key)
    return names, ambiguous, local


def _form_from_json(version: str, raw: Mapping[str, Any]) -> VersionForm:
    return VersionForm(
        version=version,
        name=raw["name"],
        module=raw["module"],
        recipes=tuple(tuple(r) for r in raw["recipes"]),
        aliases=tuple(raw.get("aliases", ())),
        local_name=raw.get("local_name"),
        seen_live=bool(raw.get("seen_live", False)),
        named_only="MI_NAMED_PARAMS_ONLY" in str(raw.get("flags", "")),
    )


def _entry_from_json(name: str, raw: Mapping[str, Any]) -> CatalogEntry:
    return CatalogEntry(
        name=name,
        module=raw["module"],
        summary=raw.get("summary", ""),
        recipes=tuple(Recipe(tuple(r["params"]), AccessLevel(r["level"])) for r in raw["recipes"]),
        check_after=raw.get("check_after"),
        aliases=tuple(raw.get("aliases", ())),
        seen_live=bool(raw.get("seen_live", False)),
        versions=tuple(_form_from_json(v, f) for v, f in raw.get("versions", {}).items()),
        level_reason=raw.get("level_reason"),
    )


@cache
def load_catalog() -> Catalog:
    """The packaged catalog (``commands.json``), loaded once: every command of every
    catalogued version (use :meth:`Catalog.for_version` for one version's)."""
    raw = json.loads(
        resources.files("opensips_mcp.catalog").joinpath("commands.json").read_text("utf-8")
    )
    return Catalog(
        (_entry_from_json(name, entry) for name, entry in raw["commands"].items()),
        versions=tuple(raw.get("versions", {})),
        default_version=raw.get("default_version"),
    )
