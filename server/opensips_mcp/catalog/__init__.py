"""The command catalog: every real OpenSIPS MI command, its recipes and an access level each.

Everything permission-related is derived from it: tool annotations, the retry decision, the
permission check, the commands a role may see.
"""

from .catalog import Catalog, Params, load_catalog
from .errors import (
    CarriedCommandError,
    CatalogError,
    InvalidParamsShape,
    NoMatchingRecipe,
    UnknownCommand,
)
from .levels import AccessLevel, highest
from .model import CARRIERS, CatalogEntry, Recipe, Resolution

__all__ = [
    "CARRIERS",
    "AccessLevel",
    "CarriedCommandError",
    "Catalog",
    "CatalogEntry",
    "CatalogError",
    "InvalidParamsShape",
    "NoMatchingRecipe",
    "Params",
    "Recipe",
    "Resolution",
    "UnknownCommand",
    "highest",
    "load_catalog",
]
