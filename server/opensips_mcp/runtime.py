"""The one way tools run MI commands: resolve, gate, call, audit, map errors.

Tool authors use this module and nothing below it (never ``MIClient`` directly), so
every MI call of every tool is gated and audited the same way.

One MI command per tool call::

    from mcp.server.mcpserver import Context
    from opensips_mcp.runtime import runtime_of

    async def dlg_end_call(ctx: Context, dialog_id: str) -> EndCallResult:
        result = await runtime_of(ctx).run_mi(
            ctx, tool="dlg_end_call", command="dlg_end_dlg", params={"dialog_id": dialog_id}
        )
        return EndCallResult(ended=result.result == "OK")

Several MI commands in one tool call (one audit record lists them all)::

    async with runtime_of(ctx).tool_call(ctx, "lb_drain") as call:
        drain = {"destination_id": 3, "new_status": 0}
        call.check("lb_status", drain)           # gate the write before anything is sent
        listing = await call.mi("lb_list")       # then read
        done = await call.mi("lb_status", drain)

What happens inside :meth:`ToolCall.mi` (and :meth:`Runtime.run_mi`), in order:

1. **resolve** ``(command, params)`` with the catalog to the recipe OpenSIPS will pick
   and its level (a carried command's level included); a command outside the catalog
   is looked up in the live ``which`` for admins only (it is then ``admin``);
2. **gate**: :func:`opensips_mcp.gate.decide` for the caller; a denied call sends
   nothing and raises ``permission_denied``;
3. **version**: the instance's OpenSIPS version (learnt with ``version`` on first use,
   :mod:`opensips_mcp.versions`) picks its catalog: a command or recipe that version
   lacks is refused, nothing sent; the name sent is that version's own (4.x
   ``module:name``: never an ambiguous bare name);
4. **call** the MI client with the resolved level (so writes are never re-sent);
5. **map** every failure to a ``ToolError`` with a stable code (:mod:`opensips_mcp.errors`);
6. **audit**: before a write, destructive or admin recipe is sent, a ``pending``
   record is fsynced (if it cannot be, nothing is sent: ``audit_failed``); when the
   tool call ends, however it ends (result, error, cancellation), one ``call`` record
   is written, shielded from cancellation, before the result returns. A write whose
   record cannot be stored is reported as ``audit_failed``. At start, ``pending``
   records a dead server left without an outcome are closed (``unknown``).

Rules for tool authors:

* Use :meth:`ToolCall.check` to gate every write a tool will make *before* its
  preparatory reads, so a caller who may not write sends nothing at all.
* Let ``ToolError`` from :meth:`ToolCall.mi` propagate; catch it only to report a
  partial result, and then say so in the result.
* Raise :func:`opensips_mcp.errors.tool_error` for your own validation failures; any
  other exception becomes ``internal_error`` (logged here, never shown to the agent).
* A cancelled call: a write that was in flight is recorded as outcome ``unknown``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import anyio
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from opensips_mcp import errors
from opensips_mcp.admission import AdmissionError, AdmissionSettings, FairQueue
from opensips_mcp.agent_log import SLOW_SECONDS, notify
from opensips_mcp.audit import (
    AuditError,
    AuditLog,
    AuditRecord,
    CallRecord,
    Outcome,
    pending_record,
    redact,
    utc_now,
)
from opensips_mcp.catalog import (
    AccessLevel,
    Catalog,
    CatalogEntry,
    CatalogError,
    NotInVersion,
    Resolution,
)
from opensips_mcp.catalog.costs import Cost, CostModel, load_costs
from opensips_mcp.confirm.ask import ConfirmationNeeded, action_digest, ask
from opensips_mcp.confirm.effects import describe, instance_of
from opensips_mcp.errors import ErrorCode, MCPToolError
from opensips_mcp.gate import Principal, Role, decide
from opensips_mcp.instances import InstanceConfig
from opensips_mcp.mi import MIClient, MIConnectionError, MIError, MISettings, MITimeoutError
from opensips_mcp.mi.jsonrpc import unreadable_value
from opensips_mcp.settings import Settings
from opensips_mcp.tokens import principal_from_access_token
from opensips_mcp.versions import ServerVersion, VersionTracker

logger = logging.getLogger("opensips_mcp.runtime")

MIParams = Mapping[str, Any] | Sequence[Any] | None

CURRENT_INSTANCE: ContextVar[str | None] = ContextVar("opensips_mcp_instance", default=None)
"""The ``instance`` argument of the tool call being run (set by the tool wrapper in
:mod:`opensips_mcp.server`; ``None``: the default instance)."""


@dataclass(frozen=True, slots=True)
class MIResult:
    """A successful MI call made through the runtime."""

    command: str
    """The catalog (3.6) name of the command."""
    sent_as: str
    """The name sent on the wire: the server's version's own name (4.x: ``module:name``)."""
    result: Any
    """The JSON-RPC ``result`` value."""
    level: AccessLevel
    """The level the gate allowed (the carried command's level included)."""
    recipe: tuple[str, ...]
    """The parameter names of the recipe OpenSIPS matched."""
    attempts: int
    """HTTP requests sent (reads may be retried; writes never)."""
    elapsed: float
    """Seconds from the call to its answer."""


@dataclass(frozen=True, slots=True)
class LiveCommands:
    """What the live server's ``which`` said, cached for ``which_ttl`` seconds."""

    names: frozenset[str] | None
    """The commands the server offers, or ``None`` when ``which`` failed."""
    error: str | None
    """Why ``which`` failed (the agent-facing error text), when it did."""
    fetched_at: float


def runtime_of(ctx: Context) -> Runtime:
    """The :class:`Runtime` of the server handling ``ctx``."""
    server: Any = ctx.mcp_server
    runtime = getattr(server, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise errors.internal_error()
    return runtime


def _cancelled_exc() -> type[BaseException]:
    try:
        return anyio.get_cancelled_exc_class()
    except Exception:
        return asyncio.CancelledError


class Instance:
    """One managed OpenSIPS instance: its configuration, MI clients (one for heavy
    commands, with their own timeout), admission queue and live command cache."""

    def __init__(
        self,
        config: InstanceConfig,
        mi_settings: MISettings,
        admission: AdmissionSettings | None = None,
        heavy_timeout: float = 120.0,
        versions: VersionTracker | None = None,
    ) -> None:
        self.config = config
        self.mi_settings = mi_settings
        self.admission_settings = admission if admission is not None else AdmissionSettings()
        self.heavy_mi_settings = replace(
            mi_settings,
            read_timeout=heavy_timeout,
            total_timeout=heavy_timeout + mi_settings.connect_timeout,
            max_attempts=1,
        )
        self._mi: MIClient | None = None
        self._heavy_mi: MIClient | None = None
        self._admission: FairQueue | None = None
        self._live: LiveCommands | None = None
        self._live_lock: asyncio.Lock | None = None
        self.versions = versions
        """This instance's OpenSIPS version, learnt on first use (:mod:`opensips_mcp.versions`)."""

    @property
    def name(self) -> str:
        """The instance's configured name."""
        return self.config.name

    def open(self) -> None:
        """Create the MI client (no connection is made until the first call)."""
        self._mi = MIClient(self.mi_settings)
        self._heavy_mi = MIClient(self.heavy_mi_settings)
        self._admission = FairQueue(self.admission_settings)
        self._live_lock = asyncio.Lock()
        self._live = None
        if self.versions is not None:
            self.versions.invalidate()

    async def close(self) -> None:
        """Close the MI clients."""
        if self._mi is not None:
            mi, self._mi = self._mi, None
            heavy, self._heavy_mi = self._heavy_mi, None
            with anyio.CancelScope(shield=True):
                await mi.close()
                if heavy is not None:
                    await heavy.close()

    @property
    def mi(self) -> MIClient:
        """The MI client; only valid while the runtime is started."""
        if self._mi is None:
            raise RuntimeError("the runtime is not started")
        return self._mi

    @property
    def heavy_mi(self) -> MIClient:
        """The MI client of heavy commands (read timeout ``mi_heavy_timeout``)."""
        if self._heavy_mi is None:
            raise RuntimeError("the runtime is not started")
        return self._heavy_mi

    @property
    def admission(self) -> FairQueue:
        """The admission queue in front of this instance's MI (see
        :mod:`opensips_mcp.admission`); only valid while the runtime is started."""
        if self._admission is None:
            raise RuntimeError("the runtime is not started")
        return self._admission


class Runtime:
    """Per-process state shared by all tools: settings, catalog, one MI client per
    instance, audit log.

    Started and stopped by the server's lifespan (re-entrant: the in-memory transport
    runs the lifespan once per client connection).
    """

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        audit: AuditLog,
        costs: CostModel | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.audit = audit
        self.costs = costs if costs is not None else load_costs()
        self._users = 0
        self.default_instance = settings.default_instance_name
        self.instances: dict[str, Instance] = {
            config.name: Instance(
                config,
                self._mi_settings_for(config),
                self.admission_settings,
                settings.mi_heavy_timeout,
                VersionTracker(
                    catalog, settings.which_ttl, config.version_pin(settings.opensips_version)
                ),
            )
            for config in settings.fleet
        }

    @property
    def admission_settings(self) -> AdmissionSettings:
        """The settings of each instance's MI admission queue."""
        s = self.settings
        return AdmissionSettings(
            max_in_flight=s.mi_max_in_flight,
            max_queued=s.mi_max_queued,
            queue_timeout=s.mi_queue_timeout,
            rate=s.mi_rate,
            burst=s.mi_rate_burst,
            budget=s.mi_viewer_budget,
        )

    @property
    def admission(self) -> FairQueue:
        """The default instance's MI admission queue."""
        return self.instances[self.default_instance].admission

    def cost_of(self, resolution: Resolution) -> Cost | None:
        """The cost model's record of a resolved call, when measured. A carrier
        (``cluster_send_mi``...) costs what it carries when that is heavy: the peers run it."""
        carried = resolution.carried
        if carried is not None:
            cost = self.costs.lookup(carried.entry.name, carried.recipe.params)
            if cost is not None and cost.heavy:
                return cost
        return self.costs.lookup(resolution.entry.name, resolution.recipe.params)

    def may_run_heavy(self, principal: Principal) -> bool:
        """True when ``principal``'s role may run heavy recipes (``mi_heavy_role``)."""
        return principal.role.allows(self.settings.mi_heavy_role.max_level)

    def _mi_settings_for(self, config: InstanceConfig) -> MISettings:
        s = self.settings
        return MISettings(
            url=config.mi_url,
            connect_timeout=s.mi_connect_timeout,
            read_timeout=s.mi_read_timeout,
            total_timeout=s.mi_total_timeout,
            max_attempts=s.mi_max_attempts,
            ca_file=config.ca_file or s.mi_ca_file,
        )

    @property
    def mi_settings(self) -> MISettings:
        """The default instance's MI client settings."""
        return self.instances[self.default_instance].mi_settings

    async def start(self) -> None:
        """Open the MI clients (first user) and check the audit log is writable."""
        if self._users == 0:
            self.audit.prepare()
            await self.audit.recover()
            for instance in self.instances.values():
                instance.open()
        self._users += 1

    async def stop(self) -> None:
        """Close the MI clients when the last user stops."""
        self._users -= 1
        if self._users == 0:
            for instance in self.instances.values():
                await instance.close()

    @property
    def mi(self) -> MIClient:
        """The default instance's MI client; only valid between :meth:`start` and
        :meth:`stop`."""
        return self.instances[self.default_instance].mi

    def instance(self, name: str | None) -> Instance:
        """The instance called ``name`` (``None``: the default); raises the agent-facing
        ``unknown_instance`` error listing the configured names."""
        found = self.instances.get(name or self.default_instance)
        if found is None:
            raise errors.tool_error(
                ErrorCode.UNKNOWN_INSTANCE,
                f"no OpenSIPS instance is named {name!r}; configured: "
                f"{', '.join(self.instances)} (default {self.default_instance}). "
                "Pass one of them as 'instance', or omit it for the default.",
            )
        return found

    def principal(self) -> Principal:
        """Who is calling: the bearer token's principal over HTTP, else the configured one."""
        access = get_access_token()
        if access is None:
            return self.settings.stdio_principal
        principal = principal_from_access_token(access)
        if principal is None:
            return Principal(access.client_id, Role.VIEWER)
        return replace(principal, role=self.settings.cap(principal.role))

    def tool_call(
        self, ctx: Context[Any, Any] | None, tool: str, *, instance: str | None = None
    ) -> ToolCall:
        """Open a tool call: use as ``async with runtime.tool_call(ctx, "name") as call``.

        ``instance``: the OpenSIPS instance to talk to (default: the tool call's
        ``instance`` argument, else the default instance)."""
        mcp_request_id: str | None = None
        if ctx is not None:
            try:
                mcp_request_id = ctx.request_id
            except (AttributeError, LookupError, ValueError):
                mcp_request_id = None
        chosen = instance if instance is not None else CURRENT_INSTANCE.get()
        return ToolCall(self, tool, self.principal(), mcp_request_id, ctx, chosen)

    async def record_rejected(self, ctx: Context[Any, Any] | None, tool: str, error: str) -> None:
        """Audit a tool call refused before the tool ran (an unknown tool, or arguments
        that fail its input schema): nothing was sent, and the record says why."""
        call = self.tool_call(ctx, tool)
        call.record.refused = True
        call.record.outcome = "error"
        call.record.error = error
        await call._store()

    async def run_mi(
        self,
        ctx: Context | None,
        *,
        tool: str,
        command: str,
        params: MIParams = None,
    ) -> MIResult:
        """One gated, audited MI call as a whole tool call (see the module docstring)."""
        async with self.tool_call(ctx, tool) as call:
            return await call.mi(command, params)

    async def server_version(self, call: ToolCall | None) -> ServerVersion:
        """The OpenSIPS version of the MI endpoint and its catalog, learnt with ``version``
        on first use and again when it may have changed (:mod:`opensips_mcp.versions`);
        a fetch is recorded in ``call``'s audit record as an internal read."""
        instance = call.instance if call is not None else self.instance(None)
        tracker = instance.versions
        if tracker is None:
            raise RuntimeError("the instance has no version tracker")

        async def fetch() -> tuple[Any | None, str | None, bool]:
            record = CallRecord("version", None, AccessLevel.READ.value, "allow", internal=True)
            if call is not None:
                call.record.calls.append(record)
            try:
                resp = await instance.mi.call("version", None, level=AccessLevel.READ)
            except MIError as exc:
                record.attempts, record.outcome = exc.attempts, "error"
                reachable = not isinstance(exc, MIConnectionError | MITimeoutError)
                return None, errors.from_mi_error(exc, None).text, reachable
            record.attempts, record.outcome = resp.attempts, "ok"
            return resp.result, None, True

        return await tracker.get(fetch)

    async def _fetch_live(self, call: ToolCall | None, *, refresh: bool = False) -> LiveCommands:
        instance = call.instance if call is not None else self.instance(None)
        now = time.monotonic()
        cached = instance._live
        ttl = self.settings.which_ttl
        if not refresh and cached is not None and now - cached.fetched_at < ttl:
            return cached
        lock = instance._live_lock
        if lock is None:
            raise RuntimeError("the runtime is not started")
        async with lock:
            cached = instance._live
            if not refresh and cached is not None and time.monotonic() - cached.fetched_at < ttl:
                return cached
            record = CallRecord("which", None, AccessLevel.READ.value, "allow", internal=True)
            if call is not None:
                call.record.calls.append(record)
            who = call.principal if call is not None else None
            principal = who.name if who is not None else "internal"
            rate = who.mi_rate if who is not None else None
            burst = who.mi_rate_burst if who is not None else None
            try:
                async with instance.admission.admit(principal, rate=rate, burst=burst):
                    resp = await instance.mi.call("which", None, level=AccessLevel.READ)
            except AdmissionError as exc:
                record.outcome = "error"
                raise errors.from_admission(exc) from None
            except MIError as exc:
                record.attempts, record.outcome = exc.attempts, "error"
                live = LiveCommands(None, errors.from_mi_error(exc, None).text, time.monotonic())
            else:
                record.attempts, record.outcome = resp.attempts, "ok"
                names = resp.result
                if isinstance(names, list) and all(isinstance(n, str) for n in names):
                    live = LiveCommands(frozenset(names), None, time.monotonic())
                else:
                    live = LiveCommands(
                        None, "the server's 'which' reply is not a list of names", time.monotonic()
                    )
            if live.names is not None:
                # Failures are not cached: the next call asks again.
                instance._live = live
                if instance.versions is not None:
                    instance.versions.check_names(live.names)
            return live


class ToolCall:
    """One tool call: gates and runs its MI commands, then writes one audit record.

    Create with :meth:`Runtime.tool_call`; use as an async context manager.
    """

    def __init__(
        self,
        runtime: Runtime,
        tool: str,
        principal: Principal,
        mcp_request_id: str | None,
        ctx: Context[Any, Any] | None = None,
        instance: str | None = None,
    ) -> None:
        self.runtime = runtime
        self._instance: Instance | None = runtime.instances.get(
            instance or runtime.default_instance
        )
        self._instance_error = None if self._instance is not None else instance
        if self._instance is not None:
            principal = replace(principal, role=self._instance.config.cap(principal.role))
        self.principal = principal
        self.ctx = ctx
        self._confirmed: set[str] = set()
        self.record = AuditRecord(
            principal=principal.name,
            role=principal.role.value,
            tool=tool,
            request_id=uuid.uuid4().hex,
            mcp_request_id=mcp_request_id,
            started=utc_now(),
            instance=instance or runtime.default_instance,
        )
        self._t0 = time.perf_counter()
        self._in_flight: CallRecord | None = None
        self._intents = 0

    @property
    def instance(self) -> Instance:
        """The instance this call talks to; raises ``unknown_instance`` for a bad name."""
        if self._instance is None:
            return self.runtime.instance(self._instance_error)
        return self._instance

    @property
    def request_id(self) -> str:
        """The audit record's ``request_id`` (unique per tool call)."""
        return self.record.request_id

    async def __aenter__(self) -> ToolCall:
        if self._instance is None:
            # An unknown instance: refused before anything runs, and audited as such.
            self.record.refused = True
            self.record.outcome = "error"
            self.record.error = ErrorCode.UNKNOWN_INSTANCE.value
            await self._store()
            self.runtime.instance(self._instance_error)
        return self

    def resolve(
        self,
        command: str,
        params: MIParams = None,
        *,
        catalog: Catalog | None = None,
        known: Resolution | None = None,
    ) -> Resolution:
        """The catalog's resolution of a call; raises the agent-facing ``ToolError``.

        ``catalog``: one version's (default: every version's, whose levels are the same);
        ``known``: the call's resolution in every version's catalog (redacts a refusal).
        Commands outside the catalog resolve only from the cached live ``which`` (see
        :meth:`mi`, which refreshes it for admins).
        """
        cached = self.instance._live
        live = cached.names if cached is not None else None
        try:
            return (catalog or self.runtime.catalog).resolve(command, params, live_names=live)
        except CatalogError as exc:
            shown = (
                _redact_resolved(params, known)
                if known is not None
                else redact(params, _names_for(params))
            )
            self.record.calls.append(CallRecord(command, shown, None, "deny", "error"))
            raise errors.from_catalog_error(exc) from None

    def check(
        self,
        command: str,
        params: MIParams = None,
        *,
        catalog: Catalog | None = None,
        known: Resolution | None = None,
    ) -> Resolution:
        """Resolve and gate a call without sending it; raises ``ToolError`` if refused.

        A refusal is recorded in the audit record. Use it to gate a tool's writes before
        its preparatory reads.
        """
        resolution = self.resolve(command, params, catalog=catalog, known=known)
        self._gate(resolution, params)
        return resolution

    def _permits(self, resolution: Resolution) -> bool:
        entry, recipe = resolution.entry, resolution.recipe
        return decide(self.principal, entry.name, recipe.params, resolution.level).allowed

    def _deny(self, resolution: Resolution, params: MIParams) -> None:
        """Record ``resolution`` as refused here, nothing sent (its error follows)."""
        shown = _redact_resolved(params, resolution)
        name, level = resolution.entry.name, resolution.level.value
        self.record.calls.append(CallRecord(name, shown, level, "deny", "error"))

    def _gate(self, resolution: Resolution, params: MIParams) -> None:
        """Record and raise the refusal of ``resolution`` when the principal may not run it."""
        decision = decide(
            self.principal, resolution.entry.name, resolution.recipe.params, resolution.level
        )
        if not decision.allowed:
            self.record.calls.append(
                CallRecord(
                    resolution.entry.name,
                    _redact_resolved(params, resolution),
                    resolution.level.value,
                    "deny",
                    "denied",
                )
            )
            raise errors.denied(decision)

    async def _refuse_if_version_lacks(
        self, command: str, params: MIParams, resolution: Resolution
    ) -> None:
        """Raise ``not_in_version`` when the server's version lacks the command, whoever
        asks: no role could run it there, so that is the refusal worth reading. Only for a
        command some catalogued version lacks, and learning the version may send
        ``version`` (a read); the command itself is never sent. If the version cannot be
        learnt, nothing is raised (the caller's refusal stands)."""
        entry = resolution.entry
        if entry.live_only or self.instance.versions is None:
            return
        if all(entry.exists_in(v) for v in self.runtime.catalog.versions):
            return  # every version has it: the denial stands, and nothing is asked
        learnt = await self.runtime.server_version(self)
        if learnt.assumed:
            return  # the server's version is not known: no claim about what it lacks
        view = learnt.catalog
        try:
            view.resolve(command, params)
        except NotInVersion:
            self.resolve(command, params, catalog=view, known=resolution)  # records, raises
        except CatalogError:
            return  # another refusal (a recipe this version lacks...): the denial stands

    async def mi(self, command: str, params: MIParams = None) -> MIResult:
        """Resolve, gate, send and return one MI command (see the module docstring)."""
        if (
            command not in self.runtime.catalog
            and self.principal.role.allows(AccessLevel.ADMIN)
            and isinstance(command, str)
        ):
            # Only an admin may run a command the catalog does not know, so only then is
            # it worth asking the server whether it offers one.
            await self.runtime._fetch_live(self)
        # Gate first with every version's catalog (a recipe has one level in all versions),
        # so a refused call is never sent; a refused command the server's version lacks is
        # refused as such (learning the version may send `version`). Then the server's
        # version decides whether it has the command and recipe, and the name to send.
        resolution = self.resolve(command, params)
        if not self._permits(resolution):
            await self._refuse_if_version_lacks(command, params, resolution)
        self._gate(resolution, params)
        entry = resolution.entry
        problem = None if params is None else unreadable_value(params, resolution.recipe.params)
        if problem is not None:
            self._deny(resolution, params)
            raise errors.unreadable_params(entry.name, problem)
        wire = entry.name
        tracker = self.instance.versions
        early = self.runtime.cost_of(resolution)
        if early is not None and early.heavy and not self.runtime.may_run_heavy(self.principal):
            # Refused for its cost before the version look-up: nothing at all is sent.
            self._deny(resolution, params)
            raise errors.too_heavy(early, self.principal.role, self.runtime.settings.mi_heavy_role)
        if not entry.live_only:
            if entry.name == "version" and tracker is not None and tracker.current is None:
                view = tracker.assumed_catalog()  # its answer teaches the version
            else:
                view = (await self.runtime.server_version(self)).catalog
            resolution = self.check(command, params, catalog=view, known=resolution)
            entry = resolution.entry
            wire = view.send_name(entry)
        if self.runtime.settings.confirm.requires(resolution.level):
            await self._confirm(resolution, params)
        runtime = self.runtime
        cost = runtime.cost_of(resolution)
        heavy = cost is not None and cost.heavy
        record = CallRecord(
            entry.name, _redact_resolved(params, resolution), resolution.level.value, "allow"
        )
        self.record.calls.append(record)
        if cost is not None and heavy and not runtime.may_run_heavy(self.principal):
            record.decision, record.outcome = "deny", "error"
            raise errors.too_heavy(cost, self.principal.role, runtime.settings.mi_heavy_role)
        instance = self.instance
        client = instance.heavy_mi if heavy else instance.mi
        # Left set if the call is cancelled mid-way: __aexit__ then records the outcome.
        self._in_flight = record
        if resolution.level is not AccessLevel.READ:
            await self._intend(record, resolution, wire)
        try:
            async with instance.admission.admit(
                self.principal.name,
                heavy=entry.name if heavy else None,
                metered=self.principal.role is Role.VIEWER,
                estimate=cost.seconds if cost is not None else 0.0,
                rate=self.principal.mi_rate,
                burst=self.principal.mi_rate_burst,
            ):
                resp = await client.call(wire, params, level=resolution.level)
        except AdmissionError as exc:
            self._in_flight = None
            record.outcome = "error"
            raise errors.from_admission(exc) from None
        except MIError as exc:
            self._in_flight = None
            record.attempts = exc.attempts
            if isinstance(exc, MIConnectionError) and self.instance.versions is not None:
                self.instance.versions.invalidate()  # restarted, perhaps as another version
            error = errors.from_mi_error(exc, None if entry.live_only else entry)
            record.outcome = "unknown" if error.code is ErrorCode.OUTCOME_UNKNOWN else "error"
            if error.code is ErrorCode.OUTCOME_UNKNOWN:
                await self._report_unknown(entry)
            raise error from None
        except Exception:
            self._in_flight = None
            record.outcome = "error"
            raise
        self._in_flight = None
        record.attempts, record.outcome = resp.attempts, "ok"
        if resp.tries > 1 or resp.elapsed > SLOW_SECONDS:
            await self._report_answer(entry.name, resp.tries, resp.elapsed)
        if entry.name == "version" and tracker is not None:
            tracker.observe(resp.result)
        return MIResult(
            command=entry.name,
            sent_as=wire,
            result=resp.result,
            level=resolution.level,
            recipe=resolution.recipe.params,
            attempts=resp.attempts,
            elapsed=resp.elapsed,
        )

    async def _confirm(self, resolution: Resolution, params: MIParams) -> None:
        """Ask the user to confirm this action (``--confirm``); raise unless the answer is yes.

        The statement is computed from cheap reads of the live state (recorded as
        internal calls). Nothing is sent when the answer is not yes.
        """
        shown = _redact_resolved(params, resolution)
        digest = action_digest(
            self.principal.name, resolution.entry.name, [self.instance.name, shown]
        )
        if digest in self._confirmed:
            return
        question = await describe(
            resolution,
            params,
            self._internal_read,
            instance_of(self.instance.name, self.instance.mi_settings.url),
        )
        answer = await ask(self.ctx, question, digest)
        self.record.confirmation = {
            "command": resolution.entry.name,
            "question": question,
            "answer": answer,
        }
        if answer == "accept":
            self._confirmed.add(digest)
            return
        self.record.calls.append(
            CallRecord(
                resolution.entry.name,
                shown,
                resolution.level.value,
                "allow",
                "declined" if answer != "unavailable" else "denied",
            )
        )
        if answer == "unavailable":
            await notify(
                self.ctx,
                "warning",
                f"'{resolution.entry.name}' was refused: it needs the user's confirmation and "
                "this client cannot ask (no elicitation capability). Nothing was sent.",
                command=resolution.entry.name,
            )
            raise errors.tool_error(
                ErrorCode.CONFIRMATION_UNAVAILABLE,
                f"'{resolution.entry.name}' is {resolution.level.with_article} action and this "
                "server asks the user to confirm such actions, but this client cannot ask (it "
                "did not declare the MCP elicitation capability). Nothing was sent. Use a "
                "client that supports elicitation, or have the operator of this server start "
                "it with --confirm none (or --confirm admin) if unconfirmed changes are "
                "acceptable.",
            )
        await notify(
            self.ctx,
            "notice",
            f"the user {'declined' if answer == 'decline' else 'cancelled'} the confirmation "
            f"of '{resolution.entry.name}': nothing was sent.",
            command=resolution.entry.name,
            question=question,
            answer=answer,
        )
        raise errors.tool_error(
            ErrorCode.DECLINED,
            f"the user {'declined' if answer == 'decline' else 'cancelled'} the confirmation "
            f"of '{resolution.entry.name}': nothing was sent. Do not retry unless the user "
            f"asks for it. The question was: {question}",
        )

    async def _report_answer(self, command: str, tries: int, elapsed: float) -> None:
        """Tell the agent (MCP logging) about a retried call or a slow answer."""
        if tries > 1:
            await notify(
                self.ctx,
                "info",
                f"'{command}' was retried: answered on try {tries} (the earlier tries never "
                "reached OpenSIPS, so nothing ran twice).",
                command=command,
                tries=tries,
            )
        if elapsed > SLOW_SECONDS:
            await notify(
                self.ctx,
                "warning",
                f"OpenSIPS took {elapsed:.1f} s to answer '{command}' "
                f"(slow: more than {SLOW_SECONDS:.0f} s).",
                command=command,
                elapsed_seconds=round(elapsed, 3),
            )

    async def _report_unknown(self, entry: CatalogEntry) -> None:
        """A write's outcome is unknown: tell the agent, naming the read that shows the
        state (not run here: on a busy server it may be a large dump; the agent decides)."""
        check = entry.check_after
        advice = (
            f"Read the state with '{check}' (mi_execute) before retrying anything."
            if check
            else "Read the state with a read command before retrying anything."
        )
        await notify(
            self.ctx,
            "warning",
            f"'{entry.name}' was sent and no answer came: it may have been applied. {advice}",
            command=entry.name,
            check_with=check,
        )

    async def _internal_read(self, command: str, params: Mapping[str, Any] | None) -> Any:
        """A read the server makes for its own needs (a confirmation statement): recorded
        as an internal call; None when it fails."""
        record = CallRecord(command, redact(params), AccessLevel.READ.value, "allow", internal=True)
        self.record.calls.append(record)
        wire = command
        entry = self.runtime.catalog.get(command)
        try:
            if entry is not None:
                wire = (await self.runtime.server_version(self)).catalog.send_name(entry)
            sent = dict(params) if params is not None else None
            who = self.principal
            async with self.instance.admission.admit(
                who.name, rate=who.mi_rate, burst=who.mi_rate_burst
            ):
                resp = await self.instance.mi.call(wire, sent, level=AccessLevel.READ)
        except AdmissionError:
            record.outcome = "error"
            return None
        except MIError as exc:
            record.attempts, record.outcome = exc.attempts, "error"
            return None
        record.attempts, record.outcome = resp.attempts, "ok"
        return resp.result

    async def _intend(self, record: CallRecord, resolution: Resolution, wire: str) -> None:
        """Store the ``pending`` record of a write before it is sent (shielded: once
        asked, it completes); if it cannot be stored, the write is not sent."""
        self._intents += 1
        call_id = f"{self.record.request_id}-{self._intents}"
        pending = pending_record(
            request_id=self.record.request_id,
            call_id=call_id,
            mcp_request_id=self.record.mcp_request_id,
            principal=self.record.principal,
            role=self.record.role,
            instance=self.record.instance,
            tool=self.record.tool,
            command=record.command,
            sent_as=wire,
            recipe=resolution.recipe.params,
            params=record.params,
            level=resolution.level.value,
        )
        with anyio.CancelScope(shield=True):
            try:
                seq = await self.runtime.audit.intend(pending)
            except Exception as exc:
                logger.error("pending record %s not stored: %s", call_id, exc)
                seq = None
        if seq is None:
            self._in_flight = None
            record.outcome = "error"
            raise errors.audit_intent_failed(record.command)
        record.call_id, record.pending_seq = call_id, seq

    async def catalog(self) -> Catalog:
        """The catalog of the server's OpenSIPS version (a ``version`` fetch, when needed,
        is recorded in this tool call)."""
        return (await self.runtime.server_version(self)).catalog

    async def live_commands(self, *, refresh: bool = False) -> LiveCommands:
        """The live server's commands (cached; a fetch is recorded in this tool call)."""
        return await self.runtime._fetch_live(self, refresh=refresh)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        record = self.record
        replacement: BaseException | None = None
        if exc is None:
            record.outcome = "ok"
        elif isinstance(exc, ConfirmationNeeded):
            # First round of a 2026-07-28 client: the question goes back as the result;
            # the call is repeated with the answer, and that round is audited.
            return
        elif isinstance(exc, MCPToolError):
            record.error = exc.code.value
            outcomes: dict[ErrorCode, Outcome] = {
                ErrorCode.PERMISSION_DENIED: "denied",
                ErrorCode.OUTCOME_UNKNOWN: "unknown",
                ErrorCode.DECLINED: "declined",
                ErrorCode.CONFIRMATION_UNAVAILABLE: "denied",
            }
            record.outcome = outcomes.get(exc.code, "error")
        elif isinstance(exc, ToolError):
            record.error = "tool_error"
            record.outcome = "error"
        elif isinstance(exc, _cancelled_exc()):
            record.cancelled = True
            in_flight = self._in_flight
            if in_flight is not None:
                may_apply = in_flight.level != AccessLevel.READ.value
                in_flight.outcome = "unknown" if may_apply else "error"
                record.outcome = in_flight.outcome
            else:
                record.outcome = "error"
            record.error = "cancelled"
        elif isinstance(exc, Exception):
            logger.error(
                "tool %s failed unexpectedly (request %s)",
                record.tool,
                record.request_id,
                exc_info=(type(exc), exc, tb),
            )
            record.outcome, record.error = "error", ErrorCode.INTERNAL_ERROR.value
            replacement = errors.internal_error()
        else:
            record.outcome, record.error = "error", type(exc).__name__
        record.duration_ms = (time.perf_counter() - self._t0) * 1000
        stored = await self._store()
        if not stored and exc is None and _changes_state(record):
            first = record.calls[0].command if record.calls else None
            raise errors.audit_failed(first)
        if replacement is not None:
            raise replacement from None

    async def _store(self) -> bool:
        with anyio.CancelScope(shield=True):
            try:
                await self.runtime.audit.write(self.record.as_json())
            except AuditError as exc:
                logger.error("audit record %s not stored: %s", self.record.request_id, exc)
                return False
            except Exception:
                logger.exception("audit record %s not stored", self.record.request_id)
                return False
        return True


def _changes_state(record: AuditRecord) -> bool:
    return any(
        c.level not in (None, AccessLevel.READ.value) and c.decision == "allow"
        for c in record.calls
    )


def _names_for(params: MIParams) -> Sequence[str] | None:
    return None if isinstance(params, Mapping) or params is None else ()


def _redact_resolved(params: MIParams, resolution: Resolution) -> Any:
    names = resolution.recipe.params
    if isinstance(params, Mapping):
        shown = redact(params)
        carried = resolution.carried
        if carried is not None and isinstance(params.get("cmd_params"), list):
            shown["cmd_params"] = redact(params["cmd_params"], carried.recipe.params)
        return shown
    if params is None:
        return None
    shown_list = redact(params, names)
    carried = resolution.carried
    if carried is not None and "cmd_params" in names:
        index = names.index("cmd_params")
        if index < len(params) and isinstance(params[index], list):
            shown_list[index] = redact(params[index], carried.recipe.params)
    return shown_list


def entry_levels_allowed(entry: CatalogEntry, role: Role) -> list[AccessLevel]:
    """The distinct recipe levels of ``entry`` that ``role`` may use, lowest first."""
    levels = {r.level for r in entry.recipes} or {AccessLevel.ADMIN}
    return sorted((lv for lv in levels if role.allows(lv)), key=lambda lv: lv.rank)
