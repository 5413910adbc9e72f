"""The simulator engine: one world, its scenario, the journal, fault rules and the rule that
only one MI command runs at a time (OpenSIPS runs MI in a single httpd process).

The wire (``wire.py``) hands it request bodies and turns the :class:`MIReply` it gets back
into bytes; the control API (``control.py``) calls its other methods.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from . import dispatch, jsonrpc, scenarios
from .clock import Clock
from .costs import command_cost
from .errors import METHOD_NOT_FOUND, SERVER_ERROR, MIBlocked, MIError
from .faults import FaultPlan, FaultRule
from .journal import Journal
from .persona import persona
from .registry import PartialFailure, load_all_handlers
from .state.core import CoreState
from .world import World

ReplyKind = Literal["json", "empty", "close", "reset", "truncate", "malformed", "stall"]
MALFORMED_BODY = b'{"jsonrpc":"2.0","result":<opensips-sim: malformed answer>'
PARTIAL_ERROR = MIError(500, "Operation failed")
HANDLER_FAILED = MIError(SERVER_ERROR, "Server error", "Command handler returned null")


def load_all_parts() -> None:
    """Import every state part and command handler so they register."""
    from . import state

    for mod in pkgutil.iter_modules(state.__path__):
        importlib.import_module(f"{state.__name__}.{mod.name}")
    load_all_handlers()


class ClusterControl(Protocol):
    """What the control API's ``/sim/cluster`` needs of a simulated cluster."""

    def describe(self) -> dict[str, Any]:
        """Nodes, faults and link states."""

    async def apply(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Carry out a node fault; raises ``ValueError`` on a bad request."""


@dataclass
class Settings:
    """Wire behaviour switches.

    ``quirks``: hold back the end of empty-body replies (202, 400, 405, 500) until another
    request arrives, as real mi_http does. ``idle_timeout``: seconds of silence after which a
    connection is closed (real: 30), which also bounds ``stall`` faults and held-back ends.
    """

    quirks: bool = True
    idle_timeout: float = 30.0
    cost_scale: float = 0.0
    """Hold the MI for ``cost * cost_scale`` seconds per command (see ``costs.py``); 0: none."""
    opensips_version: str = "3.6.8"
    """The OpenSIPS version impersonated (:mod:`opensips_sim.persona`)."""
    receive_buf_size: int = 1024
    """httpd's ``receive_buf_size`` (3.5+; 1024 is OpenSIPS's default): a request body
    larger than this is dropped, so mi_http answers 400 without running anything."""
    buf_size: int | None = None
    """httpd's ``buf_size``: an answer larger than this cannot be printed, and mi_http
    answers 500 without a body after running the command (measured on a real 3.6.8: a
    13 MB ``ul_dump``). None: no bound (the real default is a quarter of pkg memory)."""


@dataclass
class MIReply:
    """What the wire should send for one MI request."""

    kind: ReplyKind
    status: int = 200
    body: bytes = b""
    unprintable: bool = False
    """The answer was built but could not be printed (an ``id`` of a type OpenSIPS cannot
    echo): mi_http answers 500, mi_fifo ``failed to print response``."""


class Simulator:
    """A simulated OpenSIPS 3.6 MI endpoint without its transport."""

    def __init__(
        self,
        scenario: str | Mapping[str, Any] = "quiet",
        *,
        seed: int = 0,
        clock: Clock | None = None,
        faults: Sequence[Mapping[str, Any]] = (),
        settings: Settings | None = None,
    ) -> None:
        load_all_parts()
        self.seed = seed
        self.clock = clock or Clock()
        self.settings = settings or Settings()
        self.persona = persona(self.settings.opensips_version)
        self.journal = Journal()
        self.faults = FaultPlan(seed)
        self.faults.extend(faults)
        self.lock = asyncio.Lock()
        self.scenario: dict[str, Any] = {}
        #: The simulated cluster this node belongs to (``opensips-sim --nodes``), if any.
        self.cluster: ClusterControl | None = None
        #: Called with every new world (load, reset), before it serves a request.
        self.world_hooks: list[Callable[[World], None]] = []
        #: Called after each command ran, whatever it answered (a simulated cluster replicates).
        self.after_apply: list[Callable[[], None]] = []
        #: Why the simulated OpenSIPS is down (see `crash`); None while it serves.
        self.crashed: str | None = None
        #: Why its MI process waits forever (a leaked lock, ``MIBlocked``): every MI
        #: request then stalls unanswered until `reset`; None while it answers.
        self.blocked: str | None = None
        #: Called with the reason when a request crashes the simulated OpenSIPS.
        self.crash_hooks: list[Callable[[str], None]] = []
        self.world = World(seed=seed, clock=self.clock)
        self.load(scenario)

    # ---- state ---------------------------------------------------------------------------

    def load(self, scenario: str | Mapping[str, Any]) -> None:
        """Make ``scenario`` the current one and seed a fresh world from it."""
        data = self.persona.apply(scenarios.load(scenario))
        world = World(seed=self.seed, clock=self.clock)
        world.load({k: v for k, v in data.items() if k != "seed"})
        for hook in self.world_hooks:
            hook(world)
        self.world = world
        self.scenario = data

    def reset(self, seed: int | None = None) -> None:
        """A fresh world from the current scenario (journal and fault rules are kept); a
        crashed or blocked server serves again, as a restarted OpenSIPS would."""
        if seed is not None:
            self.seed = seed
        self.crashed = self.blocked = None
        self.load(self.scenario)

    def crash(self, reason: str) -> None:
        """A request that crashes the real OpenSIPS arrived: stop answering MI (every later
        request is closed unanswered, on every transport, until `reset`) and tell the
        `crash_hooks` (``opensips-sim`` exits, as OpenSIPS does)."""
        self.crashed = reason
        for hook in self.crash_hooks:
            hook(reason)

    async def reset_async(self, seed: int | None = None) -> None:
        """``POST /sim/reset``: :meth:`reset` (a fault proxy restores its upstream instead)."""
        self.reset(seed)

    async def read_state(self) -> dict[str, Any]:
        """``GET /sim/state``: :meth:`state` (a fault proxy reads its upstream instead)."""
        return self.state()

    def state(self) -> dict[str, Any]:
        """The whole state as JSON (after letting time pass)."""
        self.world.tick()
        return {
            "scenario": self.scenario.get("name"),
            "seed": self.seed,
            "now": self.clock.now(),
            "parts": self.world.snapshot(),
        }

    # ---- journal helpers -----------------------------------------------------------------

    def record_http(self, http_method: str, path: str, status: int | None, outcome: str) -> None:
        """Journal a request the MI layer never saw (wrong method, path, content type)."""
        self.journal.record(
            self._entry(http_method, path) | {"http_status": status, "outcome": outcome}
        )

    def _entry(self, http_method: str, path: str) -> dict[str, Any]:
        return {
            "time": self.clock.now(),
            "http_method": http_method,
            "path": path,
            "http_status": None,
            "method": None,
            "params": None,
            "id": None,
            "notification": False,
            "recipe": None,
            "level": None,
            "applied": False,
            "partial": None,
            "fault": None,
            "error_code": None,
            "outcome": None,
        }

    # ---- MI ------------------------------------------------------------------------------

    async def handle_mi(
        self, body: bytes, *, http_method: str = "POST", path: str = "/mi"
    ) -> MIReply:
        """Answer one MI request body; journals it and applies fault rules."""
        entry = self.journal.record(self._entry(http_method, path))
        if self.crashed is not None:
            return self._done(entry, MIReply("close"), None)
        if self.blocked is not None:
            return self._done(entry, MIReply("stall"), None)
        request = jsonrpc.parse(body)
        entry["method"] = request.method
        entry["params"] = request.params
        entry["id"] = request.id if request.id_printable else repr(request.id)
        entry["notification"] = request.notification
        if request.parsed and request.method is None:
            module = self.persona.segfaults_without_method(http_method)
            if module is not None:
                self.crash(
                    f"a request without a string method crashes OpenSIPS "
                    f"{self.persona.version}: {module} segfaults on it and the whole server stops"
                )
                self._done(entry, MIReply("close"), None)
                entry["outcome"] = "crashed"
                return MIReply("close")

        envelope = jsonrpc.envelope_error(request)
        if envelope is not None:
            if not request.id_printable:
                return self._done(entry, MIReply("empty", 500, unprintable=True), None)
            return self._done(entry, self._error(envelope, request), envelope.code)

        method = request.method or ""
        resolved: dispatch.Resolved | None = None
        failure: MIError | None = None
        try:
            offered = self.world.get(CoreState).commands
            if not self.persona.is_default:
                method = self.persona.translate(method)  # 3.4 / 4.x names -> 3.6 handler
            elif offered is not None and method not in offered:
                raise MIError(METHOD_NOT_FOUND, "Method not found")  # a snapshot's `which`
            resolved = dispatch.resolve(
                method,
                request.params,
                recipes=self.persona.recipes.get(method),
                info=self.persona.new_commands.get(method),
            )
            entry["recipe"] = list(resolved.recipe)
            entry["level"] = resolved.level
        except MIError as exc:
            failure = exc

        rule = self.faults.pick(method, entry["level"])
        if rule is not None:
            entry["fault"] = {"rule": rule.id, "action": rule.action, "when": rule.when}
            if rule.when == "before_apply" and rule.action not in ("delay", "partial"):
                placeholder = self._error(HANDLER_FAILED, request).body
                return self._done(entry, self._fault_reply(rule, placeholder), None)

        answer: MIReply
        async with self.lock:
            if rule is not None and rule.action == "delay" and rule.when == "before_apply":
                await asyncio.sleep(rule.seconds)
            if resolved is None:
                assert failure is not None
                entry["error_code"] = failure.code
                answer = self._error(failure, request)
            else:
                answer = self._execute(resolved, request, entry, rule)
            for hook in self.after_apply:
                hook()
            busy = self.settings.cost_scale * command_cost(method, request.params, self.world)
            if busy > 0:
                entry["busy_s"] = round(busy, 6)
                await asyncio.sleep(busy)  # executing, as OpenSIPS would: one at a time

        if rule is not None and rule.when == "after_apply" and rule.action != "partial":
            if rule.action == "delay":
                await asyncio.sleep(rule.seconds)
            else:
                return self._done(entry, self._fault_reply(rule, answer.body), entry["error_code"])
        if request.notification:
            return self._done(entry, MIReply("empty", 202), entry["error_code"])
        return self._done(entry, answer, entry["error_code"])

    def _execute(
        self,
        resolved: dispatch.Resolved,
        request: jsonrpc.Request,
        entry: dict[str, Any],
        rule: FaultRule | None,
    ) -> MIReply:
        partial = rule.targets if rule is not None and rule.action == "partial" else None
        try:
            result = dispatch.execute(resolved, self.world, partial=partial)
        except MIError as exc:
            entry["error_code"] = exc.code
            return self._error(exc, request)
        except MIBlocked as exc:
            self.blocked = str(exc)
            return MIReply("stall")
        except PartialFailure as exc:
            entry["partial"] = exc.applied
            assert rule is not None
            if rule.answer == "http_500":
                return MIReply("empty", 500)
            entry["error_code"] = PARTIAL_ERROR.code
            return self._error(PARTIAL_ERROR, request)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            entry["error_code"] = HANDLER_FAILED.code
            return self._error(HANDLER_FAILED, request)
        entry["applied"] = True
        return MIReply("json", 200, jsonrpc.result_body(result, request.id))

    @staticmethod
    def _error(error: MIError, request: jsonrpc.Request) -> MIReply:
        return MIReply("json", 200, jsonrpc.error_body(error, request.id))

    @staticmethod
    def _fault_reply(rule: FaultRule, body: bytes) -> MIReply:
        if rule.action in ("http_500", "http_503"):
            return MIReply("empty", int(rule.action[-3:]))
        if rule.action == "truncate":
            return MIReply("truncate", 200, body)
        if rule.action == "malformed":
            return MIReply("malformed", 200, MALFORMED_BODY)
        if rule.action == "reset":
            return MIReply("reset")
        return MIReply("stall")

    @staticmethod
    def _done(entry: dict[str, Any], reply: MIReply, error_code: int | None) -> MIReply:
        entry["error_code"] = error_code
        entry["http_status"] = None if reply.kind in ("reset", "stall", "close") else reply.status
        entry["outcome"] = {
            "json": "answered",
            "empty": "no_answer",
            "close": "closed",
            "reset": "reset",
            "truncate": "truncated",
            "malformed": "malformed",
            "stall": "stalled",
        }[reply.kind]
        return reply
