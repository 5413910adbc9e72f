"""Storing the trail: one writer thread per file, group commit, rotation, the head file.

Callers (on the event loop) hand a serialized record to :meth:`TrailWriter.submit` and
are called back once it is on disk. The writer thread takes every record queued so far,
chains them (:func:`.chain.seal`), writes them with one ``write`` and makes them durable
with one ``fsync``: concurrent calls share fsyncs, and the event loop never touches the
disk. Then it rewrites the head file (no fsync), answers the callers, and hands the lines
to the sinks (syslog), which see exactly the chained lines.

Rotation: before a record would take the live file past ``max_bytes``, the file is
fsynced and closed, ``path.1`` ... ``path.(keep-1)`` move up one (the oldest beyond
``keep`` is overwritten), ``path`` becomes ``path.1``, and a new ``path`` starts with a
``kind: "file"`` record chained to the last one. Records are only ever appended by the
one writer thread, so rotation loses and duplicates nothing.

One process writes a trail: a second process is refused (``flock`` on the head file).
Within a process, every :class:`.AuditLog` for the same path shares one writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from opensips_mcp.audit.chain import GENESIS, head_path, seal, unseal
from opensips_mcp.audit.records import AuditError, iso_time, utc_now

logger = logging.getLogger("opensips_mcp.audit")

IDLE_SECONDS = 10.0
"""A writer thread with nothing to do for this long closes its file and ends."""

Done = Callable[[BaseException | None, int | None], None]
"""Called in the writer thread: ``(error, seq)`` once a record is stored or failed."""


class Sink(Protocol):
    """Somewhere else the chained lines go once they are on disk (e.g. syslog)."""

    def send(self, lines: Sequence[tuple[str, bytes]]) -> None:
        """Send ``(kind, line)`` pairs; must not raise (log and count failures)."""

    def close(self) -> None:
        """Release sockets."""


@dataclass(slots=True)
class _Item:
    kind: str
    body: bytes
    done: Done


class TrailWriter:
    """The one writer of the trail at ``path`` in this process (see the module docstring)."""

    def __init__(self, path: Path, *, max_bytes: int, keep: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.sinks: list[Sink] = []
        self.fsyncs = 0
        """fsyncs of the live file made so far (for benchmarks and tests)."""
        self.stored = 0
        """Records stored so far."""
        self.rotations = 0
        self.recovered = False
        """Set once pending records left by a previous process were closed."""
        self._cond = threading.Condition()
        self._queue: list[_Item] = []
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._head_fd: int | None = None
        self._size = 0
        self._seq = -1
        self._last = GENESIS
        self._header_len = 0
        self._unsent: list[tuple[str, bytes]] = []

    # --- caller side -----------------------------------------------------------------

    def submit(self, kind: str, body: bytes, done: Done) -> None:
        """Queue one record (``body``: compact ASCII JSON object); ``done`` is called later."""
        with self._cond:
            self._queue.append(_Item(kind, body, done))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"audit-writer {self.path.name}", daemon=True
                )
                self._thread.start()
            else:
                self._cond.notify()

    def check_lock(self) -> None:
        """Raise :class:`AuditError` if another process holds the trail."""
        with self._cond:
            if self._thread is not None or self._head_fd is not None:
                return
            fd = self._lock()
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # --- writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    if not self._cond.wait(IDLE_SECONDS) and not self._queue:
                        self._close()
                        self._thread = None
                        return
                batch, self._queue = self._queue, []
            try:
                seqs, sent = self._commit(batch)
            except AuditError as exc:
                self._close()
                for item in batch:
                    item.done(exc, None)
                continue
            except Exception as exc:  # never leave a caller waiting
                logger.exception("audit writer failed")
                self._close()
                error = AuditError(f"cannot write the audit log {self.path}: {exc}")
                for item in batch:
                    item.done(error, None)
                continue
            for item, seq in zip(batch, seqs, strict=True):
                item.done(None, seq)
            for sink in self.sinks:
                sink.send(sent)

    def _commit(self, batch: list[_Item]) -> tuple[list[int], list[tuple[str, bytes]]]:
        fd = self._open()
        sent = self._take_unsent()
        seqs: list[int] = []
        pending: list[bytes] = []
        pending_size = 0
        for item in batch:
            line, digest = seal(self._seq + 1, self._last, item.body)
            if (
                self.max_bytes
                and self._size + pending_size + len(line) > self.max_bytes
                and self._size + pending_size > self._header_len
            ):
                self._write(fd, pending)
                pending, pending_size = [], 0
                fd = self._rotate(fd)
                sent.extend(self._take_unsent())
                line, digest = seal(self._seq + 1, self._last, item.body)
            self._seq += 1
            self._last = digest
            pending.append(line)
            pending_size += len(line)
            seqs.append(self._seq)
            sent.append((item.kind, line))
        self._write(fd, pending)
        self._sync(fd)
        self.stored += len(batch)
        self._write_head()
        return seqs, sent

    def _take_unsent(self) -> list[tuple[str, bytes]]:
        unsent, self._unsent = self._unsent, []
        return unsent

    def _write(self, fd: int, lines: list[bytes]) -> None:
        if not lines:
            return
        data = b"".join(lines)
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError as exc:
            raise AuditError(f"cannot write the audit log {self.path}: {exc.strerror}") from exc
        self._size += len(data)

    def _sync(self, fd: int) -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            raise AuditError(f"cannot fsync the audit log {self.path}: {exc.strerror}") from exc
        self.fsyncs += 1

    def _write_head(self) -> None:
        if self._head_fd is None:
            return
        text = f"{self._seq} {self._last}\n".encode().ljust(96, b" ")
        try:
            os.pwrite(self._head_fd, text, 0)
        except OSError as exc:  # the head is a hint for verify; records are safe
            logger.warning("cannot update %s: %s", head_path(self.path), exc.strerror)

    def _lock(self) -> int:
        head = head_path(self.path)
        try:
            fd = os.open(head, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open {head}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise AuditError(
                f"the audit log {self.path} is in use by another opensips-mcp process "
                "(one process per audit log: give each server its own --audit-log)"
            ) from None
        return fd

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        if self._head_fd is None:
            self._head_fd = self._lock()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.path}: {exc.strerror}") from exc
        try:
            self._size = _drop_torn_tail(fd, self.path)
            if self._size > 0:
                tail = _last_line(fd, self._size)
                if not _resume_from(self, tail):
                    os.close(fd)
                    fd = self._set_aside_unchained()
            if self._size == 0:
                previous = self.path.with_name(self.path.name + ".1")
                before = _last_line_of(previous)
                if before is not None:
                    _resume_from(self, before)
                self._fd = fd
                self._start_file(fd)
        except OSError as exc:
            os.close(fd)
            raise AuditError(f"cannot read the audit log {self.path}: {exc.strerror}") from exc
        self._fd = fd
        return fd

    def _set_aside_unchained(self) -> int:
        aside = self.path.with_name(self.path.name + ".unchained")
        os.replace(self.path, aside)
        logger.warning(
            "the audit log %s was written without a hash chain: moved to %s, new trail started",
            self.path,
            aside,
        )
        self._size, self._seq, self._last = 0, -1, GENESIS
        return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)

    def _start_file(self, fd: int) -> None:
        body = json.dumps(
            {"kind": "file", "time": iso_time(utc_now()), "pid": os.getpid()},
            separators=(",", ":"),
        ).encode()
        line, digest = seal(self._seq + 1, self._last, body)
        self._write(fd, [line])
        self._seq += 1
        self._last = digest
        self._header_len = len(line)
        self._unsent.append(("file", line))

    def _rotate(self, fd: int) -> int:
        self._sync(fd)
        os.close(fd)
        self._fd = None
        base = str(self.path)
        try:
            for index in range(self.keep - 1, 0, -1):
                older = f"{base}.{index}"
                if os.path.exists(older):
                    os.replace(older, f"{base}.{index + 1}")
            os.replace(base, f"{base}.1")
            new = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot rotate the audit log {self.path}: {exc.strerror}") from exc
        self._fd = new
        self._size = 0
        self._start_file(new)
        _sync_dir(self.path.parent)
        self.rotations += 1
        return new

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        self._header_len = 0
        self._unsent = []
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        head, self._head_fd = self._head_fd, None
        if head is not None:
            with contextlib.suppress(OSError):
                os.close(head)  # releases the flock


def _sync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _drop_torn_tail(fd: int, path: Path) -> int:
    """Cut a last line without its newline (a write cut short: never acknowledged, so
    never returned to a caller); answer the file size."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    if os.pread(fd, 1, size - 1) == b"\n":
        return size
    keep = size
    step = 65536
    while keep > 0:
        start = max(0, keep - step)
        chunk = os.pread(fd, keep - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            keep = start + cut + 1
            break
        keep = start
    os.ftruncate(fd, keep)
    logger.warning("audit log %s: cut %d bytes of a torn last line", path, size - keep)
    return keep


def _last_line(fd: int, size: int) -> bytes:
    end = size - 1  # the final newline
    data = b""
    step = 65536
    start = end
    while start > 0:
        start = max(0, start - step)
        data = os.pread(fd, end - start, start)
        cut = data.rfind(b"\n")
        if cut >= 0:
            return data[cut + 1 :]
    return os.pread(fd, end, 0)


def _last_line_of(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) != b"\n":
            return None
        return _last_line(fd, size)
    finally:
        os.close(fd)


def _resume_from(writer: TrailWriter, line: bytes) -> bool:
    """Continue the chain after ``line``; ``False`` when it is not a chained record."""
    parts = unseal(line)
    if parts is None:
        return False
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        record = None
    seq = record.get("seq") if isinstance(record, dict) else None
    if not isinstance(seq, int):
        return False
    writer._seq, writer._last = seq, parts[1]
    return True


_writers: dict[str, TrailWriter] = {}
_writers_lock = threading.Lock()


def writer_for(path: Path, *, max_bytes: int, keep: int) -> TrailWriter:
    """The process's writer of the trail at ``path`` (created on first use; the first
    caller's ``max_bytes``/``keep`` apply)."""
    key = os.path.abspath(path)
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None:
            writer = TrailWriter(Path(key), max_bytes=max_bytes, keep=keep)
            _writers[key] = writer
        return writer
