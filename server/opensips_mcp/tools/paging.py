"""Bounded output for tools: pages, opaque cursors, short-lived snapshots, a size budget.

Every list tool takes ``limit`` (default 50, at most 500) and ``cursor`` (the
``next_cursor`` of the previous page) and answers with :class:`PageInfo` fields: how
many items it returned, the total when known, and the next cursor (``null`` on the last
page). No tool result exceeds :data:`RESULT_LIMIT` bytes: a page stops early when its
items would pass :data:`ITEMS_BUDGET` (``size_limited`` is then true and the cursor
continues right after the last item returned).

Two ways to page, chosen per tool:

* **native**: the MI command pages itself (``dlg_list`` with ``index``/``counter``); the
  cursor carries the position, nothing is kept here;
* **snapshot**: the MI command answers everything at once (``ul_dump``,
  ``profile_get_values``). The first page fetches it once, applies the filters and keeps
  the matching items in a :class:`SnapshotStore` (bounded in items and count, idle TTL);
  later pages read from it by an opaque cursor. An expired snapshot is reported in the
  page (``snapshot_expired``) so the agent restarts from the first page.

A cursor is bound to the tool, the filters and the caller that made it: reusing it with
other filters is refused (``invalid_params``), nothing is sent to OpenSIPS.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import json
import logging
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from opensips_mcp import errors
from opensips_mcp.errors import ErrorCode, MCPToolError
from opensips_mcp.runtime import Runtime
from opensips_mcp.tools.untrusted import Output

logger = logging.getLogger("opensips_mcp.tools")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
RESULT_LIMIT = 64 * 1024
"""The most bytes one tool result may take (structured content plus its text copy)."""
ITEMS_BUDGET = 28_000
"""Bytes of items one page may carry: the structured content is sent twice (as
``structuredContent`` and as its JSON text), so each copy must stay under half of
:data:`RESULT_LIMIT`, envelope included."""

SNAPSHOT_IDLE_TTL = 120.0
"""Seconds a snapshot lives after its last page was read."""
SNAPSHOT_MAX_AGE = 600.0
"""Seconds a snapshot lives at most, however often it is read."""
SNAPSHOT_MAX_ITEMS = 250_000
"""Items all snapshots of one server may hold together (oldest evicted first)."""
SNAPSHOT_MAX_COUNT = 8
"""Snapshots one server may hold together (oldest evicted first)."""

Limit = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_LIMIT,
        description="Most items to return (1-500). A page holds fewer when it would "
        "exceed 64 KB; follow next_cursor for the rest.",
    ),
]
Cursor = Annotated[
    str | None,
    Field(
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="next_cursor of the previous page; omit for the first page. "
        "Keep the same filters while paging.",
    ),
]


class PageInfo(Output):
    """Where a page stands in the whole list."""

    returned: int = Field(description="Items in this page.")
    total: int | None = Field(
        description="Items matching the filters in the whole list, when known."
    )
    next_cursor: str | None = Field(
        description="Pass as cursor to get the next page; null on the last page."
    )
    size_limited: bool = Field(
        default=False,
        description="True when the page stopped before limit to stay under 64 KB.",
    )
    notice: str | None = Field(
        default=None, description="What to do next, when something needs attention."
    )


# --- cursors ------------------------------------------------------------------------------


def filter_key(**filters: Any) -> str:
    """A short digest of the filters a cursor was made with."""
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(kind: str, **fields: Any) -> str:
    """An opaque cursor for tool ``kind`` carrying ``fields`` (JSON values)."""
    raw = json.dumps({"k": kind, **fields}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def bad_cursor(why: str) -> MCPToolError:
    """The error for a cursor that cannot be used (nothing was sent to OpenSIPS)."""
    return errors.tool_error(
        ErrorCode.INVALID_PARAMS,
        f"The cursor {why}. Call again without cursor to start from the first page.",
    )


def decode_cursor(cursor: str, kind: str, key: str) -> dict[str, Any]:
    """The fields of a cursor made by :func:`encode_cursor` for ``kind`` with filters
    ``key``; raises ``invalid_params`` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_cursor("is not one this server made") from None
    if not isinstance(data, dict) or data.get("k") != kind:
        raise bad_cursor("belongs to another tool")
    if data.get("f") != key:
        raise bad_cursor("was made with other filters")
    return data


