"""The hash chain of the audit trail, the files it spans, and how to read and verify it.

Every stored line is one JSON object that starts with ``"seq"`` (0, 1, 2, ... over the
whole trail) and ``"prev"`` (the ``hash`` of the record before it; 64 zeros before the
first record ever) and ends with ``"hash"``::

    {"seq":41,"prev":"9f2c...","kind":"call",...,"hash":"51ab..."}

``hash`` is the SHA-256 (hex) of the line's bytes with ``,"hash":"..."`` removed, i.e. of
``{"seq":41,"prev":"9f2c...","kind":"call",...}`` exactly as stored (ASCII; the JSON
is never re-serialized to check it). A collector receiving the lines (the syslog sink
sends each line unchanged) can check them the same way with :func:`verify_lines`.

Files: the live file ``audit.jsonl`` and the rotated ones ``audit.jsonl.1`` (newest)
... ``audit.jsonl.N`` (oldest). Every file starts with a ``kind: "file"`` record whose
``prev`` is the last hash of the file before it, so the chain runs across files and a
removed first line is seen. ``audit.jsonl.head`` holds the ``seq`` and ``hash`` of the
last record the server stored (rewritten, not fsynced, after each group of records), so
records cut off the end of the trail are seen too.

A line is bad when it is not JSON, its ``hash`` does not match its bytes, its ``prev``
is not the hash of the line before it, or its ``seq`` does not follow; the first bad
line is reported by file and line number.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
"""The ``prev`` of the first record of a trail."""

_HASH_KEY = b',"hash":"'
_SUFFIX_LEN = len(_HASH_KEY) + 64 + 2  # ,"hash":"<64 hex>"}
_HEX = re.compile(rb"[0-9a-f]{64}")


def seal(seq: int, prev: str, body: bytes) -> tuple[bytes, str]:
    """The stored line (with its newline) for ``body`` (a compact JSON object, ASCII)
    at position ``seq`` after a record hashed ``prev``; and the new line's hash."""
    inner = body[1:-1]
    unsealed = b'{"seq":%d,"prev":"%s"%s}' % (seq, prev.encode(), b"," + inner if inner else b"")
    digest = hashlib.sha256(unsealed).hexdigest()
    return unsealed[:-1] + _HASH_KEY + digest.encode() + b'"}\n', digest


def unseal(line: bytes) -> tuple[bytes, str] | None:
    """The hashed bytes of a stored line and the hash it claims, or ``None`` when the
    line does not end with a ``"hash"`` key."""
    line = line.rstrip(b"\n")
    if len(line) <= _SUFFIX_LEN or not line.endswith(b'"}'):
        return None
    claimed = line[-66:-2]
    if line[-_SUFFIX_LEN:-66] != _HASH_KEY or not _HEX.fullmatch(claimed):
        return None
    return line[:-_SUFFIX_LEN] + b"}", claimed.decode()


def trail_files(path: Path) -> list[Path]:
    """The files of the trail at ``path``, oldest first (``path.N`` ... ``path.1``, ``path``);
    only those that exist."""
    rotated: list[tuple[int, Path]] = []
    if path.parent.is_dir():
        prefix = path.name + "."
        for candidate in path.parent.iterdir():
            suffix = candidate.name[len(prefix) :]
            if candidate.name.startswith(prefix) and suffix.isdigit() and suffix[0] != "0":
                rotated.append((int(suffix), candidate))
    files = [p for _, p in sorted(rotated, reverse=True)]
    if path.exists():
        files.append(path)
    return files


def head_path(path: Path) -> Path:
    """Where the ``seq``/``hash`` of the last stored record is kept."""
    return path.with_name(path.name + ".head")


def read_head(path: Path) -> tuple[int, str] | None:
    """The ``(seq, hash)`` the server last stored for the trail at ``path``, if known."""
    try:
        text = head_path(path).read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or not _HEX.fullmatch(parts[1].encode()):
        return None
    return int(parts[0]), parts[1]


def _lines(files: Iterable[Path]) -> Iterator[tuple[Path, int, bytes]]:
    for file in files:
        with file.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                yield file, number, raw


def read_records(
    path: Path,
    *,
    last: int | None = None,
    principal: str | None = None,
    outcome: str | None = None,
    kinds: tuple[str, ...] = ("call", "pending", "closing"),
) -> Iterator[dict[str, Any]]:
    """The stored records of the trail at ``path`` (all its files), oldest first,
    filtered; only the ``last`` N when given. File headers are left out by default.

    A line that is not a JSON object is skipped (``verify`` reports it). Raises
    ``FileNotFoundError`` when the trail has no file at all.
    """
    files = trail_files(path)
    if not files:
        raise FileNotFoundError(str(path))
    kept: deque[dict[str, Any]] = deque(maxlen=last) if last is not None else deque()
    for _, _, raw in _lines(files):
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if not isinstance(record, dict):
            continue
        if record.get("kind", "call") not in kinds:
            continue
        if principal is not None and record.get("principal") != principal:
            continue
        if outcome is not None and record.get("outcome") != outcome:
            continue
        kept.append(record)
    yield from kept


@dataclass(frozen=True, slots=True)
class Break:
    """The first bad record of a trail."""

    where: str
    """``file:line`` (or the location given to :func:`verify_lines`)."""
    seq: int | None
    """The record's ``seq`` when it could be read."""
    reason: str


