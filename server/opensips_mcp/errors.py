"""Every failure the agent can see, as a ``ToolError`` whose text says what to do next.

The text always starts with a stable code and a colon, e.g.
``permission_denied: 'ds_set_state' with parameters ... is a write action; ...``.
Clients and tests match the code; people read the rest. Codes:

==================== ==================================================================
``unknown_command``   not a real MI command (close real names suggested)
``not_in_version``    a real MI command the server's OpenSIPS version lacks (nothing sent)
``ambiguous_command`` a bare 4.x local name several commands share (full names listed)
``no_matching_recipe`` the params fit none of the command's recipes (valid ones listed)
``invalid_params``    params are neither object, array nor omitted, or hold text OpenSIPS's
                      JSON parser refuses (NUL, a lone surrogate; unsent); or OpenSIPS
                      said -32602
``request_too_large`` the request is larger than the MI transport or OpenSIPS takes; unrun
``carried_command``   cluster_send_mi / cluster_broadcast_mi carry something unusable
``permission_denied`` the role may not run this recipe (level needed and role given)
``too_heavy``         a heavy recipe (cost model) this caller may not run: its cost and
                      what to use instead; nothing sent
``busy``              the OpenSIPS MI is busy (calls queued here, or a heavy command runs);
                      nothing sent
``rate_limited``      the caller exceeds its MI calls per second; nothing sent
``over_budget``       the caller (a viewer) used its MI time per minute; nothing sent
``not_available``     the live OpenSIPS does not offer the command (module not loaded)
``opensips_error``    OpenSIPS answered with an error (its code and message)
``outcome_unknown``   a write was sent and no answer came: it may have been applied
``unreachable``       nothing was sent: OpenSIPS could not be reached
``timeout``           no answer in time (a read; or a write that was never sent)
``bad_response``      OpenSIPS answered something that is not a usable MI reply
``audit_failed``      the audit record of a write could not be stored
``internal_error``    a bug in this server (logged server-side; no details leak)
``declined``          the user declined (or cancelled) the confirmation: nothing was sent
``confirmation_unavailable`` the client cannot ask its user to confirm: nothing was sent
``unknown_instance``  the ``instance`` argument names no configured OpenSIPS instance
``invalid_arguments`` the tool's arguments do not fit its input schema (each field and why);
                      the tool did not run
``unknown_tool``      no tool has that name; nothing ran
==================== ==================================================================

Nothing else reaches the agent: no tracebacks, no exception text of other libraries.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from opensips_mcp.admission import AdmissionError, MIBusy, OverBudget, RateLimited
from opensips_mcp.catalog import (
    AmbiguousCommand,
    CarriedCommandError,
    CatalogEntry,
    CatalogError,
    InvalidParamsShape,
    NoMatchingRecipe,
    NotInVersion,
    UnknownCommand,
)
from opensips_mcp.catalog.costs import Cost
from opensips_mcp.gate import Decision, Role
from opensips_mcp.mi import (
    MICommandError,
    MICommandNotFound,
    MIConnectionError,
    MIError,
    MIHTTPError,
    MIInvalidParams,
    MIOutcomeUnknown,
    MIProtocolError,
    MIRequestTooLarge,
    MITimeoutError,
)


class ErrorCode(StrEnum):
    """The stable first word of every error text (see the module docstring)."""

    UNKNOWN_COMMAND = "unknown_command"
    NOT_IN_VERSION = "not_in_version"
    AMBIGUOUS_COMMAND = "ambiguous_command"
    NO_MATCHING_RECIPE = "no_matching_recipe"
    INVALID_PARAMS = "invalid_params"
    REQUEST_TOO_LARGE = "request_too_large"
    CARRIED_COMMAND = "carried_command"
    PERMISSION_DENIED = "permission_denied"
    TOO_HEAVY = "too_heavy"
    BUSY = "busy"
    RATE_LIMITED = "rate_limited"
    OVER_BUDGET = "over_budget"
    NOT_AVAILABLE = "not_available"
    OPENSIPS_ERROR = "opensips_error"
    OUTCOME_UNKNOWN = "outcome_unknown"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    BAD_RESPONSE = "bad_response"
    AUDIT_FAILED = "audit_failed"
    INTERNAL_ERROR = "internal_error"
    DECLINED = "declined"
    CONFIRMATION_UNAVAILABLE = "confirmation_unavailable"
    UNKNOWN_INSTANCE = "unknown_instance"
    INVALID_ARGUMENTS = "invalid_arguments"
    UNKNOWN_TOOL = "unknown_tool"


class MCPToolError(ToolError):
    """A ``ToolError`` that carries its :class:`ErrorCode` for the audit trail, and for an
    OpenSIPS error the code OpenSIPS answered (``mi_code``, e.g. 404), so tools can tell
    "not found" from a failure without reading the text."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        mi_code: int | None = None,
        mi_message: str | None = None,
        answer_too_large: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.text = message
        self.mi_code = mi_code
        self.mi_message = mi_message
        self.answer_too_large = answer_too_large
        """True when the command ran but its answer was too large for the transport to
        carry (mi_http's buf_size, one mi_datagram datagram): asking for less can work."""

    def is_not_found(self, message: str | None = None) -> bool:
        """True for an OpenSIPS answer with code 404 (no such dialog, AOR, gateway...);
        with ``message``, only for that module message (usrloc answers 404 both for
        "AOR not found" and "Table not found")."""
        if self.code is not ErrorCode.OPENSIPS_ERROR or self.mi_code != 404:
            return False
        return message is None or self.mi_message == message


