"""The ``opensips-mcp`` command: ``serve``, ``token add|list|remove``, ``audit tail|verify``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from opensips_mcp import __version__
from opensips_mcp.audit import AuditError, AuditLog, format_record, read_records, verify_trail
from opensips_mcp.eventloop import anyio_backend_options
from opensips_mcp.gate import Role
from opensips_mcp.settings import Settings, SettingsError, env_name, load_settings
from opensips_mcp.tokens import TokenFileError, TokenStore, add_token, load_tokens, remove_token
from opensips_mcp.tools import ToolSelectionError

if TYPE_CHECKING:
    from opensips_mcp.server import OpenSIPSMCP

logger = logging.getLogger(__name__)

PROG = "opensips-mcp"


class CLIError(Exception):
    """A one-line error for the user; exit status 2."""


def _env(name: str) -> str:
    return f" [env {env_name(name)}]"


SERVE_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "transport",
        {
            "choices": ["stdio", "http"],
            "help": "stdio (default): one client over stdin/stdout; http: streamable HTTP "
            "at /mcp with bearer tokens",
        },
    ),
    (
        "mi_url",
        {"metavar": "URL", "help": "OpenSIPS mi_http endpoint (default http://127.0.0.1:8888/mi)"},
    ),
    (
        "role",
        {
            "choices": [r.value for r in Role],
            "help": "role on stdio, and on HTTP without tokens (default viewer): viewer may "
            "read; operator may also write; admin may also run destructive and admin commands",
        },
    ),
    (
        "principal",
        {
            "metavar": "NAME",
            "help": "caller name recorded in the audit trail on stdio (default 'stdio')",
        },
    ),
    (
        "host",
        {
            "metavar": "ADDR",
            "help": "HTTP: address to bind (default 127.0.0.1); a "
            "non-loopback address needs tokens and --allowed-hosts",
        },
    ),
    ("port", {"metavar": "PORT", "help": "HTTP: port to bind (default 8080; 0 picks one)"}),
    (
        "tls_cert",
        {
            "metavar": "FILE",
            "help": "HTTP: serve HTTPS with this PEM certificate (chain); needs --tls-key",
        },
    ),
    ("tls_key", {"metavar": "FILE", "help": "HTTP: the private key of --tls-cert (PEM)"}),
    (
        "tokens_file",
        {
            "metavar": "FILE",
            "help": "HTTP: bearer tokens (TOML, hashes only; "
            "default ~/.config/opensips-mcp/tokens.toml)",
        },
    ),
    (
        "audit_log",
        {
            "metavar": "PATH",
            "help": "audit trail, one JSON line per tool call "
            "(default ~/.local/state/opensips-mcp/audit.jsonl)",
        },
    ),
    (
        "audit_max_bytes",
        {
            "metavar": "SIZE",
            "help": "rotate the audit log before it grows past SIZE (bytes, or 100M, 1G; "
            "default 100M; 0 = never)",
        },
    ),
    (
        "audit_keep",
        {"metavar": "N", "help": "rotated audit files kept (audit.jsonl.1 .. .N; default 10)"},
    ),
    (
        "audit_syslog",
        {
            "metavar": "URL",
            "help": "also send each audit record to syslog (RFC 5424): udp://HOST:PORT, "
            "tcp://HOST:PORT or unix:///PATH (default: off)",
        },
    ),
    (
        "read_only",
        {
            "action": "store_const",
            "const": "true",
            "help": "force the viewer role for every caller, whatever else is set",
        },
    ),
    (
        "allowed_hosts",
        {
            "metavar": "LIST",
            "help": "HTTP: comma-separated Host header values "
            "accepted ('host:*' = any port; default loopback names)",
        },
    ),
    (
        "allowed_origins",
        {
            "metavar": "LIST",
            "help": "HTTP: comma-separated Origin values "
            "accepted (default http://127.0.0.1:*, http://localhost:*, ...)",
        },
    ),
    ("toolsets", {"metavar": "LIST", "help": "comma-separated toolsets to enable (default: all)"}),
    (
        "tools",
        {
            "metavar": "LIST",
            "help": "comma-separated tools to enable in addition to --toolsets (alone: only these)",
        },
    ),
    ("mi_connect_timeout", {"metavar": "SEC", "help": "MI: connect timeout (default 2)"}),
    ("mi_read_timeout", {"metavar": "SEC", "help": "MI: wait for a reply (default 10)"}),
    (
        "mi_ca_file",
        {
            "metavar": "FILE",
            "help": "MI over https://: PEM file of the CAs that signed OpenSIPS httpd's "
            "tls_cert_file (default: the system's)",
        },
    ),
    (
        "mi_total_timeout",
        {"metavar": "SEC", "help": "MI: deadline of one call, retries included (default 30)"},
    ),
    (
        "mi_max_attempts",
        {"metavar": "N", "help": "MI: tries per read call (default 3; writes are never re-sent)"},
    ),
    (
        "mi_max_in_flight",
        {"metavar": "N", "help": "MI: requests at OpenSIPS at once (default 1; it runs one)"},
    ),
    (
        "mi_max_queued",
        {"metavar": "N", "help": "MI: calls waiting here at most, then 'busy' (default 32)"},
    ),
    (
        "mi_queue_timeout",
        {"metavar": "SEC", "help": "MI: longest wait here for a turn, then 'busy' (default 10)"},
    ),
    (
        "mi_rate",
        {"metavar": "N", "help": "MI: calls per second per principal (default 0 = no limit)"},
    ),
    ("mi_rate_burst", {"metavar": "N", "help": "MI: burst of the per-principal rate (default 10)"}),
    (
        "mi_viewer_budget",
        {
            "metavar": "SEC",
            "help": "MI: seconds per minute a viewer may use (default 20; 0 = none)",
        },
    ),
    (
        "mi_heavy_timeout",
        {"metavar": "SEC", "help": "MI: read timeout of heavy commands (default 120)"},
    ),
    (
        "mi_heavy_role",
        {"metavar": "ROLE", "help": "MI: least role that may run heavy commands (default admin)"},
    ),
    (
        "which_ttl",
        {
            "metavar": "SEC",
            "help": "seconds to cache the live server's command "
            "list (default 30; 0 = ask every time)",
        },
    ),
    (
        "stateless",
        {
            "metavar": "BOOL",
            "help": "HTTP: no session state, for several replicas behind a load balancer "
            "(list cursors then carry their position; default false)",
        },
    ),
    (
        "default_instance",
        {
            "metavar": "NAME",
            "help": "the instance a tool call without 'instance' goes to (default: the first)",
        },
    ),
    (
        "fleet_timeout",
        {
            "metavar": "SEC",
            "help": "fleet tools: each instance's own deadline (default 5)",
        },
    ),
    (
        "opensips_version",
        {
            "metavar": "X.Y.Z",
            "help": "the OpenSIPS version of every instance without its own "
            "[instances.NAME] opensips_version (default auto: each is asked with "
            "'version' on first use and again after a reconnect)",
        },
    ),
    (
        "log_level",
        {
            "metavar": "LEVEL",
            "help": "DEBUG, INFO, WARNING, ERROR (default INFO); logs go to stderr",
        },
    ),
    (
        "confirm",
        {
            "metavar": "WHAT",
            "help": "ask the user (MCP elicitation) before sending: destructive (default: "
            "destructive and admin recipes), admin (admin recipes only) or none; a client "
            "that cannot ask is refused unless none",
        },
    ),
]


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="TOML file with the same settings (mi_url = ..., role = ...)" + _env("config"),
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="MCP server to operate OpenSIPS through its Management Interface, "
        "with a permission gate and an audit trail. Settings: command line > "
        "OPENSIPS_MCP_* environment > --config file > defaults.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the MCP server (stdio or HTTP)",
        description="Run the MCP server. Every option can also be set with the "
        "environment variable shown, or in the --config file.",
    )
    _add_config(serve)
    for name, kwargs in SERVE_OPTIONS:
        kwargs = dict(kwargs)
        kwargs["help"] = kwargs["help"] + _env(name)
        serve.add_argument("--" + name.replace("_", "-"), dest=name, default=None, **kwargs)
    serve.add_argument(
        "--instance",
        dest="instances",
        action="append",
        default=None,
        metavar="NAME=URL",
        help="an OpenSIPS instance to manage (repeatable; --mi-url alone means one named "
        "'default'; [instances.NAME] tables in --config add max_role, labels, "
        "cluster_node_id)" + _env("instances"),
    )

    token = sub.add_parser(
        "token",
        help="manage HTTP bearer tokens",
        description="Manage the bearer tokens of the HTTP transport.",
    )
    token_sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    add = token_sub.add_parser(
        "add",
        help="create a token, print it once, store only its hash",
        description="Create a token for NAME with ROLE. The token is printed once; only "
        "its SHA-256 is stored.",
    )
    add.add_argument("name", metavar="NAME", help="principal name recorded in the audit trail")
    add.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in Role],
        help="what the token may do: viewer, operator or admin",
    )
    add.add_argument(
        "--mi-rate",
        dest="mi_rate",
        type=float,
        default=None,
        metavar="N",
        help="this token's own MI calls per second (0: no limit; default: the server's mi_rate)",
    )
    add.add_argument(
        "--mi-rate-burst",
        dest="mi_rate_burst",
        type=int,
        default=None,
        metavar="B",
        help="this token's own bucket size (needs --mi-rate; default: mi_rate_burst)",
    )
    lst = token_sub.add_parser(
        "list",
        help="list token names and roles (never secrets)",
        description="List token names and roles.",
    )
    rm = token_sub.add_parser("remove", help="delete a token", description="Delete a token.")
    rm.add_argument("name", metavar="NAME", help="the token's name")
    for p in (add, lst, rm):
        p.add_argument(
            "--tokens-file",
            dest="tokens_file",
            metavar="FILE",
            default=None,
            help="tokens file (default ~/.config/opensips-mcp/tokens.toml)" + _env("tokens_file"),
        )
        _add_config(p)

    audit = sub.add_parser(
        "audit", help="read the audit trail", description="Read the audit trail."
    )
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    tail = audit_sub.add_parser(
        "tail",
        help="print the latest records readably",
        description="Print the latest audit records, oldest first.",
    )
    tail.add_argument(
        "-n",
        dest="count",
        type=int,
        default=20,
        metavar="N",
        help="how many records (default 20; after filtering)",
    )
    tail.add_argument("--principal", default=None, metavar="P", help="only this caller")
    tail.add_argument(
        "--outcome",
        default=None,
        choices=["ok", "denied", "error", "unknown"],
        help="only records with this outcome",
    )
    tail.add_argument("--json", action="store_true", help="print the raw JSON lines")
    tail.add_argument(
        "--audit-log",
        dest="audit_log",
        metavar="PATH",
        default=None,
        help="audit trail file (default ~/.local/state/opensips-mcp/audit.jsonl)"
        + _env("audit_log"),
    )
    _add_config(tail)
    verify = audit_sub.add_parser(
        "verify",
        help="check the hash chain of the whole trail (every file)",
        description="Check every record of the audit trail (rotated files included, oldest "
        "first) against the hash chain. Exit 0 when intact; 1 naming the first bad record "
        "(file:line) when a line was edited, removed or added.",
    )
    verify.add_argument(
        "--audit-log",
        dest="audit_log",
        metavar="PATH",
        default=None,
        help="audit trail file (default ~/.local/state/opensips-mcp/audit.jsonl)"
        + _env("audit_log"),
    )
    _add_config(verify)
    return parser


def _settings(args: argparse.Namespace, names: Sequence[str]) -> Settings:
    cli = {name: getattr(args, name, None) for name in (*names, "config")}
    try:
        return load_settings(cli)
    except SettingsError as exc:
        raise CLIError(str(exc)) from None


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def serve_settings(args: argparse.Namespace) -> Settings:
    """The settings of ``serve`` from its parsed command line (every option, ``--instance``
    included), the environment and the ``--config`` file. Raises :class:`CLIError`."""
    return _settings(args, [*(name for name, _ in SERVE_OPTIONS), "instances"])


def _serve(args: argparse.Namespace) -> int:
    settings = serve_settings(args)
    _configure_logging(settings.log_level)
    try:
        AuditLog.for_settings(settings).prepare()
    except AuditError as exc:
        raise CLIError(f"setting 'audit_log': {exc}") from None
    if settings.transport == "http":
        from opensips_mcp.transport_http import StartupError, serve_http

        try:
            entries = load_tokens(settings.tokens_file)
        except TokenFileError as exc:
            raise CLIError(f"setting 'tokens_file': {exc}") from None
        tokens = TokenStore(entries)
        try:
            anyio.run(serve_http, settings, tokens, backend_options=anyio_backend_options())
        except StartupError as exc:
            raise CLIError(str(exc)) from None
        except ToolSelectionError as exc:
            raise CLIError(f"setting 'toolsets'/'tools': {exc}") from None
        return 0
    from opensips_mcp.server import build_server

    try:
        server = build_server(settings)
    except ToolSelectionError as exc:
        raise CLIError(f"setting 'toolsets'/'tools': {exc}") from None
    anyio.run(_serve_stdio, server, backend_options=anyio_backend_options())
    return 0


_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)
"""What stops a stdio server gracefully (Windows has no SIGHUP, nor signal receivers)."""


async def _serve_stdio(server: OpenSIPSMCP) -> None:
    """Serve one client on stdio until stdin closes or a stop signal arrives.

    A client or a process manager stops the server with SIGTERM (SIGHUP when the terminal
    goes, SIGINT for Ctrl-C). Python's default would end the process on the spot, leaving
    a write in flight with only its ``pending`` audit record. Here the signal cancels the
    session as a closed stdin does: each call in flight stores its ``call`` record (a sent
    write: outcome unknown), the MI clients close, and the process exits with status 0.
    """
    from mcp.server.stdio import stdio_server

    lowlevel = server._lowlevel_server  # MCPServer.run_stdio_async, split to stop on a signal
    session = anyio.CancelScope()
    stopped = False

    async def stop_on_signal() -> None:
        nonlocal stopped
        with anyio.open_signal_receiver(*_STOP_SIGNALS) as signals:
            async for signum in signals:
                logger.info("signal %s: stopping", signal.Signals(signum).name)
                stopped = True
                session.cancel()
                return

    async with anyio.create_task_group() as group:
        if sys.platform != "win32":
            group.start_soon(stop_on_signal)
        async with stdio_server() as (read_stream, write_stream):
            with session:
                await lowlevel.run(
                    read_stream, write_stream, lowlevel.create_initialization_options()
                )
            if stopped:
                # The session has ended: every record is stored and the MI clients are
                # closed. What is left is the SDK's stdin reader, a worker thread blocked
                # in read(2) until the client writes or closes stdin; no need to wait.
                logging.shutdown()
                sys.stderr.flush()
                os._exit(0)
        group.cancel_scope.cancel()


def _token(args: argparse.Namespace) -> int:
    settings = _settings(args, ["tokens_file"])
    path = settings.tokens_file
    try:
        if args.token_command == "add":
            token = add_token(
                path,
                args.name,
                Role(args.role),
                mi_rate=args.mi_rate,
                mi_rate_burst=args.mi_rate_burst,
            )
            print(token)
            print(
                f"Token for '{args.name}' ({args.role}) stored as a hash in {path}. "
                "It is shown only this once.",
                file=sys.stderr,
            )
        elif args.token_command == "list":
            for entry in load_tokens(path):
                print(f"{entry.name}\t{entry.role}\t{entry.created}")
        else:
            remove_token(path, args.name)
            print(f"Removed the token '{args.name}' from {path}.", file=sys.stderr)
    except TokenFileError as exc:
        raise CLIError(str(exc)) from None
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    settings = _settings(args, ["audit_log"])
    try:
        result = verify_trail(settings.audit_log)
    except FileNotFoundError:
        raise CLIError(f"no audit trail at {settings.audit_log} yet") from None
    except OSError as exc:
        raise CLIError(f"cannot read {settings.audit_log}: {exc.strerror}") from None
    if result.broken is not None:
        bad = result.broken
        seq = f" (seq {bad.seq})" if bad.seq is not None else ""
        print(f"BROKEN at {bad.where}{seq}: {bad.reason}")
        print(f"{result.records} record(s) checked before it", file=sys.stderr)
        return 1
    print(
        f"OK: {result.records} records in {result.files} file(s), seq {result.first_seq}.."
        f"{result.last_seq}, last hash {result.last_hash}"
    )
    if result.open_intents:
        print(
            f"{len(result.open_intents)} pending write(s) without an outcome yet "
            "(in flight, or closed when the server next starts)",
            file=sys.stderr,
        )
    return 0


def _audit(args: argparse.Namespace) -> int:
    if args.audit_command == "verify":
        return _audit_verify(args)
    settings = _settings(args, ["audit_log"])
    if args.count < 1:
        raise CLIError("-n must be 1 or more")
    try:
        records = list(
            read_records(
                settings.audit_log,
                last=args.count,
                principal=args.principal,
                outcome=args.outcome,
            )
        )
    except FileNotFoundError:
        raise CLIError(f"no audit trail at {settings.audit_log} yet") from None
    except OSError as exc:
        raise CLIError(f"cannot read {settings.audit_log}: {exc.strerror}") from None
    for record in records:
        print(json.dumps(record, separators=(",", ":")) if args.json else format_record(record))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``opensips-mcp`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "token":
            return _token(args)
        return _audit(args)
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