@dataclass(slots=True)
class Verification:
    """What :func:`verify_lines` / :func:`verify_trail` found."""

    records: int = 0
    files: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    broken: Break | None = None
    open_intents: list[str] = field(default_factory=list)
    """``call_id`` of pending records without a call or closing record (yet)."""

    @property
    def ok(self) -> bool:
        """True when no record is bad."""
        return self.broken is None


def verify_lines(
    lines: Iterable[tuple[str, bytes]],
    *,
    file_starts: frozenset[str] | None = None,
    result: Verification | None = None,
) -> Verification:
    """Check a sequence of ``(location, line)`` against the chain; stops at the first bad one.

    ``file_starts`` are the locations that must hold a ``kind: "file"`` record (the first
    line of each file); ``None`` checks no file headers (a collector's stream). The first
    line is trusted as the anchor unless its ``seq`` is 0, whose ``prev`` must be zeros.
    """
    out = result if result is not None else Verification()
    prev_hash: str | None = out.last_hash
    prev_seq: int | None = out.last_seq
    open_intents: dict[str, None] = dict.fromkeys(out.open_intents)

    def bad(where: str, seq: int | None, reason: str) -> Verification:
        out.broken = Break(where, seq, reason)
        out.open_intents = list(open_intents)
        return out

    for where, raw in lines:
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return bad(where, None, "not a JSON record (torn or edited line)")
        if not isinstance(record, dict):
            return bad(where, None, "not a JSON object")
        seq = record.get("seq")
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        parts = unseal(raw)
        if parts is None or seq is None or not isinstance(record.get("prev"), str):
            return bad(where, seq, "no seq/prev/hash: not a chained record")
        unsealed, claimed = parts
        if hashlib.sha256(unsealed).hexdigest() != claimed or record.get("hash") != claimed:
            return bad(where, seq, "hash does not match the record (edited)")
        if file_starts is not None and (where in file_starts) != (record.get("kind") == "file"):
            reason = (
                "a file must start with its file record (first line removed?)"
                if where in file_starts
                else "a file record inside a file (lines removed or files mixed?)"
            )
            return bad(where, seq, reason)
        if prev_hash is None:
            if seq == 0 and record["prev"] != GENESIS:
                return bad(where, seq, "the first record's prev is not the genesis hash")
            out.first_seq = seq
        else:
            if record["prev"] != prev_hash:
                return bad(where, seq, "prev is not the hash of the record before (removed?)")
            if prev_seq is not None and seq != prev_seq + 1:
                return bad(where, seq, f"seq {seq} does not follow {prev_seq}")
        kind = record.get("kind")
        call_id = record.get("call_id")
        if kind == "pending" and isinstance(call_id, str):
            open_intents[call_id] = None
        elif kind == "closing" and isinstance(call_id, str):
            open_intents.pop(call_id, None)
        elif kind == "call":
            for call in record.get("calls") or []:
                if isinstance(call, dict) and isinstance(call.get("call_id"), str):
                    open_intents.pop(call["call_id"], None)
        prev_hash, prev_seq = claimed, seq
        out.records += 1
        out.last_seq, out.last_hash = seq, claimed
    out.open_intents = list(open_intents)
    return out


def verify_trail(path: Path) -> Verification:
    """Check every file of the trail at ``path`` (oldest first) and its head file.

    A trail a server is writing can be checked; a rotation during the check may show as a
    break (check again).

    Raises ``FileNotFoundError`` when the trail has no file at all.
    """
    head = read_head(path)  # before the files: a live server only moves it forward
    files = trail_files(path)
    if not files:
        raise FileNotFoundError(str(path))
    starts = frozenset(f"{file}:1" for file in files)
    last = [f"{files[-1]}:0"]
    counts: dict[Path, int] = {}

    def stream() -> Iterator[tuple[str, bytes]]:
        for file, number, raw in _lines(files):
            last[0] = f"{file}:{number}"
            counts[file] = number
            yield last[0], raw

    out = verify_lines(stream(), file_starts=starts)
    out.files = len(files)
    broken = out.broken
    if broken is not None:
        index = next((i for i, f in enumerate(files) if broken.where == f"{f}:1"), 0)
        if index > 0 and broken.reason.startswith("prev is not"):
            # The chain broke between two files: the missing lines were the end of the
            # file before (its last line is intact: it matched its own hash).
            before = files[index - 1]
            out.broken = Break(
                f"{before}:{counts.get(before, 0) + 1}",
                broken.seq,
                f"the last record(s) of {before.name} were removed",
            )
        return out
    if head is not None and out.last_seq is not None:
        head_seq, head_hash = head
        file, _, number = last[0].rpartition(":")
        after = f"{file}:{int(number) + 1}"
        if head_seq > out.last_seq:
            out.broken = Break(
                after,
                out.last_seq + 1,
                f"the server stored up to seq {head_seq}, the trail ends at seq "
                f"{out.last_seq} (per {head_path(path).name}): records were removed from its end",
            )
        elif head_seq == out.last_seq and head_hash != out.last_hash:
            out.broken = Break(
                last[0], head_seq, "the last record is not the one the server stored (edited)"
            )
    return out