def tool_error(
    code: ErrorCode,
    message: str,
    *,
    mi_code: int | None = None,
    mi_message: str | None = None,
    answer_too_large: bool = False,
) -> MCPToolError:
    """Build the ``ToolError`` the agent will see."""
    return MCPToolError(
        code,
        message,
        mi_code=mi_code,
        mi_message=mi_message,
        answer_too_large=answer_too_large,
    )


def invalid_arguments(tool: str, problems: list[tuple[str, str]]) -> MCPToolError:
    """The SDK's check of ``tool``'s arguments failed: ``(field, reason)`` pairs. The
    rejected values are not repeated (they are the caller's own)."""
    shown = "; ".join(f"{field or 'arguments'}: {reason}" for field, reason in problems[:6])
    more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
    return tool_error(
        ErrorCode.INVALID_ARGUMENTS,
        f"The arguments of '{tool}' do not fit its input schema: {shown}{more}. The tool did "
        f"not run and nothing was sent. Correct them (tools/list shows the schema) and call "
        f"again.",
    )


def unknown_tool(tool: str) -> MCPToolError:
    """No tool is called ``tool``."""
    return tool_error(
        ErrorCode.UNKNOWN_TOOL,
        f"There is no tool '{tool}' on this server; nothing ran. List the tools (tools/list) "
        f"and use one of their names; mi_execute runs any MI command by name.",
    )


def denied(decision: Decision) -> MCPToolError:
    """The error for a call the gate refused."""
    return tool_error(ErrorCode.PERMISSION_DENIED, decision.explain())


def from_catalog_error(exc: CatalogError) -> MCPToolError:
    """The error for a call the catalog could not resolve."""
    if isinstance(exc, UnknownCommand):
        return tool_error(ErrorCode.UNKNOWN_COMMAND, exc.message)
    if isinstance(exc, NotInVersion):
        return tool_error(ErrorCode.NOT_IN_VERSION, exc.message)
    if isinstance(exc, AmbiguousCommand):
        return tool_error(ErrorCode.AMBIGUOUS_COMMAND, exc.message)
    if isinstance(exc, NoMatchingRecipe):
        return tool_error(
            ErrorCode.NO_MATCHING_RECIPE,
            f"{exc.message} Call it again with exactly one of these parameter sets "
            f"(mi_describe_command shows what each one does).",
        )
    if isinstance(exc, InvalidParamsShape):
        return tool_error(ErrorCode.INVALID_PARAMS, exc.message)
    if isinstance(exc, CarriedCommandError):
        return tool_error(ErrorCode.CARRIED_COMMAND, exc.message)
    return tool_error(ErrorCode.INVALID_PARAMS, exc.message)


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


