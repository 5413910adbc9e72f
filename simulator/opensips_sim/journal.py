"""The request journal: every request the MI endpoint received, in order.

Each entry is plain JSON::

    {"seq": 1, "time": 1795689764.0,
     "http_method": "POST", "path": "/mi", "http_status": 200,
     "method": "dlg_end_dlg", "params": {"dialog_id": "..."}, "id": 1,
     "notification": false, "recipe": ["dialog_id"], "level": "destructive",
     "applied": true, "partial": null,
     "fault": {"rule": 2, "action": "http_500", "when": "after_apply"} | null,
     "error_code": null, "outcome": "answered"}

``applied``: the command ran to completion, so its effect (if any) is in the state.
``partial``: with a ``partial`` fault, how many targets were applied before failing.
``outcome``: ``answered``, ``no_answer`` (notification 202 or empty-body status),
``closed`` (connection closed without an answer), ``reset``, ``truncated``, ``malformed``,
``stalled``.
"""

from __future__ import annotations

from typing import Any


class Journal:
    """An append-only list of entries with increasing ``seq``."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._seq = 0

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append an entry (``seq`` is assigned here) and return it for later updates."""
        self._seq += 1
        entry = {"seq": self._seq, **entry}
        self._entries.append(entry)
        return entry

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        """Entries with ``seq`` greater than ``since``."""
        return [dict(e) for e in self._entries if e["seq"] > since]

    def clear(self) -> int:
        """Forget every entry (``seq`` keeps increasing); returns how many were dropped."""
        dropped = len(self._entries)
        self._entries.clear()
        return dropped

    def __len__(self) -> int:
        return len(self._entries)
