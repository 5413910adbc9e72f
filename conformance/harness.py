"""The suite's view of the system under test: a target MI endpoint, its control API, MCP
sessions per role and the audit trail.

Everything asynchronous runs on one event loop in a background thread (an anyio blocking
portal): the simulator (when the suite starts one), the in-memory MCP sessions and the HTTP
server. Hypothesis drives them from the test thread with plain blocking calls, so ``@given``
and ``RuleBasedStateMachine`` work unchanged and each example costs only its tool calls.

Targets (chosen by environment, see ``README.md``):

* default: a simulator started on 127.0.0.1 port 0 (quiet scenario, frozen clock);
  ``OPENSIPS_SIM_TRANSPORT=fifo|udp|unix`` makes the MCP server reach it over that
  transport instead of HTTP (same state, faults, journal; control API over HTTP);
* ``OPENSIPS_MI_URL=http://...``: an external MI endpoint (a lab OpenSIPS). Unless
  ``OPENSIPS_SIM_CONTROL_URL`` names a control API, the suite starts the fault proxy
  (``opensips-sim proxy``, ``opensips_sim/proxy.py``) in front of it and talks to the
  endpoint through it: journal, fault rules, state reads and resets come from the proxy, so
  no property skips for want of a control API (``OPENSIPS_CONFORMANCE_NO_PROXY=1``: no
  proxy, those properties skip by name); only viewer calls that the suite itself judges
  read-only are sent unless ``OPENSIPS_CONFORMANCE_ALLOW_WRITES=1``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal
from mcp import Client
from mcp.types import CallToolResult, ElicitResult

from opensips_mcp.audit import AuditLog
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings

MI_URL_ENV = "OPENSIPS_MI_URL"
#: With the suite's own simulator: ``http`` (default), ``fifo``, ``udp`` or ``unix``.
SIM_TRANSPORT_ENV = "OPENSIPS_SIM_TRANSPORT"
CONTROL_URL_ENV = "OPENSIPS_SIM_CONTROL_URL"
ALLOW_WRITES_ENV = "OPENSIPS_CONFORMANCE_ALLOW_WRITES"
NO_PROXY_ENV = "OPENSIPS_CONFORMANCE_NO_PROXY"

#: Thu Nov 26 10:42:44 2026 UTC: the moment of the real capture the quiet scenario copies.
CAPTURE_EPOCH = 1_795_689_764.0

#: MI client timeouts for calls that should simply answer (loopback, quiet simulator).
PATIENT_MI: dict[str, Any] = {
    "mi_connect_timeout": 1.0,
    "mi_read_timeout": 5.0,
    "mi_total_timeout": 10.0,
}
#: MI client timeouts for calls meeting faults: a lost answer costs one short read timeout.
FAULT_MI: dict[str, Any] = {
    "mi_connect_timeout": 1.0,
    "mi_read_timeout": 0.4,
    "mi_total_timeout": 8.0,
    "mi_max_attempts": 3,
}
#: How long a delayed answer is held: longer than the read timeout of ``FAULT_MI``, and
#: short enough (< 1.5 x) that a retry queued behind a delayed request still meets it.
FAULT_HOLD_SECONDS = 0.5

CONTROL_TIMEOUT = 15.0
CALL_TIMEOUT = 30.0


def env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Capabilities:
    """What the environment's target lets the suite do (known before it is opened)."""

    name: str
    control: bool
    writes: bool

    @classmethod
    def from_env(cls) -> Capabilities:
        """Read ``OPENSIPS_MI_URL``, ``OPENSIPS_SIM_CONTROL_URL`` and the writes opt-in."""
        mi_url = os.environ.get(MI_URL_ENV, "").strip()
        if not mi_url:
            return cls("simulator", control=True, writes=True)
        external_control = bool(os.environ.get(CONTROL_URL_ENV, "").strip())
        proxied = not external_control and not env_flag(NO_PROXY_ENV)
        return cls(
            f"the MI endpoint {mi_url}" + (" (through the fault proxy)" if proxied else ""),
            control=external_control or proxied,
            writes=env_flag(ALLOW_WRITES_ENV),
        )

    def skip_reason(self, needs: str, why: str) -> str | None:
        """Why a property that ``needs`` ``control`` or ``writes`` is skipped, if it is."""
        if needs == "control" and not self.control:
            return (
                f"needs the simulator control API ({why}); {self.name} has none "
                f"(set {CONTROL_URL_ENV} for an external simulator)"
            )
        if needs == "writes" and not self.writes:
            return (
                f"changes the target's state ({why}); {self.name} is read-only for this "
                f"suite unless {ALLOW_WRITES_ENV}=1"
            )
        return None