# --- snapshots ----------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Items fetched once and kept for paging."""

    id: str
    owner: str
    kind: str
    key: str
    items: Sequence[Any]
    taken_at: float
    """Monotonic time of the fetch."""
    taken_wall: float
    """Epoch time of the fetch (for the agent)."""
    read_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def age(self, now: float) -> float:
        """Seconds since the fetch."""
        return now - self.taken_at


class SnapshotStore:
    """Snapshots of one server, bounded in count and items, expiring when idle."""

    def __init__(
        self,
        *,
        idle_ttl: float = SNAPSHOT_IDLE_TTL,
        max_age: float = SNAPSHOT_MAX_AGE,
        max_items: int = SNAPSHOT_MAX_ITEMS,
        max_count: int = SNAPSHOT_MAX_COUNT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_ttl = idle_ttl
        self.max_age = max_age
        self.max_items = max_items
        self.max_count = max_count
        self.clock = clock
        self._snapshots: OrderedDict[str, Snapshot] = OrderedDict()

    def __len__(self) -> int:
        return len(self._snapshots)

    @property
    def items_held(self) -> int:
        """Items held by all snapshots together."""
        return sum(len(s.items) for s in self._snapshots.values())

    def put(
        self,
        owner: str,
        kind: str,
        key: str,
        items: Sequence[Any],
        extra: dict[str, Any] | None = None,
    ) -> Snapshot | None:
        """Keep ``items``; ``None`` when they alone exceed the item bound (not kept)."""
        if len(items) > self.max_items:
            return None
        self._expire()
        while self._snapshots and (
            len(self._snapshots) >= self.max_count or self.items_held + len(items) > self.max_items
        ):
            self._snapshots.popitem(last=False)
        now = self.clock()
        snapshot = Snapshot(
            id=secrets.token_urlsafe(12),
            owner=owner,
            kind=kind,
            key=key,
            items=items,
            taken_at=now,
            taken_wall=time.time(),
            read_at=now,
            extra=dict(extra or {}),
        )
        self._snapshots[snapshot.id] = snapshot
        return snapshot

    def get(self, snapshot_id: str, owner: str, kind: str, key: str) -> Snapshot | None:
        """The live snapshot ``snapshot_id`` of ``owner``, or ``None`` (expired, evicted,
        or never made for this caller, tool and filters)."""
        self._expire()
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None or (snapshot.owner, snapshot.kind, snapshot.key) != (owner, kind, key):
            return None
        snapshot.read_at = self.clock()
        self._snapshots.move_to_end(snapshot_id)
        return snapshot

    def drop(self, snapshot_id: str) -> None:
        """Forget a snapshot (its last page was read)."""
        self._snapshots.pop(snapshot_id, None)

    def _expire(self) -> None:
        now = self.clock()
        dead = [
            sid
            for sid, s in self._snapshots.items()
            if now - s.read_at > self.idle_ttl or now - s.taken_at > self.max_age
        ]
        for sid in dead:
            del self._snapshots[sid]


_STORES: weakref.WeakKeyDictionary[Runtime, SnapshotStore] = weakref.WeakKeyDictionary()


def snapshots_of(runtime: Runtime) -> SnapshotStore:
    """The snapshot store of the server whose runtime is ``runtime``."""
    store = _STORES.get(runtime)
    if store is None:
        store = _STORES[runtime] = SnapshotStore()
    return store


# --- size budget --------------------------------------------------------------------------


def json_size(item: BaseModel | Mapping[str, Any]) -> int:
    """Bytes of ``item`` (a model, or a plain dict of JSON values) as compact JSON."""
    if isinstance(item, BaseModel):
        return len(item.model_dump_json(by_alias=True).encode())
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())


