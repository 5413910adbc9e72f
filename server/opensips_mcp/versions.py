"""Which OpenSIPS version an MI endpoint runs, and so which catalog applies to it.

One :class:`VersionTracker` belongs to one MI endpoint (one :class:`~opensips_mcp.mi.MIClient`):
never global, so several instances of different versions can be served side by side.

It learns the version with the ``version`` command on first use, keeps it for ``ttl``
seconds, and learns it again after that, after a connection failure (the server may have
been restarted, perhaps upgraded), or when the live ``which`` contradicts it (4.x names on a
server taken for 3.x or the reverse). Until a version is learnt, the catalog's default
version is assumed; a server that answers ``version`` with an error is taken for that
default too (kept for ``ttl``), while an unreachable one is asked again on the next use.
A version given in the settings (``opensips_version``) is trusted and never asked.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from opensips_mcp.catalog import Catalog

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class ServerVersion:
    """What is known of the server's version, and the catalog chosen for it."""

    catalog: Catalog
    """The catalog of the version (``catalog.version`` is the catalogued version used)."""
    reported: str | None
    """The version the server reported (``3.6.8``), or ``None`` when it could not be learnt."""
    server: str | None
    """The server's own ``version`` text (``OpenSIPS (3.6.8 (x86_64/linux))``)."""
    error: str | None
    """Why the version could not be learnt, when it could not."""
    learnt_at: float

    @property
    def assumed(self) -> bool:
        """True when the version is the catalog's default, not the server's answer."""
        return self.reported is None


def parse_version(result: Any) -> tuple[str | None, str | None]:
    """``(x.y.z, server text)`` from a ``version`` answer (``{"Server": "OpenSIPS (3.6.8
    (x86_64/linux))"}``); ``(None, text)`` when it names no version."""
    text = result.get("Server") if isinstance(result, dict) else result
    if not isinstance(text, str):
        return None, None
    match = _VERSION.search(text)
    if match is None:
        return None, text
    major, minor, patch = match.groups()
    return f"{major}.{minor}.{patch or 0}", text


def names_look_like(version: str, names: Iterable[str]) -> bool:
    """Whether a ``which`` list fits ``version``: 4.x lists ``module:name`` names only."""
    names = list(names)
    if not names:
        return True
    scoped = sum(1 for n in names if ":" in n)
    if int(version.split(".")[0]) >= 4:
        return scoped == len(names)
    return scoped == 0


Fetch = Callable[[], Awaitable[tuple[Any | None, str | None, bool]]]
"""Asks the server ``version``: ``(result, error text, reachable)``."""


class VersionTracker:
    """The version of one MI endpoint (see the module docstring)."""

    def __init__(self, catalog: Catalog, ttl: float, pinned: str | None = None) -> None:
        self._union = catalog
        self._ttl = ttl
        self._pinned = (
            ServerVersion(catalog.for_version(pinned), pinned, None, None, 0.0) if pinned else None
        )
        self._current: ServerVersion | None = self._pinned
        self._lock = asyncio.Lock()

    @property
    def current(self) -> ServerVersion | None:
        """The last version learnt (or assumed), without asking."""
        return self._current

    def assumed_catalog(self) -> Catalog:
        """The catalog used before anything is learnt: the default version's."""
        default = self._union.default_version
        return self._union.for_version(default) if default else self._union

    def invalidate(self) -> None:
        """Forget the version: the next use asks again (after a connection failure)."""
        self._current = self._pinned

    def check_names(self, names: Iterable[str]) -> None:
        """Forget the version when a live ``which`` list contradicts it."""
        current = self._current
        version = current.catalog.version if current is not None else None
        if version is not None and not names_look_like(version, names):
            self._current = self._pinned

    def observe(self, result: Any) -> None:
        """Learn the version from a ``version`` answer a tool asked for anyway."""
        reported, server = parse_version(result)
        if reported is not None and self._pinned is None:
            catalog = self._union.for_version(reported)
            self._current = ServerVersion(catalog, reported, server, None, time.monotonic())

    async def get(self, fetch: Fetch) -> ServerVersion:
        """The version, learnt with ``fetch`` when unknown or older than ``ttl``."""
        current = self._current
        if self._pinned is not None:
            return self._pinned
        if current is not None and time.monotonic() - current.learnt_at < self._ttl:
            return current
        async with self._lock:
            current = self._current
            if current is not None and time.monotonic() - current.learnt_at < self._ttl:
                return current
            result, error, reachable = await fetch()
            reported, server = parse_version(result) if error is None else (None, None)
            if reported is not None:
                learnt = ServerVersion(
                    self._union.for_version(reported), reported, server, None, time.monotonic()
                )
            else:
                why = error or f"the server's 'version' answer names no version: {result!r}"
                learnt = ServerVersion(self.assumed_catalog(), None, server, why, time.monotonic())
            if reachable:
                self._current = learnt
            return learnt
