"""Streamable HTTP at ``/mcp``: bearer tokens, Host/Origin checks, uvicorn.

Request checks, in order, on every request:

1. ``Host`` must be one of the allowed hosts (else **421**), and ``Origin``, when
   present, one of the allowed origins (else **403**). This runs before
   authentication, and also when bound to ``0.0.0.0``: the lists are explicit
   (``--allowed-hosts``/``--allowed-origins``; loopback names by default, and a
   non-loopback ``--host`` requires ``--allowed-hosts``).
2. With tokens configured, a missing or unknown bearer token gets **401** (the SDK's
   bearer middleware, backed by :class:`opensips_mcp.tokens.StoreTokenVerifier`).
   The token's role applies to every call of that request.

The server refuses to start on a non-loopback address without tokens. On loopback
without tokens, every caller gets the configured ``--role`` (as on stdio).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import uvicorn
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings, is_loopback
from opensips_mcp.tokens import TokenStore

logger = logging.getLogger("opensips_mcp.http")

MCP_PATH = "/mcp"


class StartupError(Exception):
    """The HTTP server must not start with these settings; the message says why."""


def _matches(value: str, allowed: Sequence[str]) -> bool:
    for pattern in allowed:
        if value == pattern:
            return True
        if pattern.endswith(":*") and value.startswith(pattern[:-1]):
            port = value[len(pattern) - 1 :]
            if port.isdigit():
                return True
    return False


class HostOriginGuard:
    """ASGI middleware: 421 for a Host, 403 for an Origin that is not allowed.

    ``host:*`` (``http://host:*``) allows any port.
    """

    def __init__(
        self, app: ASGIApp, allowed_hosts: Sequence[str], allowed_origins: Sequence[str]
    ) -> None:
        self.app = app
        self.allowed_hosts = tuple(allowed_hosts)
        self.allowed_origins = tuple(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            host = headers.get("host", "")
            if not _matches(host, self.allowed_hosts):
                logger.warning("refused a request with Host %r", host[:100])
                await PlainTextResponse("Invalid Host header", status_code=421)(
                    scope, receive, send
                )
                return
            origin = headers.get("origin")
            if origin is not None and not _matches(origin, self.allowed_origins):
                logger.warning("refused a request with Origin %r", origin[:100])
                await PlainTextResponse("Invalid Origin header", status_code=403)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


def check_startup(settings: Settings, tokens: TokenStore | None) -> None:
    """Raise :class:`StartupError` when serving HTTP with these settings is unsafe."""
    if not is_loopback(settings.host) and not tokens:
        raise StartupError(
            f"refusing to listen on {settings.host}: no bearer tokens are configured "
            f"(tokens file {settings.tokens_file}), so anyone who can reach that address "
            f"could operate OpenSIPS. Add one with `opensips-mcp token add NAME --role ROLE`, "
            f"or bind to 127.0.0.1."
        )


def build_http_app(
    settings: Settings, tokens: TokenStore | None
) -> tuple[HostOriginGuard, OpenSIPSMCP]:
    """The ASGI app to serve, and the MCP server inside it."""
    check_startup(settings, tokens)
    server = build_server(settings, tokens=tokens if tokens else None)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(settings.http_allowed_hosts),
        allowed_origins=list(settings.http_allowed_origins),
    )
    inner = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        transport_security=security,
        host=settings.host,
        stateless_http=settings.stateless,
    )
    app = HostOriginGuard(inner, settings.http_allowed_hosts, settings.http_allowed_origins)
    return app, server


def make_uvicorn(settings: Settings, app: ASGIApp) -> uvicorn.Server:
    """A uvicorn server for ``app`` that logs through our (stderr) logging setup."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level.lower(),
        lifespan="on",
        server_header=False,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )
    return uvicorn.Server(config)


async def serve_http(settings: Settings, tokens: TokenStore | None) -> None:
    """Serve until stopped (Ctrl-C / SIGTERM)."""
    app, _ = build_http_app(settings, tokens)
    if not tokens:
        logger.warning(
            "no bearer tokens configured: every HTTP caller on %s gets the role %s",
            settings.host,
            settings.effective_role,
        )
    elif settings.tls_cert is None and not is_loopback(settings.host):
        logger.warning(
            "serving plain HTTP on %s: bearer tokens cross the network in clear; give "
            "--tls-cert and --tls-key, or put a TLS-terminating proxy in front",
            settings.host,
        )
    await make_uvicorn(settings, app).serve()
