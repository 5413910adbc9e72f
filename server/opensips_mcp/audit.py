"""The audit trail: one JSON line per tool call, stored before the result returns.

A record (all keys always present)::

    {"time": "2026-11-26T10:42:44.123456Z",   # UTC, ISO 8601
     "request_id": "5f0c...",                 # unique per tool call (uuid4 hex)
     "mcp_request_id": "7",                   # the JSON-RPC id of the tools/call, or null
     "principal": "alice", "role": "operator",
     "tool": "mi_execute",
     "command": "ds_set_state",               # the first MI command of the call, or null
     "params": {"state": "i", ...},           # its parameters, secrets redacted, or null
     "level": "write",                        # highest level among the call's MI commands
     "decision": "allow",                     # "deny" when the gate refused any MI call
     "outcome": "ok",                         # ok | denied | error | unknown
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
"internal"}``; ``internal`` marks the server's own ``which`` look-ups (live command
list, cached). ``command``/``params`` repeat the first call the tool itself asked for.

Secrets: a parameter whose name contains ``password``, ``passwd``, ``ha1``,
``secret``, ``token``, ``auth`` or ``key`` (any case, at any depth) is stored as
``"[redacted]"``. Positional parameters are named from the resolved recipe; a value
whose name is unknown is redacted. Bearer tokens are never passed to this module.

Storage: each record is appended with ``O_APPEND``, then fsynced, in a worker thread
(the event loop keeps serving) while a lock serializes writers, so lines never
interleave. The file is opened per record, which keeps log rotation by rename safe.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread

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
            "time": self.started.astimezone(UTC).isoformat().replace("+00:00", "Z"),
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


class AuditLog:
    """An append-only JSON-lines file; :meth:`write` returns once the line is on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def prepare(self) -> None:
        """Create the parent directories and check the file can be opened for append.

        Raises :class:`AuditError` (with the path and the reason) when it cannot.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.close(fd)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.path}: {exc.strerror}") from exc

    async def write(self, record: Mapping[str, Any]) -> None:
        """Append one record, flushed and fsynced. Raises :class:`AuditError`."""
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        await anyio.to_thread.run_sync(self._append, line)

    def _append(self, line: bytes) -> None:
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise AuditError(f"cannot open the audit log {self.path}: {exc.strerror}") from exc
            try:
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            except OSError as exc:
                raise AuditError(f"cannot write the audit log {self.path}: {exc.strerror}") from exc
            finally:
                os.close(fd)


def read_records(
    path: Path,
    *,
    last: int | None = None,
    principal: str | None = None,
    outcome: str | None = None,
) -> Iterator[dict[str, Any]]:
    """The stored records, oldest first, filtered; only the ``last`` N when given.

    A line that is not a JSON object (say a torn last line) is skipped.
    """
    kept: deque[dict[str, Any]] = deque(maxlen=last) if last is not None else deque()
    with path.open(encoding="utf-8", errors="replace") as f:
        for raw in f:
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            if principal is not None and record.get("principal") != principal:
                continue
            if outcome is not None and record.get("outcome") != outcome:
                continue
            kept.append(record)
    yield from kept


def format_record(record: Mapping[str, Any]) -> str:
    """One readable line for ``opensips-mcp audit tail``."""
    calls = record.get("calls") or []
    commands = []
    for call in calls:
        params = call.get("params")
        shown = "" if params in (None, {}, []) else " " + json.dumps(params, separators=(",", ":"))
        commands.append(f"{call.get('command')}{shown}")
    what = "; ".join(commands) if commands else "-"
    error = f" error={record['error']}" if record.get("error") else ""
    cancelled = " cancelled" if record.get("cancelled") else ""
    return (
        f"{record.get('time', '?')}  {record.get('principal', '?')}({record.get('role', '?')})  "
        f"{record.get('tool', '?')}  {what}  "
        f"{record.get('decision', '?')}/{record.get('outcome', '?')}{error}{cancelled}  "
        f"attempts={record.get('mi_attempts', 0)}  {record.get('duration_ms', 0)}ms  "
        f"req={record.get('request_id', '?')}"
    )
