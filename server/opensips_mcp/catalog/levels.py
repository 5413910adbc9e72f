"""Access levels: how much a (command, recipe) may change on a running OpenSIPS."""

from __future__ import annotations

from enum import StrEnum


class AccessLevel(StrEnum):
    """Ordered access levels. ``read`` < ``write`` < ``destructive`` < ``admin``."""

    READ = "read"
    WRITE = "write"
    DESTRUCTIVE = "destructive"
    ADMIN = "admin"

    @property
    def with_article(self) -> str:
        """``"a read"``, ``"an admin"``: for messages."""
        return f"{'an' if self.value[0] in 'aeiou' else 'a'} {self.value}"

    @property
    def rank(self) -> int:
        """Position in the order read < write < destructive < admin."""
        return _ORDER.index(self)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, AccessLevel):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, AccessLevel):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, AccessLevel):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, AccessLevel):
            return NotImplemented
        return self.rank < other.rank

    @property
    def is_read(self) -> bool:
        """True only for ``read``: the one level whose requests may be re-sent."""
        return self is AccessLevel.READ


_ORDER = [AccessLevel.READ, AccessLevel.WRITE, AccessLevel.DESTRUCTIVE, AccessLevel.ADMIN]


def highest(*levels: AccessLevel) -> AccessLevel:
    """The highest of the given levels (``read`` when none are given)."""
    return max(levels, key=lambda lv: lv.rank, default=AccessLevel.READ)
