"""Every recipe through ``mi_execute``, against a live server, over each of its transports:
no call may end in an error that means "we do not know what happened".

    OPENSIPS_MI_URL=http://127.0.0.1:8890/mi python -m conformance.sweep   # or make sweep
    python -m conformance.sweep --mi-url http://... --mi-url fifo://...?reply_dir=/tmp/

As an admin (no confirmation), every command of the server's version's catalog is called
with each of its recipes, named and positional, the values taken in turn from
:data:`VALUES` (empty, long, NUL, a lone surrogate, wrong types...). A call may succeed or
fail with any stable code that says what happened (``opensips_error``,
``invalid_params``, ``request_too_large``, ...). It fails the sweep when it ends in one of
:data:`UNKNOWING` (a bug here, or a server behaviour this project does not know yet) or in
a text without a code. Commands that would stop or block a lab are never sent
(:data:`SKIP`). Found this way on real 3.4.18, 3.6.8 and 4.0.1 (2026-12-04): mi_http's
request limits, the NUL/lone-surrogate parse errors, mi_datagram's and mi_fifo's answers to
them.

URLs: ``--mi-url`` (repeatable), else ``OPENSIPS_MI_URL`` plus, when set,
``OPENSIPS_MI_FIFO`` and ``OPENSIPS_MI_DATAGRAM`` (as ``make lab`` writes them). The calls
change a lab's state only where junk values are accepted: run it last on a lab.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.types import CallToolResult

from conformance.differential import impersonated_version
from conformance.harness import ToolOutcome
from conformance.oracle import NEVER_SEND
from conformance.strategies import BLOCKS_A_LAB
from opensips_mcp.catalog import AccessLevel, load_catalog
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.mi import MIClient, MISettings
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings

SKIP = frozenset(NEVER_SEND) | frozenset(BLOCKS_A_LAB)
UNKNOWING = frozenset({"internal_error", "timeout", "outcome_unknown", "unreachable"})
VALUES: tuple[Callable[[str], Any], ...] = (
    lambda _: "1",
    lambda _: 0,
    lambda _: "",
    lambda _: "x" * 300,
    lambda _: [1, "a"],
    lambda _: {"a": 1},
    lambda _: None,
    lambda _: -1,
    lambda _: 3.5,
    lambda _: "\u00e9\u0000\n",
    lambda _: "\ud800",
)


def calls(version: str) -> list[tuple[str, Any]]:
    """(command as the version names it, params) of the sweep."""
    catalog = load_catalog().for_version(version)
    out: list[tuple[str, Any]] = []
    for entry in catalog.entries():
        name = catalog.send_name(entry)
        if entry.name in SKIP or name in SKIP:
            continue
        for recipe in entry.recipes:
            if not recipe.params:
                out.append((name, None))
                continue
            for value in VALUES:
                named = {param: value(param) for param in recipe.params}
                out.append((name, named))
                out.append((name, list(named.values())))
    return out


def code_of(result: CallToolResult) -> str:
    """``ok`` or the stable code of a failed call (``no code`` if it has none)."""
    code = ToolOutcome.of(result).code
    if code is None:
        return "ok"
    return "no code" if code.startswith("<no code") else code


async def server_version(url: str) -> str:
    """The catalogued version the server at ``url`` answers ``version`` as."""
    async with MIClient(MISettings(url=url)) as mi:
        answer = await mi.call("version", None, level=AccessLevel.READ)
    return impersonated_version(answer.result)


async def sweep(url: str, version: str, limit: int | None = None) -> tuple[Counter[str], list[str]]:
    """Run the sweep over ``url``: counts per code, and the failing calls described."""
    codes: Counter[str] = Counter()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sweep-") as directory:
        settings = Settings(
            mi_url=url,
            role=Role.ADMIN,
            principal="sweep",
            audit_log=Path(directory) / "audit.jsonl",
            confirm=ConfirmPolicy.NONE,
            mi_read_timeout=5.0,
            mi_total_timeout=10.0,
            opensips_version=version,
            log_level="ERROR",
        )
        async with Client(build_server(settings)) as client:
            for command, params in calls(version)[:limit]:
                result = await client.call_tool(
                    "mi_execute", {"command": command, "params": params}
                )
                code = code_of(result)
                codes[code] += 1
                if code in UNKNOWING or code == "no code":
                    failures.append(f"{command} {str(params)[:80]}: {code}")
    return codes, failures


def default_urls() -> list[str]:
    """``OPENSIPS_MI_URL`` and, when set, the lab's FIFO and datagram socket."""
    urls = [os.environ.get("OPENSIPS_MI_URL", "").strip()]
    fifo = os.environ.get("OPENSIPS_MI_FIFO", "").strip()
    if fifo:
        urls.append(f"fifo://{fifo}?reply_dir=/tmp/")
    datagram = os.environ.get("OPENSIPS_MI_DATAGRAM", "").strip()
    if datagram:
        urls.append(f"unix://{datagram}" if datagram.startswith("/") else f"udp://{datagram}")
    return [url for url in urls if url]


def main(argv: list[str] | None = None) -> int:
    """Sweep every URL; 0 when no call ended without knowing what happened."""
    parser = argparse.ArgumentParser(prog="python -m conformance.sweep", description=__doc__)
    parser.add_argument("--mi-url", action="append", default=None)
    parser.add_argument("--limit", type=int, default=None, help="only the first N calls")
    args = parser.parse_args(argv)
    urls = args.mi_url or default_urls()
    if not urls:
        print("sweep: set OPENSIPS_MI_URL (e.g. make lab) or --mi-url", file=sys.stderr)
        return 2
    version = asyncio.run(server_version(urls[0]))
    failed = 0
    for url in urls:
        started = time.monotonic()
        codes, failures = asyncio.run(sweep(url, version, args.limit))
        took = time.monotonic() - started
        print(f"sweep {url} (OpenSIPS {version}): {sum(codes.values())} calls in {took:.0f} s:")
        print("  " + ", ".join(f"{code} {n}" for code, n in codes.most_common()))
        for line in failures[:10]:
            print(f"  FAILED {line}")
        failed += len(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