def _too_large(exc: MIRequestTooLarge) -> MCPToolError:
    command, size = exc.method, exc.size
    if exc.transport in ("http", "https") and exc.attempts == 0:
        return tool_error(
            ErrorCode.REQUEST_TOO_LARGE,
            f"The request for '{command}' is {size} bytes; OpenSIPS's mi_http never answers "
            f"a request larger than 16 KB (libmicrohttpd's buffer: 3.4 closes the connection, "
            f"3.6 and 4.0 leave it unanswered, whatever receive_buf_size says), so it was not "
            f"sent and nothing ran. Send shorter parameters.",
        )
    if exc.transport in ("http", "https"):
        return tool_error(
            ErrorCode.REQUEST_TOO_LARGE,
            f"OpenSIPS refused the {size}-byte request for '{command}' unread (HTTP 400): "
            f"its httpd module reads request bodies of at most receive_buf_size bytes "
            f"({exc.limit} unless raised; OpenSIPS logs 'Received too big HTTP request'). "
            f"Nothing ran. Send shorter parameters, or ask the operator to raise "
            f'modparam("httpd", "receive_buf_size", ...) on that OpenSIPS.',
        )
    module = "mi_fifo" if exc.transport == "fifo" else "mi_datagram"
    return tool_error(
        ErrorCode.REQUEST_TOO_LARGE,
        f"The request for '{command}' is {size} bytes; OpenSIPS's {module} takes "
        f"at most {exc.limit} bytes per request, so it was not sent and nothing ran. Send "
        f"shorter parameters (over mi_http OpenSIPS reads up to its httpd receive_buf_size, "
        f"1024 bytes unless raised).",
    )


_MI_MODULES = {
    "http": "mi_http (and httpd)",
    "https": "mi_http (and httpd)",
    "fifo": "mi_fifo",
    "udp": "mi_datagram",
    "unix": "mi_datagram",
}
"""The OpenSIPS module serving each MI URL scheme."""

_FIFO_REPLY_DIR = (
    " Over mi_fifo, if every call times out, the URL's ?reply_dir= may not be mi_fifo's "
    "reply_dir: OpenSIPS then drops each reply (its reply FIFO is not where it looks)."
)
_DATAGRAM_SOCKET = (
    " Over mi_datagram, if every call times out, the URL may not name mi_datagram's "
    "socket_name: a SIP port, say, takes each request and never answers it."
)
_MISCONFIGURED = {
    "not_a_fifo": (
        "the fifo:// URL's path is not a FIFO (a regular file or a directory), so nothing "
        "was written to it",
        'The path must be mi_fifo\'s fifo_name (modparam("mi_fifo", "fifo_name", ...), '
        "default /tmp/opensips_fifo) on the OpenSIPS host; have the operator fix the "
        "instance's MI URL.",
    ),
    "unresolved": (
        "the MI URL's host name does not resolve",
        "Check the host in the instance's MI URL (or use its IP address) and this "
        "machine's DNS, then retry.",
    ),
    "permission_denied": (
        "this server's user may not open OpenSIPS's MI endpoint",
        "Have the operator let it: mi_fifo's fifo_mode (and reply_dir), or mi_datagram's "
        "unix_socket_mode, unix_socket_group and unix_socket_user, or run this server in "
        "OpenSIPS's group.",
    ),
    "tls_untrusted": (
        "OpenSIPS's TLS certificate was not accepted",
        "Have the operator give this server the CA that signed httpd's tls_cert_file "
        "(setting mi_ca_file, or the instance's ca_file), or a certificate naming the "
        "URL's host.",
    ),
    "tls_error": (
        "no TLS handshake with OpenSIPS",
        "An https:// URL needs httpd with tls_cert_file and tls_key_file set; if that port "
        "serves plain HTTP, have the operator use an http:// URL.",
    ),
}
"""Causes of an unsent call that only the operator's configuration (or DNS) can fix:
(what was wrong, what to do)."""

_TLS_PORT = (
    " If httpd serves TLS on that port (tls_cert_file set), it resets plain HTTP like "
    "this (measured on 3.6.8): the URL must be https://."
)
_SILENT_HINTS = {"fifo": _FIFO_REPLY_DIR, "udp": _DATAGRAM_SOCKET, "unix": _DATAGRAM_SOCKET}
"""What to check when every call over a transport times out."""


