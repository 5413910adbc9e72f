"""Which OpenSIPS version the conformance target runs, and so which catalog the oracle and
the strategies use.

``OPENSIPS_CONFORMANCE_VERSION`` (default 3.6.8): the version of the real server, or the one
the built-in simulator impersonates (``opensips-sim --opensips-version``). Calls are drawn
from that version's commands and recipes; the oracle expects that version's answers.
"""

from __future__ import annotations

import os
from functools import cache

from opensips_mcp.catalog import Catalog, load_catalog

VERSION_ENV = "OPENSIPS_CONFORMANCE_VERSION"
DEFAULT_VERSION = "3.6.8"


def target_version() -> str:
    """The OpenSIPS version the suite runs against."""
    return os.environ.get(VERSION_ENV, "").strip() or DEFAULT_VERSION


@cache
def target_catalog() -> Catalog:
    """The catalog of :func:`target_version`."""
    return load_catalog().for_version(target_version())
