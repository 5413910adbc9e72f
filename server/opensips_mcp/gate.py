"""The permission gate: who may run which (command, recipe).

Roles map to the highest access level they may use::

    viewer   -> read
    operator -> read, write
    admin    -> read, write, destructive, admin

:func:`decide` is the ONE function that allows or denies an MI call. It is pure: it
sees the caller (principal and role), the command, the recipe the catalog resolved
from the given parameters, and that recipe's level (which already includes the level
of a carried command for ``cluster_send_mi`` / ``cluster_broadcast_mi``). The runtime
calls it before anything is sent; a denied call sends nothing to OpenSIPS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from opensips_mcp.catalog.levels import AccessLevel


class Role(StrEnum):
    """What a caller is trusted to do. Ordered viewer < operator < admin."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def max_level(self) -> AccessLevel:
        """The highest access level this role may use."""
        return _MAX_LEVEL[self]

    def allows(self, level: AccessLevel) -> bool:
        """True when this role may run a recipe of ``level``."""
        return level <= self.max_level

    @property
    def levels(self) -> tuple[AccessLevel, ...]:
        """Every access level this role may use, lowest first."""
        return tuple(lv for lv in AccessLevel if self.allows(lv))

    @classmethod
    def lowest_allowing(cls, level: AccessLevel) -> Role:
        """The least trusted role that may run ``level``."""
        return next(role for role in cls if role.allows(level))


_MAX_LEVEL = {
    Role.VIEWER: AccessLevel.READ,
    Role.OPERATOR: AccessLevel.WRITE,
    Role.ADMIN: AccessLevel.ADMIN,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a name for the audit trail and the role that applies.

    Over HTTP both come from the bearer token the ``TokenVerifier`` accepted; on stdio
    and in memory they come from the configuration. Never from client-sent headers.
    """

    name: str
    role: Role
    mi_rate: float | None = None
    """This principal's own MI calls per second (its token's ``mi_rate``; ``0``: no
    limit); ``None``: the server's ``mi_rate``."""
    mi_rate_burst: int | None = None
    """This principal's own bucket size; ``None``: the server's ``mi_rate_burst``."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer for one MI call."""

    allowed: bool
    principal: Principal
    command: str
    recipe: tuple[str, ...] | None
    level: AccessLevel

    @property
    def needed_role(self) -> Role:
        """The least trusted role that would have been allowed."""
        return Role.lowest_allowing(self.level)

    def explain(self) -> str:
        """One sentence for a denied call: the level needed and the caller's role."""
        recipe = (
            "with no parameters"
            if self.recipe == ()
            else f"with parameters {', '.join(self.recipe)}"
            if self.recipe
            else ""
        )
        what = f"'{self.command}' {recipe}".rstrip()
        return (
            f"{what} is {AccessLevel(self.level).with_article} action; the role "
            f"'{self.principal.role}' of '{self.principal.name}' may run "
            f"{_levels_text(self.principal.role)} actions only. "
            f"It needs the role '{self.needed_role}' or higher: ask an operator of this server "
            f"for a token with that role, or use a read-only command to inspect the state instead."
        )


def _levels_text(role: Role) -> str:
    names = [str(lv) for lv in role.levels]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def decide(
    principal: Principal,
    command: str,
    recipe: Sequence[str] | None,
    level: AccessLevel,
) -> Decision:
    """Allow or deny one MI call.

    ``recipe`` is the parameter-name set the catalog matched (``None`` when the recipe
    is unknown, as for a command only the live server offers: those are ``admin``).
    """
    return Decision(
        allowed=principal.role.allows(level),
        principal=principal,
        command=command,
        recipe=tuple(recipe) if recipe is not None else None,
        level=level,
    )
