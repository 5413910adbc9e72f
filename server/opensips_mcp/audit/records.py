"""The records of the audit trail: what one tool call, or one write about to be sent, says.

A call record (``kind: "call"``; all keys always present, in this order; the chain keys
``seq``, ``prev`` and ``hash`` are added when it is stored, see :mod:`.chain`)::

    {"kind": "call",
     "time": "2026-11-26T10:42:44.123456Z",   # UTC, ISO 8601
     "request_id": "5f0c...",                 # unique per tool call (uuid4 hex)
     "mcp_request_id": "7",                   # the JSON-RPC id of the tools/call, or null
     "principal": "alice", "role": "operator",
     "tool": "mi_execute",
     "instance": "default",                   # the OpenSIPS instance addressed
     "command": "ds_set_state",               # the first MI command of the call, or null
     "params": {"state": "i", ...},           # its parameters, secrets redacted, or null
     "level": "write",                        # highest level among the call's MI commands
     "decision": "allow",                     # "deny" when the gate refused any MI call
     "outcome": "ok",                         # ok | denied | error | unknown | declined
     "error": null,                           # the error code the agent saw, if any
     "mi_attempts": 1,                        # HTTP requests sent, summed over the calls
     "duration_ms": 3.2,
     "cancelled": false,                      # the client cancelled the call mid-way
     "confirmation": null,                    # {"command", "question", "answer"} when the
                                              # user was asked (--confirm); outcome
                                              # "declined" when the answer was not yes
     "calls": [{...}, ...]}                   # every MI command gated, see below

``calls`` lists every MI command the tool call gated, in order (a typed tool may run
several), each as ``{"command", "params", "level", "decision", "outcome", "attempts",
"internal", "call_id", "pending_seq"}``; ``internal`` marks the server's own ``which``
look-ups (live command list, cached); ``call_id`` and ``pending_seq`` name the
``pending`` record stored before a write was sent (both null for reads).
``command``/``params`` repeat the first call the tool itself asked for.

A pending record (``kind: "pending"``) is stored, fsynced, before a write, destructive
or admin recipe is sent: ``time, request_id, call_id, mcp_request_id, principal, role,
instance, tool, command, sent_as, recipe, params, level``. The call record of the same
tool call refers to it by ``call_id`` and ``pending_seq``. A pending record that never got
its call record (the server died) is closed at the next start by a ``closing`` record:
``time, call_id, pending_seq, request_id, principal, role, instance, tool, command,
params, level, outcome: "unknown", reason: "server stopped"``.

Secrets: a parameter whose name contains ``password``, ``passwd``, ``ha1``,
``secret``, ``token``, ``auth`` or ``key`` (any case, at any depth) is stored as
``"[redacted]"``. Positional parameters are named from the resolved recipe; a value
whose name is unknown is redacted. Bearer tokens are never passed to this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Outcome = Literal["ok", "denied", "error", "unknown", "declined"]
DecisionText = Literal["allow", "deny"]

REDACTED = "[redacted]"
SECRET_NAME_PARTS = ("password", "passwd", "ha1", "secret", "token", "auth", "key")


class AuditError(Exception):
    """A record could not be stored."""


def is_secret_name(name: str) -> bool:
    """True when a parameter called ``name`` may hold a credential."""
    lowered = name.lower()
    return any(part in lowered for part in SECRET_NAME_PARTS)


def redact(value: Any, names: Sequence[str] | None = None) -> Any:
    """A copy of MI parameters safe to store.

    ``value`` is an object (names known), an array (``names`` gives the name of each
    position when the recipe is known; values at unnamed positions are redacted), or
    ``None``. Nested objects are redacted by key as well.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if is_secret_name(str(k)) else _redact_nested(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        out: list[Any] = []
        for i, item in enumerate(value):
            if names is None or i >= len(names) or is_secret_name(names[i]):
                out.append(REDACTED)
            else:
                out.append(_redact_nested(item))
        return out
    return _redact_nested(value)


def _redact_nested(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redact_nested(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


@dataclass(slots=True)
class CallRecord:
    """One MI command gated within a tool call."""

    command: str
    params: Any
    level: str | None
    decision: DecisionText
    outcome: Outcome | None = None
    attempts: int = 0
    internal: bool = False
    """Made by the server for its own needs (the live ``which``), not asked by the tool."""
    call_id: str | None = None
    """The ``call_id`` of the ``pending`` record stored before this write was sent."""
    pending_seq: int | None = None
    """The chain position (``seq``) of that ``pending`` record."""

    def as_json(self) -> dict[str, Any]:
        """The JSON form stored under ``calls``."""
        return {
            "command": self.command,
            "params": self.params,
            "level": self.level,
            "decision": self.decision,
            "outcome": self.outcome,
            "attempts": self.attempts,
            "internal": self.internal,
            "call_id": self.call_id,
            "pending_seq": self.pending_seq,
        }


@dataclass(slots=True)
class AuditRecord:
    """Everything known about one tool call; :meth:`as_json` is the stored line."""

    principal: str
    role: str
    tool: str
    request_id: str
    mcp_request_id: str | None
    started: datetime
    calls: list[CallRecord] = field(default_factory=list)
    outcome: Outcome = "ok"
    error: str | None = None
    duration_ms: float = 0.0
    cancelled: bool = False
    refused: bool = False
    """Refused before the tool ran (unknown tool, arguments failing its schema)."""
    confirmation: dict[str, Any] | None = None
    """The user's confirmation, when one was needed: ``{"command", "question", "answer"}``
    (answer: accept, decline, cancel or unavailable)."""
    instance: str | None = None
    """The OpenSIPS instance the call was for (its configured name)."""

    def as_json(self) -> dict[str, Any]:
        """The record as stored (see the module docstring)."""
        asked = [c for c in self.calls if not c.internal] or self.calls
        first = asked[0] if asked else None
        levels = [c.level for c in self.calls if c.level is not None]
        return {
            "kind": "call",
            "time": iso_time(self.started),
            "request_id": self.request_id,
            "mcp_request_id": self.mcp_request_id,
            "principal": self.principal,
            "role": self.role,
            "tool": self.tool,
            "instance": self.instance,
            "command": first.command if first else None,
            "params": first.params if first else None,
            "level": _highest_level(levels),
            "decision": "deny"
            if self.refused or any(c.decision == "deny" for c in self.calls)
            else "allow",
            "outcome": self.outcome,
            "error": self.error,
            "cancelled": self.cancelled,
            "mi_attempts": sum(c.attempts for c in self.calls),
            "duration_ms": round(self.duration_ms, 3),
            "calls": [c.as_json() for c in self.calls],
            "confirmation": self.confirmation,
        }


_LEVEL_ORDER = ("read", "write", "destructive", "admin")


def _highest_level(levels: Sequence[str]) -> str | None:
    known = [lv for lv in levels if lv in _LEVEL_ORDER]
    return max(known, key=_LEVEL_ORDER.index) if known else None


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def iso_time(moment: datetime) -> str:
    """``moment`` in UTC as ISO 8601 with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def pending_record(
    *,
    request_id: str,
    call_id: str,
    mcp_request_id: str | None,
    principal: str,
    role: str,
    instance: str | None,
    tool: str,
    command: str,
    sent_as: str,
    recipe: Sequence[str],
    params: Any,
    level: str,
) -> dict[str, Any]:
    """The record stored before a write is sent (``params`` already redacted)."""
    return {
        "kind": "pending",
        "time": iso_time(utc_now()),
        "request_id": request_id,
        "call_id": call_id,
        "mcp_request_id": mcp_request_id,
        "principal": principal,
        "role": role,
        "instance": instance,
        "tool": tool,
        "command": command,
        "sent_as": sent_as,
        "recipe": list(recipe),
        "params": params,
        "level": level,
    }


CLOSING_REASON = "server stopped"


def closing_record(pending: Mapping[str, Any], *, reason: str = CLOSING_REASON) -> dict[str, Any]:
    """The record that closes a stored ``pending`` record that never got its call record."""
    return {
        "kind": "closing",
        "time": iso_time(utc_now()),
        "call_id": pending.get("call_id"),
        "pending_seq": pending.get("seq"),
        "request_id": pending.get("request_id"),
        "principal": pending.get("principal"),
        "role": pending.get("role"),
        "instance": pending.get("instance"),
        "tool": pending.get("tool"),
        "command": pending.get("command"),
        "params": pending.get("params"),
        "level": pending.get("level"),
        "outcome": "unknown",
        "reason": reason,
    }


def _shown(params: Any) -> str:
    return "" if params in (None, {}, []) else " " + json.dumps(params, separators=(",", ":"))


def format_record(record: Mapping[str, Any]) -> str:
    """One readable line for ``opensips-mcp audit tail`` (call, pending or closing)."""
    kind = record.get("kind", "call")
    who = f"{record.get('principal', '?')}({record.get('role', '?')})"
    seq = f"  seq={record['seq']}" if "seq" in record else ""
    if kind == "pending":
        return (
            f"{record.get('time', '?')}  {who}  {record.get('tool', '?')}  "
            f"{record.get('command')}{_shown(record.get('params'))}  pending/{record.get('level')}"
            f"  call={record.get('call_id', '?')}{seq}"
        )
    if kind == "closing":
        return (
            f"{record.get('time', '?')}  {who}  {record.get('tool', '?')}  "
            f"{record.get('command')}{_shown(record.get('params'))}  "
            f"closed/{record.get('outcome', '?')} ({record.get('reason', '?')})  "
            f"call={record.get('call_id', '?')} pending_seq={record.get('pending_seq')}{seq}"
        )
    calls = record.get("calls") or []
    commands = [f"{call.get('command')}{_shown(call.get('params'))}" for call in calls]
    what = "; ".join(commands) if commands else "-"
    error = f" error={record['error']}" if record.get("error") else ""
    cancelled = " cancelled" if record.get("cancelled") else ""
    return (
        f"{record.get('time', '?')}  {who}  "
        f"{record.get('tool', '?')}  {what}  "
        f"{record.get('decision', '?')}/{record.get('outcome', '?')}{error}{cancelled}  "
        f"attempts={record.get('mi_attempts', 0)}  {record.get('duration_ms', 0)}ms  "
        f"req={record.get('request_id', '?')}{seq}"
    )
