"""`AuditLog`: what the runtime calls to store records (see :mod:`opensips_mcp.audit`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from opensips_mcp.audit.chain import read_records, trail_files
from opensips_mcp.audit.records import AuditError, closing_record
from opensips_mcp.audit.syslog import SyslogSink
from opensips_mcp.audit.writer import TrailWriter, writer_for

if TYPE_CHECKING:
    from opensips_mcp.settings import Settings

logger = logging.getLogger("opensips_mcp.audit")

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
"""Rotate the live file before it grows past this (0: never rotate)."""
DEFAULT_KEEP = 10
"""Rotated files kept beside the live one."""


class AuditLog:
    """The audit trail at ``path``: :meth:`write` and :meth:`intend` return once the
    record is fsynced (group commit in a writer thread); see :mod:`opensips_mcp.audit`."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        syslog: str | None = None,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.syslog = syslog
        self._writer: tuple[Path, str | None, TrailWriter] | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> AuditLog:
        """The audit log the settings describe (``audit_log``, ``audit_max_bytes``,
        ``audit_keep``, ``audit_syslog``)."""
        return cls(
            settings.audit_log,
            max_bytes=settings.audit_max_bytes,
            keep=settings.audit_keep,
            syslog=settings.audit_syslog,
        )

    @property
    def writer(self) -> TrailWriter:
        """This process's writer of the trail (shared by every `AuditLog` of the path)."""
        cached = self._writer
        if cached is not None and cached[:2] == (self.path, self.syslog):
            return cached[2]  # a path's writer lives as long as the process
        writer = writer_for(self.path, max_bytes=self.max_bytes, keep=self.keep)
        if self.syslog and not any(
            isinstance(s, SyslogSink) and s.url == self.syslog for s in writer.sinks
        ):
            writer.sinks.append(SyslogSink(self.syslog))
        self._writer = (self.path, self.syslog, writer)
        return writer

    def prepare(self) -> None:
        """Create the parent directories and check the file can be opened for append and
        that no other process writes this trail.

        Raises :class:`AuditError` (with the path and the reason) when it cannot.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.close(fd)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.path}: {exc.strerror}") from exc
        self.writer.check_lock()

    async def write(self, record: Mapping[str, Any]) -> int:
        """Store one call (or closing) record, fsynced; answers its ``seq``.

        Raises :class:`AuditError`.
        """
        return await self._store(record)

    async def intend(self, record: Mapping[str, Any]) -> int:
        """Store one ``pending`` record, fsynced, before its write is sent; answers its
        ``seq``. Raises :class:`AuditError`."""
        return await self._store(record)

    async def _store(self, record: Mapping[str, Any]) -> int:
        body = json.dumps(record, separators=(",", ":"), default=str).encode()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()

        def settle(error: BaseException | None, seq: int | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(seq if seq is not None else -1)

        def done(error: BaseException | None, seq: int | None) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(settle, error, seq)

        self.writer.submit(str(record.get("kind", "call")), body, done)
        return await future

    async def recover(self) -> int:
        """Close, once per process, the ``pending`` records a previous process left
        without a call record: one ``closing`` record each (outcome ``unknown``,
        reason ``server stopped``). Answers how many were closed."""
        writer = self.writer
        if writer.recovered:
            return 0
        writer.recovered = True
        orphans = await anyio.to_thread.run_sync(_open_intents, self.path)
        for pending in orphans:
            await self.write(closing_record(pending))
        if orphans:
            logger.warning(
                "audit: %d write(s) sent by a previous server process have no outcome; "
                "closed as unknown in %s",
                len(orphans),
                self.path,
            )
        return len(orphans)


def _open_intents(path: Path) -> list[dict[str, Any]]:
    if not trail_files(path):
        return []
    pending: dict[str, dict[str, Any]] = {}
    for record in read_records(path):
        kind = record.get("kind")
        if kind == "pending" and isinstance(record.get("call_id"), str):
            pending[record["call_id"]] = record
        elif kind == "closing":
            pending.pop(str(record.get("call_id")), None)
        elif kind == "call":
            for call in record.get("calls") or []:
                if isinstance(call, dict) and call.get("call_id") is not None:
                    pending.pop(str(call["call_id"]), None)
    return list(pending.values())