class Budget:
    """Counts the bytes of items added to a page; the first item always fits."""

    def __init__(self, limit: int = ITEMS_BUDGET) -> None:
        self.limit = limit
        self.left = limit
        self.taken = 0

    @classmethod
    def after(cls, *parts: BaseModel) -> Budget:
        """The budget left for a page's items once ``parts`` (e.g. summaries sent with
        it) are counted."""
        return cls(max(ITEMS_BUDGET // 4, ITEMS_BUDGET - sum(json_size(p) for p in parts)))

    def take(self, item: BaseModel | Mapping[str, Any]) -> bool:
        """Add ``item`` if it fits (separator included); False when the page is full."""
        size = json_size(item) + 1
        if self.taken and size > self.left:
            return False
        self.left -= size
        self.taken += 1
        return True

    @property
    def average(self) -> int:
        """Average item size so far (a guess of 300 bytes before the first)."""
        used = self.limit - self.left
        return used // self.taken if self.taken else 300


def respond(model: BaseModel) -> CallToolResult:
    """The tool result for ``model``: structured content plus the same JSON, compact, as
    text (for clients that read only text). Raises ``internal_error`` (a bug: every tool
    bounds its output) rather than send more than :data:`RESULT_LIMIT` bytes."""
    return respond_json(model.model_dump(mode="json", by_alias=True), type(model).__name__)


def respond_json(data: dict[str, Any], kind: str) -> CallToolResult:
    """:func:`respond` for structured content already in its JSON form (``data``: what
    ``model_dump(mode="json", by_alias=True)`` of the tool's output model gives; the SDK
    still validates it against that model before it is sent). ``kind`` names the output
    model in the log when the result is refused."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    size = 2 * len(text.encode()) + 512
    if size > RESULT_LIMIT:
        logger.error("%s result of %d bytes refused (limit %d)", kind, size, RESULT_LIMIT)
        raise errors.internal_error()
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


# --- snapshot paging ----------------------------------------------------------------------

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel | Mapping[str, Any])

EXPIRED_NOTICE = (
    "The snapshot behind this cursor expired (snapshots live {ttl:.0f} s after the last "
    "page read). Call again without cursor to start from the first page."
)
STALE_NOTICE = (
    "This page comes from a snapshot taken {age:.0f} s ago: changes since then are not "
    "shown. Call again without cursor for fresh data."
)
TOO_LARGE_NOTICE = (
    "Too many items to keep for paging ({total}); only the first page is shown. Narrow "
    "the list with filters."
)


@dataclass
class PageResult(Generic[M]):
    """One page of models and what the page info should say."""

    items: list[M]
    total: int | None
    next_cursor: str | None
    size_limited: bool
    notice: str | None = None
    snapshot: Snapshot | None = None
    expired: bool = False


def take_page(
    raw: Sequence[T],
    start: int,
    limit: int,
    build: Callable[[T], M],
    budget: Budget | None = None,
) -> tuple[list[M], int, bool]:
    """Items built from ``raw[start:]`` (models, or dicts the page model validates),
    at most ``limit`` and within ``budget``.

    Returns the models, the index after the last one taken, and whether the budget
    (not ``limit`` or the end) stopped the page.
    """
    budget = budget or Budget()
    out: list[M] = []
    index = start
    while index < len(raw) and len(out) < limit:
        model = build(raw[index])
        if not budget.take(model):
            return out, index, True
        out.append(model)
        index += 1
    return out, index, False


class SnapshotPager:
    """Pages of a list fetched once (see the module docstring).

    ``kind`` names the tool, ``key`` its filters (:func:`filter_key`), ``owner`` the
    caller; a cursor only works for the same three.
    """

    def __init__(self, runtime: Runtime, owner: str, kind: str, key: str) -> None:
        self.store = snapshots_of(runtime)
        self.owner = owner
        self.kind = kind
        self.key = key

    def resume(self, cursor: str) -> tuple[Snapshot, int] | None:
        """The snapshot and offset a cursor points at; ``None`` when it expired.
        Raises ``invalid_params`` for a cursor of another tool or other filters."""
        data = decode_cursor(cursor, self.kind, self.key)
        snapshot_id, offset = data.get("s"), data.get("o")
        if not isinstance(snapshot_id, str) or not isinstance(offset, int) or offset < 0:
            raise bad_cursor("is not one this server made")
        snapshot = self.store.get(snapshot_id, self.owner, self.kind, self.key)
        if snapshot is None:
            return None
        return snapshot, offset

    def expired(self) -> PageResult[Any]:
        """The page to answer for an expired cursor: empty, with what to do."""
        return PageResult(
            items=[],
            total=None,
            next_cursor=None,
            size_limited=False,
            notice=EXPIRED_NOTICE.format(ttl=self.store.idle_ttl),
            expired=True,
        )

    def page(
        self,
        raw: Sequence[T],
        start: int,
        limit: int,
        build: Callable[[T], M],
        snapshot: Snapshot | None = None,
        extra: dict[str, Any] | None = None,
    ) -> PageResult[M]:
        """A page of ``raw`` from ``start``; keeps ``raw`` as a snapshot when more pages
        follow and it is not one already."""
        items, end, cut = take_page(raw, start, limit, build)
        notice: str | None = None
        next_cursor: str | None = None
        if end < len(raw):
            if snapshot is None:
                snapshot = self.store.put(self.owner, self.kind, self.key, raw, extra)
            if snapshot is None:
                notice = TOO_LARGE_NOTICE.format(total=len(raw))
            else:
                next_cursor = encode_cursor(self.kind, f=self.key, s=snapshot.id, o=end)
        if snapshot is not None and notice is None:
            age = snapshot.age(self.store.clock())
            if age > self.store.idle_ttl / 2:
                notice = STALE_NOTICE.format(age=age)
        return PageResult(
            items=items,
            total=len(raw),
            next_cursor=next_cursor,
            size_limited=cut,
            notice=notice,
            snapshot=snapshot,
        )


def offset_start(cursor: str | None, kind: str, key: str) -> int:
    """Where an :func:`offset_page` cursor points; check it before fetching anything
    (a bad cursor raises ``invalid_params``)."""
    if cursor is None:
        return 0
    offset = decode_cursor(cursor, kind, key).get("o")
    if not isinstance(offset, int) or offset < 0:
        raise bad_cursor("is not one this server made")
    return offset


def offset_page(
    raw: Sequence[T],
    start: int,
    kind: str,
    key: str,
    limit: int,
    build: Callable[[T], M],
    budget: Budget | None = None,
) -> PageResult[M]:
    """A page of a small list that is read again for every page (dispatcher, load
    balancer, drouting): ``start`` comes from :func:`offset_start`. Positions only move
    when the table is reloaded or changed, so a walk across such a change may skip or
    repeat an entry."""
    items, end, cut = take_page(raw, start, limit, build, budget)
    return PageResult(
        items=items,
        total=len(raw),
        next_cursor=encode_cursor(kind, f=key, o=end) if end < len(raw) else None,
        size_limited=cut,
    )


# --- seek paging (stateless replicas) -------------------------------------------------------

SEEK_NOTICE = (
    "Stateless paging: each page reads the list again and continues after the last item "
    "returned, so changes made while paging show up (total is this read's count)."
)


class SeekPager:
    """Pages of a list read again for every page, for servers that keep no state between
    requests (``--stateless``: several replicas behind a load balancer).

    Items are ordered by ``sort_key``; the cursor carries the key of the last item
    returned, so any replica continues the walk where it stopped, and an item removed
    meanwhile cannot shift the position (no item is skipped or repeated because of it).
    """

    def __init__(self, kind: str, key: str, sort_key: Callable[[Any], Sequence[str | int]]) -> None:
        self.kind = kind
        self.key = key
        self.sort_key = sort_key

    def after(self, cursor: str | None) -> list[str | int] | None:
        """The key a cursor continues after (``None``: the first page); raises
        ``invalid_params`` for a cursor of another tool, other filters or a snapshot."""
        if cursor is None:
            return None
        data = decode_cursor(cursor, self.kind, self.key)
        position = data.get("a")
        if not isinstance(position, list) or not all(
            isinstance(p, str | int) and not isinstance(p, bool) for p in position
        ):
            raise bad_cursor("was not made by a stateless server (restart paging)")
        return position

    def page(
        self,
        raw: Sequence[T],
        after: Sequence[str | int] | None,
        limit: int,
        build: Callable[[T], M],
    ) -> PageResult[M]:
        """The page of ``raw`` (sorted here) that starts after ``after``."""
        keyed = sorted(((list(self.sort_key(item)), item) for item in raw), key=lambda p: p[0])
        keys = [k for k, _ in keyed]
        start = 0 if after is None else bisect.bisect_right(keys, list(after))
        items, end, cut = take_page([item for _, item in keyed], start, limit, build)
        next_cursor = (
            encode_cursor(self.kind, f=self.key, a=keyed[end - 1][0])
            if end < len(keyed) and end > start
            else None
        )
        return PageResult(
            items=items,
            total=len(raw),
            next_cursor=next_cursor,
            size_limited=cut,
            notice=SEEK_NOTICE if after is not None else None,
        )
