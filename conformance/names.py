"""Every name of every command, worked out from the catalog's per-version facts (the names
each captured OpenSIPS version reported), independently of the catalog's own resolver.

A command is known by its 3.x name, its aliases, its name in each version (4.x:
``module:name``), that version's aliases, and (4.x) its local name, which a request may use
while no other loaded command shares it. :func:`names_in` sorts them for one version:

* ``accepted``: names that belong to this command alone (no other command has the name
  in any role, and a local name names this one command in every version that has it);
  the server must resolve each to the command, at one level, and send the version's own
  name (:attr:`CommandNames.send`);
* ``ambiguous`` (4.x): local names several commands of that version share, which no
  command has as its full name or alias; refused unsent (``ambiguous_command``);
* a command the version lacks: every ``accepted`` name is refused unsent
  (``not_in_version``).

Names that one command has as its full name or alias and another as its local name are
left out: which one wins is the catalog's precedence rule, not a property of the names.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from opensips_mcp.catalog import CatalogEntry, load_catalog


@dataclass(frozen=True)
class CommandNames:
    """One command's names as one OpenSIPS version knows them."""

    command: str
    """The catalog name (3.x name; a command new in 4.x: its 4.x name)."""
    accepted: tuple[str, ...]
    """Every name that reaches this command (see the module docstring), sorted."""
    send: str | None
    """The version's own name for it (what must reach the server); ``None``: lacks it."""


def _strong(entry: CatalogEntry) -> set[str]:
    names = {entry.name, *entry.aliases}
    for form in entry.versions:
        names.update(form.accepted_names)
    return names


def _locals(entry: CatalogEntry) -> set[str]:
    return {f.local_name for f in entry.versions if f.local_name}


@cache
def _owners() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    strong: dict[str, set[str]] = defaultdict(set)
    local: dict[str, set[str]] = defaultdict(set)
    for entry in load_catalog().entries():
        for name in _strong(entry):
            strong[name].add(entry.name)
        for name in _locals(entry):
            local[name].add(entry.name)
    return dict(strong), dict(local)


@cache
def names_in(version: str) -> dict[str, CommandNames]:
    """Catalog name -> :class:`CommandNames` for every catalogued command, in ``version``
    (one of the catalogued versions)."""
    strong, local = _owners()
    found: dict[str, CommandNames] = {}
    for entry in load_catalog().entries():
        mine = {n for n in _strong(entry) if strong[n] == {entry.name}}
        mine |= {n for n in _locals(entry) if n not in strong and local[n] == {entry.name}}
        form = entry.form(version) if entry.versions else None
        send = form.name if form is not None else None
        found[entry.name] = CommandNames(entry.name, tuple(sorted(mine)), send)
    return found


@cache
def ambiguous_in(version: str) -> dict[str, tuple[str, ...]]:
    """Local names several of ``version``'s commands share and no command has as its full
    name or alias -> those commands' full names in ``version`` (4.x only; else empty)."""
    strong, _ = _owners()
    owners: dict[str, set[str]] = defaultdict(set)
    for entry in load_catalog().entries():
        form = entry.form(version)
        if form is not None and form.local_name:
            owners[form.local_name].add(form.name)
    return {
        name: tuple(sorted(full))
        for name, full in owners.items()
        if len(full) > 1 and name not in strong
    }
