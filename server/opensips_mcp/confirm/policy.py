"""Which access levels need the user's confirmation before they are sent."""

from __future__ import annotations

from enum import StrEnum

from opensips_mcp.catalog.levels import AccessLevel


class ConfirmPolicy(StrEnum):
    """The ``--confirm`` setting.

    ``destructive`` (the default): destructive and admin recipes are confirmed;
    ``admin``: admin recipes only; ``none``: nothing is confirmed.
    """

    DESTRUCTIVE = "destructive"
    ADMIN = "admin"
    NONE = "none"

    def requires(self, level: AccessLevel) -> bool:
        """True when a call of ``level`` needs the user's yes before it is sent."""
        if self is ConfirmPolicy.NONE:
            return False
        floor = AccessLevel.DESTRUCTIVE if self is ConfirmPolicy.DESTRUCTIVE else AccessLevel.ADMIN
        return level >= floor

    @property
    def lowest_level(self) -> AccessLevel | None:
        """The least level that needs confirmation, or None when nothing does."""
        return {
            ConfirmPolicy.DESTRUCTIVE: AccessLevel.DESTRUCTIVE,
            ConfirmPolicy.ADMIN: AccessLevel.ADMIN,
            ConfirmPolicy.NONE: None,
        }[self]
