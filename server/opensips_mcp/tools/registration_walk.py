"""Registrations read AOR by AOR, for a usrloc too large for one ``ul_dump`` answer.

``ul_dump`` answers the whole table in one MI reply, and a large registrar's reply does
not fit the transport: mi_http answers HTTP 500 without a body when the reply exceeds
httpd's ``buf_size`` (a quarter of pkg memory), and mi_datagram cannot send a reply over
one datagram (65,457 bytes). Measured on a real 3.6.8 with 30,000 contacts (pkg memory
32 MB): the full dump (9.6 MB, ~330 bytes per contact) fails over mi_http and
mi_datagram; ``ul_dump`` with ``brief`` (the AOR names only: 720 KB) is answered over
mi_http and mi_fifo, and over mi_datagram up to ~2,600 AORs.

So when the full dump is too large, :func:`registrations_list` lists the AOR names with
``ul_dump brief``, keeps those of the table that match ``aor_prefix``, sorted, and reads
the contacts of each AOR with ``ul_show_contact``, at most :data:`AORS_PER_PAGE` AORs per
page. AORs come in name order and an AOR's contacts in contact order, so a position is
(AOR index, last contact returned of that AOR) and any page can continue where the last
one stopped, also on a stateless replica, which finds the AOR again by name.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opensips_mcp.errors import ErrorCode, MCPToolError, tool_error
from opensips_mcp.runtime import ToolCall
from opensips_mcp.tools.paging import Budget
from opensips_mcp.tools.parsing import dicts

AORS_PER_PAGE = 200
"""AORs read (one ``ul_show_contact`` each) at most for one page: ~30 ms of MI on a real
3.6.8, and the page's audit record lists each read."""

NOTICE = (
    "This OpenSIPS cannot send all its registrations in one MI answer (too large for the "
    "transport), so they are read AOR by AOR, in AOR order: {aors} AORs match table and "
    "aor_prefix. total is not known and a page may hold fewer than limit contacts; pass "
    "next_cursor to go on."
)

Row = tuple[Any, ...]
"""A contact as :mod:`opensips_mcp.tools.registrations` keeps it: ``row[1]`` is the AOR,
``row[2]`` the contact URI."""


@dataclass
class Walked:
    """One page of a walk."""

    items: list[dict[str, Any]]
    next: tuple[int, str | None] | None
    """Where the next page starts: the AOR's index and the last contact of that AOR
    already returned (``None``: none yet); ``None`` when the walk is over."""
    size_limited: bool


async def matching_aors(
    call: ToolCall, table: str, prefix: str | None, too_large: MCPToolError
) -> list[str]:
    """The AORs of ``table`` that start with ``prefix`` (case-insensitive), sorted, from
    ``ul_dump`` with ``brief``. When even that answer is too large for the transport,
    raises the error that says what still works (``too_large``: the full dump's error)."""
    try:
        answer = await call.mi("ul_dump", {"brief": 1})
    except MCPToolError as exc:
        if not exc.answer_too_large:
            raise
        raise tool_error(
            ErrorCode.BAD_RESPONSE,
            f"OpenSIPS cannot send its registrations over this MI transport: neither the full "
            f"ul_dump nor its AOR list (ul_dump brief) fits in one answer. It is a read: "
            f"nothing changed. registrations_list with aor reads one AOR; to list them all, "
            f"use an mi_fifo URL for this instance (or mi_http with a larger httpd buf_size). "
            f"The full dump's error: {too_large.text}",
            answer_too_large=True,
        ) from None
    folded = prefix.casefold() if prefix else None
    names: list[str] = []
    for record in table_records(answer.result, table):
        aor = record.get("AOR")
        if isinstance(aor, str) and (folded is None or aor.casefold().startswith(folded)):
            names.append(aor)
    names.sort()
    return names


def table_records(dump: Any, table: str) -> Iterator[Mapping[str, Any]]:
    """The AOR records of usrloc table ``table`` in a ``ul_dump`` answer, which holds every
    table (brief or not)."""
    for domain in dicts(dump, "Domains"):
        if str(domain.get("name", "")) == table:
            yield from dicts(domain, "AORs")


def seek_start(aors: Sequence[str], after: Sequence[str | int] | None) -> tuple[int, str | None]:
    """The walk position just after the (AOR, contact) key ``after`` of a stateless
    cursor (``None``: the start)."""
    if after is None or len(after) != 2:
        return 0, None
    aor, contact = str(after[0]), str(after[1])
    index = bisect.bisect_left(aors, aor)
    if index < len(aors) and aors[index] == aor:
        return index, contact
    return index, None


async def walk(
    aors: Sequence[str],
    start: tuple[int, str | None],
    limit: int,
    read_aor: Callable[[str], Awaitable[list[Row]]],
    match: Callable[[Row], bool],
    build: Callable[[Row], dict[str, Any]],
) -> Walked:
    """The contacts from ``start`` on: at most ``limit`` items, within the page's size
    budget, reading at most :data:`AORS_PER_PAGE` AORs (``read_aor``: an AOR's rows, empty
    when it is gone since the AORs were listed)."""
    budget = Budget()
    items: list[dict[str, Any]] = []
    index, after = start
    reads = 0
    while index < len(aors) and reads < AORS_PER_PAGE and len(items) < limit:
        rows = sorted(await read_aor(aors[index]), key=lambda row: str(row[2]))
        reads += 1
        for row in rows:
            contact = str(row[2])
            if after is not None and contact <= after:
                continue
            if not match(row):
                continue
            if len(items) >= limit:
                return Walked(items, (index, after), size_limited=False)
            item = build(row)
            if not budget.take(item):
                return Walked(items, (index, after), size_limited=True)
            items.append(item)
            after = contact
        index, after = index + 1, None
    return Walked(items, (index, None) if index < len(aors) else None, size_limited=False)
