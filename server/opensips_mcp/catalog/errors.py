"""Catalog errors. Each has an actionable ``message`` for the agent.

::

    CatalogError (ValueError)
     ├── UnknownCommand        the name is not a real MI command (with close real names)
     ├── NoMatchingRecipe      the params match none of the command's recipes (with the valid ones)
     ├── NotInVersion          the command exists, but not in the server's OpenSIPS version
     ├── AmbiguousCommand      a bare 4.x local name several commands share
     ├── InvalidParamsShape    params are neither an object, an array nor omitted
     └── CarriedCommandError   cluster_send_mi / cluster_broadcast_mi carry something unusable
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import CatalogEntry, VersionForm


class CatalogError(ValueError):
    """A call the catalog cannot resolve; ``message`` says what to do instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownCommand(CatalogError):
    """``command`` is not an OpenSIPS MI command."""

    def __init__(self, command: str, suggestions: Sequence[str]) -> None:
        hint = (
            f" Did you mean: {', '.join(suggestions)}?"
            if suggestions
            else " Use mi_list_commands to see the commands you may run."
        )
        super().__init__(f"Unknown MI command {command!r}.{hint}")
        self.command = command
        self.suggestions = list(suggestions)


class NoMatchingRecipe(CatalogError):
    """The given parameter names match none of the command's recipes."""

    def __init__(self, entry: CatalogEntry, given: Sequence[str], positional: bool) -> None:
        shown = f"{len(given)} positional params" if positional else "{" + ", ".join(given) + "}"
        super().__init__(
            f"{entry.name} does not accept the parameters {shown}. "
            f"Valid parameter sets (exactly one of): {entry.recipes_text()}."
        )
        self.entry = entry
        self.given = list(given)


class NotInVersion(CatalogError):
    """``command`` is a real MI command, but the server's OpenSIPS version lacks it."""

    def __init__(self, command: str, version: str, forms: Sequence[VersionForm]) -> None:
        having = [f.version for f in forms]
        key = _version_key(version)
        if having and all(_version_key(v) > key for v in having):
            when = f"it exists from {_minor(having[0])}"
        elif having and all(_version_key(v) < key for v in having):
            when = f"it exists up to {_minor(having[-1])}"
        else:
            when = "it exists in OpenSIPS " + ", ".join(having)
        super().__init__(
            f"OpenSIPS {version} has no {command}; {when}. Nothing was sent. "
            "Use mi_list_commands to see the commands this server offers."
        )
        self.command = command
        self.version = version
        self.versions = having


class AmbiguousCommand(CatalogError):
    """A bare 4.x local name that several commands share (OpenSIPS answers -32001)."""

    def __init__(self, command: str, candidates: Sequence[str], version: str | None) -> None:
        where = f"OpenSIPS {version}" if version else "OpenSIPS 4.x"
        super().__init__(
            f"{command!r} is ambiguous on {where}: several commands have that local name. "
            f"Use one of: {', '.join(candidates)}."
        )
        self.command = command
        self.candidates = list(candidates)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in version.split("."))


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


class InvalidParamsShape(CatalogError):
    """``params`` must be an object (named), an array (positional) or omitted."""

    def __init__(self, got: str) -> None:
        super().__init__(
            f"params must be an object of named parameters (or an array, or omitted), not {got}."
        )


class CarriedCommandError(CatalogError):
    """A command carried by ``cluster_send_mi``/``cluster_broadcast_mi`` cannot be resolved."""
