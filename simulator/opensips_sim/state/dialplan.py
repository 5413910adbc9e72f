"""dialplan state: translation rules per dialplan id (``modules/dialplan``).

Scenario section ``"dialplan"`` (absent section = no rules)::

    {"rules": [{"dpid": 1, "pr": 0, "match_op": 1, "match_exp": "^0",
                "match_flags": 0, "subst_exp": "^0(.*)", "repl_exp": "+49\\\\1",
                "attrs": "de"}]}

``match_op``: 0 equal, 1 regular expression. ``match_flags``: 1 = case-insensitive.
Rules of a dpid are tried by ascending ``pr``; the first that matches translates: with a
``subst_exp``, the output is ``repl_exp`` with ``\\N`` replaced by that expression's
groups; without one, the output is ``repl_exp`` (or the input when that is empty too).
The section is also the "database" that ``dp_reload`` reads back.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..world import StatePart

MATCH_EQUAL = 0
MATCH_REGEX = 1


@dataclass(frozen=True)
class Rule:
    """One dialplan rule."""

    dpid: int
    pr: int
    match_op: int
    match_exp: str
    match_flags: int
    subst_exp: str
    repl_exp: str
    attrs: str

    def matches(self, text: str) -> bool:
        """Whether ``text`` matches this rule's match expression."""
        insensitive = bool(self.match_flags & 1)
        if self.match_op == MATCH_EQUAL:
            return text.lower() == self.match_exp.lower() if insensitive else text == self.match_exp
        flags = re.IGNORECASE if insensitive else 0
        return re.search(self.match_exp, text, flags) is not None

    def translate(self, text: str) -> str | None:
        """The output for ``text`` (None when the substitution expression does not match)."""
        if not self.subst_exp:
            return self.repl_exp or text
        found = re.search(self.subst_exp, text)
        if found is None:
            return None
        groups = (found.group(0), *found.groups())
        return re.sub(
            r"\\(\d)",
            lambda m: (groups[int(m.group(1))] or "") if int(m.group(1)) < len(groups) else "",
            self.repl_exp,
        )


def _rules(section: Mapping[str, Any]) -> list[Rule]:
    return [
        Rule(
            dpid=int(raw["dpid"]),
            pr=int(raw.get("pr", 0)),
            match_op=int(raw.get("match_op", MATCH_REGEX)),
            match_exp=str(raw.get("match_exp", "")),
            match_flags=int(raw.get("match_flags", 0)),
            subst_exp=str(raw.get("subst_exp", "")),
            repl_exp=str(raw.get("repl_exp", "")),
            attrs=str(raw.get("attrs", "")),
        )
        for raw in section.get("rules", [])
    ]


class DialplanState(StatePart):
    """The rules in memory, and the "database" rows ``dp_reload`` reads."""

    key = "dialplan"

    def __init__(self, world: Any) -> None:
        super().__init__(world)
        self.rules: list[Rule] = []
        self._db: list[Rule] = []

    def load(self, section: Mapping[str, Any]) -> None:
        """Replace rules and database rows."""
        self._db = _rules(section)
        self.rules = copy.copy(self._db)

    def set_database(self, section: Mapping[str, Any]) -> None:
        """Replace the database rows only (an operator editing the table)."""
        self._db = _rules(section)

    def reload(self) -> None:
        """``dp_reload``: the rules become the database rows again."""
        self.rules = copy.copy(self._db)

    def has_dpid(self, dpid: int) -> bool:
        """Whether any rule has this dialplan id."""
        return any(rule.dpid == dpid for rule in self.rules)

    def translate(self, dpid: int, text: str) -> tuple[str, str] | None:
        """``(output, attrs)`` of the first matching rule of ``dpid`` by priority."""
        for rule in sorted((r for r in self.rules if r.dpid == dpid), key=lambda r: r.pr):
            if rule.matches(text):
                output = rule.translate(text)
                return None if output is None else (output, rule.attrs)
        return None

    def snapshot(self) -> Any:
        """The rules in the scenario schema."""
        return {
            "rules": [
                {
                    "dpid": r.dpid,
                    "pr": r.pr,
                    "match_op": r.match_op,
                    "match_exp": r.match_exp,
                    "match_flags": r.match_flags,
                    "subst_exp": r.subst_exp,
                    "repl_exp": r.repl_exp,
                    "attrs": r.attrs,
                }
                for r in self.rules
            ]
        }