def from_mi_error(exc: MIError, entry: CatalogEntry | None) -> MCPToolError:
    """The error for a failed MI call of ``entry``'s command (``None``: not catalogued)."""
    command = exc.method
    if isinstance(exc, MIOutcomeUnknown):
        check = entry.check_after if entry is not None else None
        how = (
            f"Run the read command '{check}' (mi_execute) to see the current state before "
            f"trying again."
            if check
            else "Inspect the current state with a read command before trying again."
        )
        return tool_error(
            ErrorCode.OUTCOME_UNKNOWN,
            f"'{command}' was sent to OpenSIPS but no usable answer came back ({exc.cause}): "
            f"the change may or may not have been applied, and it was not re-sent. {how}",
        )
    if isinstance(exc, MICommandNotFound):
        module = entry.module if entry is not None else "its module"
        return tool_error(
            ErrorCode.NOT_AVAILABLE,
            f"This OpenSIPS does not offer '{command}' (the module '{module}' is probably not "
            f"loaded). Use mi_list_commands to see what this server offers.",
        )
    if isinstance(exc, MIInvalidParams):
        detail = f": {_short(exc.data)}" if exc.data is not None else ""
        recipes = f" Valid parameter sets: {entry.recipes_text()}." if entry is not None else ""
        return tool_error(
            ErrorCode.INVALID_PARAMS,
            f"OpenSIPS rejected the parameters of '{command}' (error -32602 {exc.message}"
            f"{detail}).{recipes} Check names and value types, then call again.",
        )
    if isinstance(exc, MICommandError):
        detail = f" ({_short(exc.data)})" if exc.data is not None else ""
        return tool_error(
            ErrorCode.OPENSIPS_ERROR,
            f"OpenSIPS answered '{command}' with error {exc.code}: {_short(exc.message)}{detail}. "
            f"The command ran and refused the request; check the parameter values (for "
            f"instance that the dialog, gateway or AOR exists) with a read command.",
            mi_code=exc.code,
            mi_message=exc.message,
        )
    if isinstance(exc, MIConnectionError) and exc.cause in _MISCONFIGURED:
        why, fix = _MISCONFIGURED[exc.cause]
        detail = f" ({exc.detail})" if exc.detail else ""
        return tool_error(
            ErrorCode.UNREACHABLE,
            f"Could not send '{command}': {why}{detail}; nothing was sent or changed. {fix}",
        )
    if isinstance(exc, MIConnectionError):
        return tool_error(
            ErrorCode.UNREACHABLE,
            f"Could not reach OpenSIPS for '{command}' ({exc.cause}"
            f"{': ' + exc.detail if exc.detail else ''}); nothing was changed. "
            f"Check that OpenSIPS runs with {_MI_MODULES.get(exc.transport, 'its MI module')} "
            f"loaded (opensips_health), then retry."
            + (_TLS_PORT if exc.transport == "http" and exc.cause == "reset" else ""),
        )
    if isinstance(exc, MITimeoutError):
        if exc.attempts == 0:
            return tool_error(
                ErrorCode.TIMEOUT,
                f"OpenSIPS did not answer '{command}' in time ({exc.cause}); nothing was sent. "
                f"OpenSIPS runs MI commands one at a time: it may be busy. Retry later.",
            )
        return tool_error(
            ErrorCode.TIMEOUT,
            f"OpenSIPS did not answer '{command}' in time ({exc.cause}); it is a read, nothing "
            f"changed, and it was not re-sent: OpenSIPS runs MI commands one at a time and may "
            f"still be running it. Check opensips_health before retrying, and prefer a cheaper "
            f"or paged form.{_SILENT_HINTS.get(exc.transport, '')}",
        )
    if isinstance(exc, MIRequestTooLarge):
        return _too_large(exc)
    if isinstance(exc, MIHTTPError) and exc.status == 500:
        return tool_error(
            ErrorCode.BAD_RESPONSE,
            f"OpenSIPS ran '{command}' but answered HTTP 500 without a reply: mi_http does so "
            f"when it cannot print the answer, most often because it is larger than httpd's "
            f"buf_size (a quarter of pkg memory unless set; OpenSIPS logs 'failed to print "
            f"json response'). It is a read: nothing changed, and it was not re-sent. Ask for "
            f"less (a filter, one AOR or dialog), use an mi_fifo URL for this instance (it "
            f"carries such answers: a 16 MB ul_dump on a real 3.6.8), or have the operator "
            f'raise modparam("httpd", "buf_size", ...) and pkg memory (-M) on that OpenSIPS.',
            answer_too_large=True,
        )
    if isinstance(exc, MIHTTPError) and exc.status == 400:
        return tool_error(
            ErrorCode.BAD_RESPONSE,
            f"The MI endpoint answered '{command}' with HTTP 400 without running it: OpenSIPS's "
            f"httpd answers so ('Unable to parse URL!') when the URL's path is not mi_http's "
            f'root (modparam("mi_http", "root", ...), "mi" unless set). Nothing was changed. '
            f"Check the path of the configured MI URL (e.g. http://host:8888/mi).",
        )
    if isinstance(exc, MIHTTPError):
        return tool_error(
            ErrorCode.BAD_RESPONSE,
            f"The MI endpoint answered '{command}' with HTTP {exc.status} instead of a JSON-RPC "
            f"reply. Check the configured MI URL points at OpenSIPS mi_http.",
        )
    if isinstance(exc, MIProtocolError) and exc.cause == "unprintable":
        return tool_error(
            ErrorCode.BAD_RESPONSE,
            f"OpenSIPS ran '{command}' but could not send its answer over mi_datagram: it "
            f"answered '500 Internal error', which mi_datagram does when the answer does not "
            f"fit in one datagram (65,457 bytes). It is a read: nothing changed. Ask for less "
            f"(a filter, a paged tool such as registrations_list or dialogs_list), or run it "
            f"through an mi_http or mi_fifo URL, which carry larger answers.",
            answer_too_large=True,
        )
    if isinstance(exc, MIProtocolError):
        return tool_error(
            ErrorCode.BAD_RESPONSE,
            f"OpenSIPS's reply to '{command}' could not be understood ({exc.cause}). "
            f"Retry; if it persists, check the MI URL and the OpenSIPS version.",
        )
    return internal_error()