# --- the control API --------------------------------------------------------------------


class SimControl:
    """The simulator's control API (``/sim/...``) over HTTP, as any target would offer it."""

    def __init__(self, control_url: str) -> None:
        self.url = control_url.rstrip("/")
        self._http = httpx.Client(timeout=CONTROL_TIMEOUT)
        self._seen = 0

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, self.url + path, json=body)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Fresh state from the scenario, no fault rules, an empty journal.

        The simulator takes its command lock for a reset, so this also waits for any
        request still running (a delayed one) before the next example starts.
        """
        self._json("POST", "/reset", {"journal": True, "faults": True})

    def state(self) -> dict[str, Any]:
        """Every state part, as ``GET /sim/state`` lists them (``parts``)."""
        parts: dict[str, Any] = self._json("GET", "/state")["parts"]
        return parts

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        """Journal entries with ``seq`` greater than ``since``."""
        entries: list[dict[str, Any]] = self._json("GET", f"/journal?since={since}")["entries"]
        return entries

    def mark(self) -> int:
        """The newest ``seq`` now: entries after it are the ones the next calls cause."""
        newer = self.journal(self._seen)
        if newer:
            self._seen = max(e["seq"] for e in newer)
        return self._seen

    def since(self, mark: int) -> list[dict[str, Any]]:
        """Entries journaled after ``mark`` (see :meth:`mark`)."""
        return self.journal(mark)

    def add_faults(self, rules: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Add fault rules; answers them with their ids."""
        added: list[dict[str, Any]] = self._json("POST", "/faults", {"rules": list(rules)})["rules"]
        return added

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._json("DELETE", "/faults")

    def settings(self) -> dict[str, Any]:
        """The wire switches (``quirks``, ``idle_timeout``)."""
        current: dict[str, Any] = self._json("GET", "/settings")
        return current

    def set_settings(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change wire switches; answers the new settings."""
        current: dict[str, Any] = self._json("POST", "/settings", dict(changes))
        return current


# --- the target -------------------------------------------------------------------------


@dataclass
class Target:
    """The MI endpoint under test and what the suite may do with it."""

    name: str
    mi_url: str
    control: SimControl | None
    allow_writes: bool

    @property
    def is_external(self) -> bool:
        """True for an endpoint the suite did not start (``OPENSIPS_MI_URL``)."""
        return self.name != "simulator"

    def require_control(self, why: str) -> SimControl:
        """The control API (properties that need it are marked ``needs_control`` and
        skipped before they start when there is none)."""
        if self.control is None:
            pytest.skip(f"needs the simulator control API ({why})")
        return self.control


# --- MCP sessions -----------------------------------------------------------------------

_CODE = re.compile(r"^(?:Error executing tool \S+: )?([a-z_]+):")


@dataclass(frozen=True)
class ToolOutcome:
    """What one tool call returned, as the agent sees it."""

    is_error: bool
    code: str | None
    """The stable error code (``permission_denied``, ``outcome_unknown``, ...) of a failure."""
    structured: dict[str, Any] | None
    text: str

    @classmethod
    def of(cls, result: CallToolResult) -> ToolOutcome:
        """Read a ``CallToolResult``."""
        text = ""
        for block in result.content:
            if getattr(block, "type", None) == "text":
                text = str(getattr(block, "text", ""))
                break
        code = None
        if result.is_error:
            match = _CODE.match(text)
            code = match.group(1) if match else f"<no code: {text[:80]}>"
        return cls(bool(result.is_error), code, result.structured_content, text)


class AuditTail:
    """The audit records appended to one file since the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def skip_to_end(self) -> None:
        """Forget every record written so far."""
        self._offset = self.path.stat().st_size if self.path.exists() else 0

    def new_lines(self) -> list[str]:
        """Raw lines appended since the last call (each must be one JSON record)."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        return complete.decode("utf-8").splitlines()

    def new_records(self) -> list[dict[str, Any]]:
        """Call records appended since the last call, parsed (the ``pending`` records
        stored before writes and the files' first records are left out)."""
        parsed = [json.loads(line) for line in self.new_lines()]
        return [r for r in parsed if r.get("kind", "call") == "call"]


@dataclass
class McpSession:
    """One connected MCP client to a server running as one role, with its audit trail."""

    role: Role
    server: OpenSIPSMCP
    client: Client
    audit: AuditTail
    portal: BlockingPortal

    def call(self, tool: str, arguments: Mapping[str, Any] | None = None) -> ToolOutcome:
        """Call ``tool`` and wait for its result."""
        result = self.portal.call(self._call, tool, dict(arguments or {}))
        return ToolOutcome.of(result)

    async def _call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        with anyio.fail_after(CALL_TIMEOUT):
            return await self.client.call_tool(tool, arguments)

    def mi(self, command: str, params: Any = None) -> ToolOutcome:
        """``mi_execute`` of ``command`` with ``params`` (omitted when ``None``)."""
        arguments: dict[str, Any] = {"command": command}
        if params is not None:
            arguments["params"] = params
        return self.call("mi_execute", arguments)


@dataclass
class Harness:
    """The portal, the target and MCP sessions, opened on demand and closed at the end."""

    portal: BlockingPortal
    target: Target
    workdir: Path
    stack: ExitStack
    _sessions: dict[tuple[Role, str], McpSession] = field(default_factory=dict)

    def session(self, role: Role | str, profile: str = "patient") -> McpSession:
        """A connected session as ``role``; ``profile`` is ``patient`` or ``faults`` (timeouts),
        or ``declining``: ``--confirm destructive`` and a client whose user declines
        every confirmation.

        Sessions are kept for the whole run: each has its own server, principal
        (``conformance-<role>-<profile>``) and audit file.
        """
        role = Role(role)
        key = (role, profile)
        if key not in self._sessions:
            timeouts = FAULT_MI if profile == "faults" else PATIENT_MI
            audit_path = self.workdir / f"audit-{role.value}-{profile}.jsonl"
            settings = Settings(
                mi_url=self.target.mi_url,
                role=role,
                principal=f"conformance-{role.value}-{profile}",
                audit_log=audit_path,
                log_level="WARNING",
                confirm=ConfirmPolicy.DESTRUCTIVE if profile == "declining" else ConfirmPolicy.NONE,
                **timeouts,
            )
            server = build_server(settings, audit=AuditLog(audit_path))
            elicit = _decline if profile == "declining" else None
            client = self.stack.enter_context(
                self.portal.wrap_async_context_manager(Client(server, elicitation_callback=elicit))
            )
            tail = AuditTail(audit_path)
            tail.skip_to_end()
            self._sessions[key] = McpSession(role, server, client, tail, self.portal)
        return self._sessions[key]


async def _decline(context: Any, params: Any) -> ElicitResult:
    """The user of a ``declining`` session: says no to every confirmation."""
    return ElicitResult(action="decline")


def open_target(portal: BlockingPortal, stack: ExitStack) -> Target:
    """The target the environment selects (see the module docstring)."""
    mi_url = os.environ.get(MI_URL_ENV, "").strip()
    if mi_url:
        caps = Capabilities.from_env()
        control_url = os.environ.get(CONTROL_URL_ENV, "").strip()
        if not control_url and caps.control:
            from opensips_sim.proxy import running_proxy

            proxy = stack.enter_context(
                portal.wrap_async_context_manager(
                    running_proxy(mi_url, idle_timeout=2.0, upstream_timeout=30.0)
                )
            )
            mi_url, control_url = proxy.url, proxy.control_url
        control = SimControl(control_url) if control_url else None
        if control is not None:
            stack.callback(control.close)
        return Target(name=caps.name, mi_url=mi_url, control=control, allow_writes=caps.writes)
    from conformance.versions import target_version
    from opensips_sim.runner import running_simulator, serving_stream

    sim = stack.enter_context(
        portal.wrap_async_context_manager(
            running_simulator(
                "quiet",
                seed=1,
                frozen_at=CAPTURE_EPOCH,
                idle_timeout=2.0,
                opensips_version=target_version(),  # OPENSIPS_CONFORMANCE_VERSION
            )
        )
    )
    control = SimControl(sim.control_url)
    stack.callback(control.close)
    mi_url, name = sim.url, "simulator"
    kind = os.environ.get(SIM_TRANSPORT_ENV, "http").strip().lower()
    if kind != "http":  # the same simulator over mi_fifo / mi_datagram framing
        directory = tempfile.mkdtemp(prefix="conf-", dir="/tmp")  # unix paths are short
        stack.callback(shutil.rmtree, directory, True)
        mi_url = stack.enter_context(
            portal.wrap_async_context_manager(serving_stream(sim, kind, directory))
        )
        name = f"simulator over {kind}"
    return Target(name=name, mi_url=mi_url, control=control, allow_writes=True)
