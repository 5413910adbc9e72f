"""``opensips-sim``: run the simulated OpenSIPS MI endpoint.

    opensips-sim --host 127.0.0.1 --port 8888 --scenario lively --seed 1 [--faults FILE]
                 [--no-quirks] [--idle-timeout 30] [--receive-buf-size 1024] [--buf-size N]
                 [--frozen-clock EPOCH] [--banner] [--nodes N]
    opensips-sim proxy --upstream URL ...     (fault proxy before a real OpenSIPS)
    opensips-sim snapshot --mi-url URL -o F   (a live OpenSIPS as a scenario)

Prints ``opensips-sim listening on http://HOST:PORT/mi`` (port 0 picks a free one) and, with
``--banner``, how to point the MCP server, Claude Desktop and the MCP Inspector at it.
With ``--nodes N``, serves N nodes of one clusterer cluster on ports PORT..PORT+N-1 (see
``cluster.py``) and, with ``--banner``, prints a configuration naming every node as an
instance. Stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, scenarios, subcommands
from .clock import Clock
from .cluster import SimulatedCluster
from .faults import FaultError, load_rules_file
from .simulator import Settings, Simulator
from .streams import start_streams
from .wire import WireServer

INSPECTOR = "npx -y @modelcontextprotocol/inspector@2.12.0 --cli"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(
        prog="opensips-sim",
        description="A stateful fake OpenSIPS 3.6 MI endpoint (JSON-RPC over HTTP) with a "
        "control API under /sim and fault injection.",
    )
    parser.add_argument("--version", action="version", version=f"opensips-sim {__version__}")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8888, help="port (0: pick a free one)")
    parser.add_argument(
        "--scenario",
        default="quiet",
        help=f"built-in ({', '.join(scenarios.builtin_names())}) or a JSON file",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    parser.add_argument("--faults", metavar="FILE", help="JSON file of fault rules")
    parser.add_argument(
        "--no-quirks",
        action="store_true",
        help="send the end of empty-body replies at once (real mi_http holds it back)",
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=30.0, help="close idle connections after SEC"
    )
    parser.add_argument(
        "--cost-scale",
        type=float,
        default=0.0,
        help="hold the MI for each command's cost x SCALE s (1: real-like, t_hash ~24 s; "
        "0: instant, the default)",
    )
    parser.add_argument(
        "--receive-buf-size",
        type=int,
        default=1024,
        metavar="BYTES",
        help="httpd's receive_buf_size (3.5+ personas): a larger request body is answered "
        "400 unread, as real OpenSIPS does (default 1024, OpenSIPS's own)",
    )
    parser.add_argument(
        "--buf-size",
        type=int,
        default=None,
        metavar="BYTES",
        help="httpd's buf_size: a larger answer is answered 500 without a body after the "
        "command ran, as real mi_http does (default: no bound)",
    )
    parser.add_argument(
        "--frozen-clock",
        type=float,
        metavar="EPOCH",
        help="freeze the clock at EPOCH (then only POST /sim/clock moves it)",
    )
    parser.add_argument(
        "--opensips-version",
        default="3.6.8",
        choices=("3.4.18", "3.6.8", "4.0.1"),
        help="the OpenSIPS version to impersonate: its version, which, names, aliases, "
        "ambiguous names and usrloc use_domain default (default 3.6.8)",
    )
    parser.add_argument(
        "--banner", action="store_true", help="print how to connect the MCP server to it"
    )
    parser.add_argument(
        "--fifo", metavar="PATH", help="also serve MI on a FIFO at PATH, as mi_fifo"
    )
    parser.add_argument(
        "--fifo-reply-dir",
        metavar="DIR",
        default="/tmp/",
        help="where FIFO replies go, as mi_fifo's reply_dir (default: %(default)s)",
    )
    parser.add_argument(
        "--udp", type=int, metavar="PORT", help="also serve MI on UDP PORT, as mi_datagram"
    )
    parser.add_argument(
        "--unix", metavar="PATH", help="also serve MI on a unix datagram socket, as mi_datagram"
    )
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="serve N nodes of one clusterer cluster on ports PORT..PORT+N-1",
    )
    return parser


def mcp_command() -> str:
    """The ``opensips-mcp`` script installed beside this interpreter (absolute, so the
    printed lines work outside the virtualenv), else the bare name."""
    sibling = Path(sys.executable).parent / "opensips-mcp"
    return str(sibling.absolute()) if sibling.exists() else "opensips-mcp"


def banner(url: str, control_url: str) -> str:
    """How to start the MCP server, Claude Desktop and the MCP Inspector against ``url``."""
    serve = ["serve", "--mi-url", url, "--role", "operator"]
    command = mcp_command()
    desktop = {"mcpServers": {"opensips": {"command": command, "args": serve}}}
    return "\n".join(
        [
            f"control API: {control_url}",
            "",
            "MCP server against it:",
            f"  {command} " + " ".join(serve),
            "",
            "Claude Desktop (claude_desktop_config.json):",
            "  " + json.dumps(desktop),
            "",
            "MCP Inspector:",
            f"  {INSPECTOR} {command} {' '.join(serve)} --method tools/list",
        ]
    )


def fleet_banner(urls: dict[int, str], config_path: str = "opensips-mcp.toml") -> str:
    """A configuration naming every node of a simulated cluster as an instance."""
    lines = ['default_instance = "node1"', ""]
    for node, url in urls.items():
        lines += [
            f"[instances.node{node}]",
            f'mi_url = "{url}"',
            f"cluster_node_id = {node}",
            'labels = { site = "sim", kind = "cluster-node" }',
            "",
        ]
    command = mcp_command()
    return "\n".join(
        [
            f"MCP server configuration ({config_path}):",
            "",
            *("  " + line if line else "" for line in lines),
            "MCP server against all nodes:",
            f"  {command} serve --config {config_path} --role operator",
            "or without a file:",
            f"  {command} serve --role operator "
            + " ".join(f"--instance node{node}={url}" for node, url in urls.items()),
            "cluster control API (any node's): GET/POST "
            + urls[min(urls)].removesuffix("/mi")
            + "/sim/cluster",
        ]
    )


async def serve_cluster(args: argparse.Namespace) -> int:
    """``--nodes N``: run a simulated cluster until SIGINT/SIGTERM."""
    rules = load_rules_file(args.faults) if args.faults else []
    clock = Clock(args.frozen_clock, frozen=True) if args.frozen_clock is not None else Clock()
    cluster = SimulatedCluster(
        args.nodes,
        args.scenario,
        seed=args.seed,
        clock=clock,
        faults=list(rules),
        settings=Settings(
            quirks=not args.no_quirks,
            idle_timeout=args.idle_timeout,
            cost_scale=args.cost_scale,
            opensips_version=args.opensips_version,
            receive_buf_size=args.receive_buf_size,
            buf_size=args.buf_size,
        ),
    )
    ports = await cluster.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    urls = {node: cluster.url(node) for node in ports}
    for node, url in urls.items():
        print(f"opensips-sim node {node} listening on {url}", flush=True)
    if args.banner:
        print(fleet_banner(urls), flush=True)
    try:
        await stop.wait()
    finally:
        await cluster.close()
    return 0


async def serve(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM (0), or until a request crashes it as it would crash
    OpenSIPS (1, the reason on standard error)."""
    if args.nodes != 1:
        if args.nodes < 1:
            raise ValueError("--nodes is at least 1")
        return await serve_cluster(args)
    rules = load_rules_file(args.faults) if args.faults else []
    clock = Clock(args.frozen_clock, frozen=True) if args.frozen_clock is not None else Clock()
    sim = Simulator(
        args.scenario,
        seed=args.seed,
        clock=clock,
        faults=rules,
        settings=Settings(
            quirks=not args.no_quirks,
            idle_timeout=args.idle_timeout,
            cost_scale=args.cost_scale,
            opensips_version=args.opensips_version,
            receive_buf_size=args.receive_buf_size,
            buf_size=args.buf_size,
        ),
    )
    server = WireServer(sim)
    port = await server.start(args.host, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    crashes: list[str] = []

    def crashed(reason: str) -> None:
        # as OpenSIPS: a crashed MI process stops the whole server
        crashes.append(reason)
        print(f"opensips-sim: {reason}; the simulator stops too", file=sys.stderr, flush=True)
        stop.set()

    sim.crash_hooks.append(crashed)
    url = f"http://{args.host}:{port}/mi"
    print(f"opensips-sim listening on {url}", flush=True)
    streams = await start_streams(sim, args)
    if args.banner:
        print(banner(url, f"http://{args.host}:{port}/sim"), flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()
        for stream in streams:
            await stream.close()
    return 1 if crashes else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``proxy`` and ``snapshot``: see ``subcommands.py``)."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0] in subcommands.COMMANDS:
        return subcommands.main(words)
    args = build_parser().parse_args(words)
    try:
        return asyncio.run(serve(args))
    except (scenarios.ScenarioError, FaultError, OSError, ValueError) as exc:
        print(f"opensips-sim: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