def unreadable_params(command: str, what: str) -> MCPToolError:
    """Params OpenSIPS cannot read (``what``: see ``mi.jsonrpc.unreadable_value``)."""
    return tool_error(
        ErrorCode.INVALID_PARAMS,
        f"A parameter of '{command}' cannot be read by OpenSIPS: {what}. Nothing was sent; "
        f"call again with the parameter corrected.",
    )


def too_heavy(cost: Cost, role: Role, allowed: Role) -> MCPToolError:
    """The error for a heavy recipe refused to ``role`` (``allowed``: the least role that
    may run heavy recipes); nothing was sent."""
    recipe = ", ".join(cost.recipe) or "no parameters"
    instead = f" Use instead: {cost.instead}." if cost.instead else ""
    return tool_error(
        ErrorCode.TOO_HEAVY,
        f"'{cost.command}' with {recipe} is a heavy command ({cost.describe()}); OpenSIPS runs "
        f"MI commands one at a time, so while it runs every other MI client waits. The role "
        f"'{role}' may not run heavy commands (the role '{allowed}' may); nothing was sent."
        f"{instead}",
    )


def from_admission(exc: AdmissionError) -> MCPToolError:
    """The error for a call the admission queue refused; nothing was sent."""
    if isinstance(exc, MIBusy):
        return tool_error(
            ErrorCode.BUSY,
            f"OpenSIPS MI is busy ({exc.queued} queued, oldest {exc.oldest:.1f} s; "
            f"{exc.reason}); nothing was sent. Retry in a few seconds, or call "
            f"opensips_health to see the queue.",
        )
    if isinstance(exc, RateLimited):
        return tool_error(
            ErrorCode.RATE_LIMITED,
            f"'{exc.principal}' may make {exc.rate:g} MI calls per second; nothing was sent. "
            f"Retry in {exc.retry_after:.1f} s.",
        )
    if isinstance(exc, OverBudget):
        return tool_error(
            ErrorCode.OVER_BUDGET,
            f"'{exc.principal}' used {exc.spent:.1f} s of its {exc.budget:g} s of OpenSIPS MI "
            f"time per minute; nothing was sent. Retry in {exc.retry_after:.0f} s, or use "
            f"cheaper reads (paged or filtered forms).",
        )
    return tool_error(ErrorCode.BUSY, f"OpenSIPS MI refused the call here: {exc}.")


def internal_error() -> MCPToolError:
    """The error for a bug: no internal detail reaches the agent."""
    return tool_error(
        ErrorCode.INTERNAL_ERROR,
        "The MCP server failed unexpectedly (logged on the server). Nothing more is known; "
        "if the call was a change, check the state with a read command before retrying.",
    )


def audit_failed(command: str | None) -> MCPToolError:
    """The error for a write whose audit record could not be stored."""
    what = f"'{command}'" if command else "The call"
    return tool_error(
        ErrorCode.AUDIT_FAILED,
        f"{what} ran, but its audit record could not be stored, so the call is reported as "
        f"failed. Tell the server's operator (the audit log is not writable). Check the "
        f"state with a read command before doing anything else.",
    )


def audit_intent_failed(command: str) -> MCPToolError:
    """The error for a write not sent because its ``pending`` record could not be stored."""
    return tool_error(
        ErrorCode.AUDIT_FAILED,
        f"'{command}' was NOT sent: its audit record could not be stored first, and no "
        f"change is made without one. Tell the server's operator (the audit log is not "
        f"writable); retry once it is fixed.",
    )
