"""The command catalog: every real OpenSIPS MI command, its recipes and an access level each.

Everything permission-related is derived from it: tool annotations, the retry decision, the
permission check, the commands a role may see.
"""

from .catalog import Catalog, Params, load_catalog, pick_version
from .errors import (
    AmbiguousCommand,
    CarriedCommandError,
    CatalogError,
    InvalidParamsShape,
    NoMatchingRecipe,
    NotInVersion,
    UnknownCommand,
)
from .levels import AccessLevel, highest
from .model import CARRIERS, CatalogEntry, Recipe, Resolution, VersionForm

__all__ = [
    "CARRIERS",
    "AccessLevel",
    "AmbiguousCommand",
    "CarriedCommandError",
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "InvalidParamsShape",
    "NoMatchingRecipe",
    "NotInVersion",
    "Params",
    "Recipe",
    "Resolution",
    "UnknownCommand",
    "VersionForm",
    "highest",
    "load_catalog",
    "pick_version",
]
