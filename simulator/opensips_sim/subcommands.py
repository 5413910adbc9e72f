"""``opensips-sim proxy`` and ``opensips-sim snapshot``: the simulator's tools for a real
OpenSIPS.

    opensips-sim proxy --upstream http://127.0.0.1:8990/mi [--host H] [--port P]
                       [--faults FILE] [--seed N] [--idle-timeout S] [--no-quirks]
    opensips-sim snapshot --mi-url http://127.0.0.1:8990/mi -o scenario.json

``proxy`` serves the MI path and the control API (``/sim/...``) in front of the upstream
(``proxy.py``) and prints ``opensips-sim proxy listening on http://H:P/mi (upstream URL)``.
``snapshot`` writes the live server's state as a scenario (``snapshot.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .faults import FaultError, load_rules_file
from .proxy import ProxySimulator
from .simulator import Settings
from .snapshot import read_scenario
from .upstream import Upstream, UpstreamCallError, UpstreamError
from .wire import WireServer

COMMANDS = ("proxy", "snapshot")


def build_parser() -> argparse.ArgumentParser:
    """The parser of both subcommands."""
    parser = argparse.ArgumentParser(prog="opensips-sim")
    sub = parser.add_subparsers(dest="command", required=True)
    proxy = sub.add_parser("proxy", help="control API, faults and journal before a real OpenSIPS")
    proxy.add_argument("--upstream", required=True, help="the real MI URL (http://host:port/mi)")
    proxy.add_argument("--host", default="127.0.0.1", help="address to listen on")
    proxy.add_argument("--port", type=int, default=0, help="port (0: pick a free one)")
    proxy.add_argument("--faults", metavar="FILE", help="JSON file of fault rules")
    proxy.add_argument("--seed", type=int, default=0, help="seed of the fault rules' draws")
    proxy.add_argument("--idle-timeout", type=float, default=30.0, help="idle close after SEC")
    proxy.add_argument("--upstream-timeout", type=float, default=10.0, help="per request, SEC")
    proxy.add_argument(
        "--no-quirks", action="store_true", help="send the end of empty-body replies at once"
    )
    snap = sub.add_parser("snapshot", help="read a live OpenSIPS into a scenario file")
    snap.add_argument("--mi-url", required=True, help="the MI URL (http://host:port/mi)")
    snap.add_argument("-o", "--output", required=True, help="scenario file to write ('-': stdout)")
    snap.add_argument("--name", default="snapshot", help="the scenario's name")
    return parser


async def run_proxy(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    rules = load_rules_file(args.faults) if args.faults else []
    upstream = Upstream(args.upstream, timeout=args.upstream_timeout)
    proxy = ProxySimulator(
        upstream,
        seed=args.seed,
        settings=Settings(quirks=not args.no_quirks, idle_timeout=args.idle_timeout),
    )
    proxy.faults.extend(rules)
    await proxy.start()
    server = WireServer(proxy)
    port = await server.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(
        f"opensips-sim proxy listening on http://{args.host}:{port}/mi ({args.upstream})",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await server.close()
        await upstream.close()
    return 0


async def _read(mi_url: str, name: str) -> dict[str, object]:
    upstream = Upstream(mi_url)
    try:
        return await read_scenario(upstream, name=name)
    finally:
        await upstream.close()


def run_snapshot(args: argparse.Namespace) -> int:
    """Read the server once and write the scenario."""
    scenario = asyncio.run(_read(args.mi_url, args.name))
    text = json.dumps(scenario, indent=1, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, "utf-8")
        sections = ", ".join(k for k in scenario if k not in ("name", "description"))
        print(f"opensips-sim snapshot: {args.output} ({sections})", file=sys.stderr)
    return 0


def main(argv: Sequence[str]) -> int:
    """Run ``proxy`` or ``snapshot``."""
    args = build_parser().parse_args(list(argv))
    try:
        if args.command == "snapshot":
            return run_snapshot(args)
        return asyncio.run(run_proxy(args))
    except (UpstreamError, UpstreamCallError, FaultError, OSError, ValueError) as exc:
        print(f"opensips-sim {args.command}: {exc}", file=sys.stderr)
        return 2
