"""Fault injection as data: a rule matches calls and says what goes wrong, and when.

A rule (JSON)::

    {"command": "dlg_*",            # name or glob (fnmatch); default "*"
     "level": "destructive",        # or a list of levels; default any (needs a known command)
     "probability": 1.0,            # chance to fire when it matches (seeded random)
     "count": 1,                    # how many times it may fire; null = no limit
     "action": "http_500",          # see ACTIONS
     "when": "before_apply",        # before_apply: not applied; after_apply: applied, answer lost
     "seconds": 2.0,                # delay: how long
     "targets": 1,                  # partial: how many targets are applied before failing
     "answer": "error"}             # partial: "error" (MI error 500) or "http_500"

The same rule may also be written ``{"match": {"command": ..., "level": ..., "probability":
..., "count": ...}, "action": ..., "when": ...}``. Rules are tried in order; the first that
matches and fires wins. The random draws come from their own generator seeded from the
simulator's seed, so the same seed and the same requests fire the same faults.
"""

from __future__ import annotations

import fnmatch
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .registry import LEVELS

ACTIONS = ("http_500", "http_503", "delay", "reset", "truncate", "malformed", "stall", "partial")
WHENS = ("before_apply", "after_apply")
#: Commands whose handler honours ``ctx.partial`` (applies to some targets, then fails).
BULK_COMMANDS = frozenset({"profile_end_dlgs", "cluster_broadcast_mi"})
_KEYS = {
    "command",
    "level",
    "probability",
    "count",
    "action",
    "when",
    "seconds",
    "targets",
    "answer",
    "match",
}


class FaultError(ValueError):
    """A rule that cannot be understood (the message says why)."""


@dataclass
class FaultRule:
    """One fault rule and how often it fired."""

    id: int
    action: str
    command: str = "*"
    levels: tuple[str, ...] | None = None
    probability: float = 1.0
    count: int | None = None
    when: str = "before_apply"
    seconds: float = 0.0
    targets: int = 1
    answer: str = "error"
    fired: int = 0

    @classmethod
    def from_json(cls, rule_id: int, data: Mapping[str, Any]) -> FaultRule:
        """Validate and build a rule from its JSON form."""
        if not isinstance(data, Mapping):
            raise FaultError("a fault rule is a JSON object")
        unknown = set(data) - _KEYS
        if unknown:
            raise FaultError(f"unknown fault rule keys: {sorted(unknown)}")
        flat = dict(data)
        match = flat.pop("match", None)
        if match is not None:
            if not isinstance(match, Mapping):
                raise FaultError("'match' is an object")
            flat.update(match)
        action = flat.get("action")
        if action not in ACTIONS:
            raise FaultError(f"'action' must be one of {list(ACTIONS)}")
        when = flat.get("when", "before_apply")
        if when not in WHENS:
            raise FaultError(f"'when' must be one of {list(WHENS)}")
        levels = flat.get("level")
        if isinstance(levels, str):
            levels = [levels]
        if levels is not None and (
            not isinstance(levels, list) or any(lv not in LEVELS for lv in levels)
        ):
            raise FaultError(f"'level' must be one or a list of {list(LEVELS)}")
        probability = float(flat.get("probability", 1.0))
        if not 0.0 <= probability <= 1.0:
            raise FaultError("'probability' is between 0 and 1")
        count = flat.get("count")
        if count is not None and (not isinstance(count, int) or count < 0):
            raise FaultError("'count' is a non-negative integer or null")
        answer = flat.get("answer", "error")
        if answer not in ("error", "http_500"):
            raise FaultError("'answer' is 'error' or 'http_500'")
        return cls(
            id=rule_id,
            action=str(action),
            command=str(flat.get("command", "*")),
            levels=tuple(levels) if levels is not None else None,
            probability=probability,
            count=count,
            when=str(when),
            seconds=float(flat.get("seconds", 0.0)),
            targets=int(flat.get("targets", 1)),
            answer=str(answer),
        )

    def to_json(self) -> dict[str, Any]:
        """The rule as JSON, with ``id`` and ``fired``."""
        return {
            "id": self.id,
            "command": self.command,
            "level": list(self.levels) if self.levels is not None else None,
            "probability": self.probability,
            "count": self.count,
            "action": self.action,
            "when": self.when,
            "seconds": self.seconds,
            "targets": self.targets,
            "answer": self.answer,
            "fired": self.fired,
        }

    def matches(self, method: str, level: str | None) -> bool:
        """True when the call is one this rule is about."""
        if self.count is not None and self.fired >= self.count:
            return False
        if not fnmatch.fnmatchcase(method, self.command):
            return False
        if self.levels is not None and level not in self.levels:
            return False
        return not (self.action == "partial" and method not in BULK_COMMANDS)


class FaultPlan:
    """The active rules and their seeded random source."""

    def __init__(self, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self._rng = random.Random(f"opensips-sim faults {seed}")
        self._next_id = 1

    def add(self, data: Mapping[str, Any]) -> FaultRule:
        """Append one rule (validated)."""
        rule = FaultRule.from_json(self._next_id, data)
        self._next_id += 1
        self.rules.append(rule)
        return rule

    def extend(self, rules: Iterable[Mapping[str, Any]]) -> list[FaultRule]:
        """Append several rules; none is added when one is invalid."""
        built = [FaultRule.from_json(self._next_id + i, r) for i, r in enumerate(rules)]
        self._next_id += len(built)
        self.rules.extend(built)
        return built

    def clear(self) -> None:
        """Remove every rule."""
        self.rules.clear()

    def remove(self, rule_id: int) -> bool:
        """Remove one rule by id; False when there is none."""
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) < before

    def pick(self, method: str, level: str | None) -> FaultRule | None:
        """The rule that fires for this call, if any (counts it as fired)."""
        for rule in self.rules:
            if not rule.matches(method, level):
                continue
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            rule.fired += 1
            return rule
        return None

    def to_json(self) -> list[dict[str, Any]]:
        """Every rule as JSON."""
        return [rule.to_json() for rule in self.rules]


def rules_from_json(document: Any) -> list[Mapping[str, Any]]:
    """Rules from a document: a list of rules, ``{"rules": [...]}`` or one rule."""
    if isinstance(document, list):
        return document
    if isinstance(document, Mapping) and "rules" in document:
        rules = document["rules"]
        if not isinstance(rules, list):
            raise FaultError("'rules' is a list")
        return rules
    if isinstance(document, Mapping):
        return [document]
    raise FaultError('faults are a rule, a list of rules or {"rules": [...]}')


def load_rules_file(path: str | Path) -> list[Mapping[str, Any]]:
    """Rules from a JSON file (``--faults FILE``)."""
    return rules_from_json(json.loads(Path(path).read_text("utf-8")))
