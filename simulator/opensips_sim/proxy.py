"""The fault proxy: the simulator's control API, fault rules and journal in front of a real
OpenSIPS (``opensips-sim proxy --upstream http://127.0.0.1:8990/mi``).

MI requests are forwarded to the upstream, each in one write (``upstream.py``), one at a
time; the answer goes back through the simulator's wire (``wire.py``), which answers HTTP
exactly as mi_http does (an empty-body answer keeps its held-back end). Fault rules are the
simulator's (``faults.py``):

* ``before_apply`` faults do not forward: the request never reaches OpenSIPS
  (``delay`` waits, then forwards);
* ``after_apply`` faults forward, wait for OpenSIPS's answer, then lose or spoil it
  (``http_500``/``http_503``, ``reset``, ``truncate``, ``malformed``, ``stall``; ``delay``
  answers late);
* ``partial`` cannot be done to a real server: such a rule never fires here.

The journal has the simulator's entries: ``level`` and ``recipe`` come from the simulator's
own command registry (catalog-independent; ``level`` is ``null`` for a command the simulator
does not implement), ``applied`` is true when OpenSIPS answered a
result (not an error), false when it answered an error or the request was not forwarded,
and ``null`` when it was forwarded but no answer came back (the upstream failed).
``method`` is the name sent; before an OpenSIPS 3.4 or 4.x upstream, fault rules match and
levels come from the 3.x command that name runs (the persona of the upstream's ``version``,
so a rule for ``ds_set_state`` fires on ``dispatcher:set_state``).

Control API differences from the simulator (``control.py``): ``GET /sim/state`` reads the
upstream (``snapshot.py``, without values that move by themselves: ``snapshot.stable``),
``POST /sim/reset`` puts back what the proxy read at start for
what MI can write back (registrations, dispatcher states, drouting gateway states), not
dialogs that were ended; ``POST /sim/scenario`` is refused; ``/sim/clock`` is the proxy's own
clock (it moves nothing upstream).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from . import dispatch, jsonrpc
from .errors import MIError
from .persona import DEFAULT, VERSIONS, Persona, persona
from .simulator import HANDLER_FAILED, MIReply, Settings, Simulator
from .snapshot import read_scenario, restore, stable
from .upstream import Upstream, UpstreamError
from .wire import WireServer


class ProxySimulator(Simulator):
    """A :class:`Simulator` whose MI requests are answered by an upstream OpenSIPS."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        seed: int = 0,
        settings: Settings | None = None,
    ) -> None:
        self.upstream = upstream
        self._ready = False
        super().__init__({"name": "upstream"}, seed=seed, settings=settings)
        self._ready = True
        #: What the upstream held when the proxy started (``POST /sim/reset`` restores it).
        self.baseline: dict[str, Any] | None = None

    async def start(self) -> None:
        """Read the upstream once: it must answer, and its state is the reset baseline.
        Its ``version`` picks the persona that maps its names (4.x ``module:name``) to the
        commands fault rules and journal levels name (:func:`upstream_persona`)."""
        self.baseline = await read_scenario(self.upstream)
        self.persona = upstream_persona(self.baseline)

    # ---- control API ----------------------------------------------------------------------

    def load(self, scenario: str | Mapping[str, Any]) -> None:
        """A proxy serves the upstream's state: no scenario can be loaded."""
        if self._ready:
            raise ValueError("a proxy serves the upstream's state; it loads no scenario")
        super().load(scenario)

    async def read_state(self) -> dict[str, Any]:
        """The upstream's state, read through MI, as scenario sections without what moves
        by itself (``snapshot.stable``: seconds up, left or ago, statistics)."""
        parts = stable(await read_scenario(self.upstream))
        return {
            "scenario": "upstream",
            "upstream": self.upstream.url,
            "seed": self.seed,
            "now": self.clock.now(),
            "parts": parts,
        }

    async def reset_async(self, seed: int | None = None) -> None:
        """Put back the baseline's registrations, dispatcher and gateway states."""
        if seed is not None:
            self.seed = seed
        if self.baseline is not None:
            await restore(self.upstream, self.baseline)

    # ---- MI ------------------------------------------------------------------------------

    async def handle_mi(
        self, body: bytes, *, http_method: str = "POST", path: str = "/mi"
    ) -> MIReply:
        """Forward one MI request body, with the fault rules and the journal."""
        entry = self.journal.record(self._entry(http_method, path))
        request = jsonrpc.parse(body)
        entry["method"] = request.method
        entry["params"] = request.params
        entry["id"] = request.id if request.id_printable else repr(request.id)
        entry["notification"] = request.notification
        method = request.method or ""
        if not self.persona.is_default:  # the upstream's 4.x / 3.4 name -> the 3.6 command
            with contextlib.suppress(MIError):
                method = self.persona.translate(method)
        if jsonrpc.envelope_error(request) is None:
            with contextlib.suppress(MIError):
                resolved = dispatch.resolve(
                    method,
                    request.params,
                    recipes=self.persona.recipes.get(method),
                    info=self.persona.new_commands.get(method),
                )
                entry["recipe"] = list(resolved.recipe)
                # the simulator knows the level of the commands it implements; of the
                # others it knows nothing (its "admin" for them is a placeholder)
                entry["level"] = resolved.level if resolved.impl is not None else None

        rule = self.faults.pick(method, entry["level"])
        if rule is not None and rule.action == "partial":
            rule.fired -= 1  # a real server cannot be made to apply part of a command
            rule = None
        if rule is not None:
            entry["fault"] = {"rule": rule.id, "action": rule.action, "when": rule.when}
            if rule.when == "before_apply" and rule.action != "delay":
                placeholder = self._error(HANDLER_FAILED, request).body
                return self._done(entry, self._fault_reply(rule, placeholder), None)

        async with self.lock:
            if rule is not None and rule.action == "delay" and rule.when == "before_apply":
                await asyncio.sleep(rule.seconds)
            answer = await self._forward(body, entry)

        if rule is not None and rule.when == "after_apply":
            if rule.action == "delay":
                await asyncio.sleep(rule.seconds)
            else:
                return self._done(entry, self._fault_reply(rule, answer.body), entry["error_code"])
        return self._done(entry, answer, entry["error_code"])

    async def _forward(self, body: bytes, entry: dict[str, Any]) -> MIReply:
        try:
            reply = await self.upstream.post(body)
        except UpstreamError:
            entry["applied"] = None
            return MIReply("close")
        if reply.status != 200:
            return MIReply("empty", reply.status)
        with contextlib.suppress(ValueError, AttributeError):
            answer = reply.json()
            if isinstance(answer, dict) and "error" in answer:
                error = answer["error"]
                entry["error_code"] = error.get("code") if isinstance(error, dict) else None
            else:
                entry["applied"] = True
        return MIReply("json", 200, reply.body)


@dataclass
class RunningProxy:
    """A fault proxy listening on ``host:port``."""

    proxy: ProxySimulator
    host: str
    port: int

    @property
    def url(self) -> str:
        """The MI endpoint, as an MI client is configured with it."""
        return f"http://{self.host}:{self.port}/mi"

    @property
    def control_url(self) -> str:
        """The control API root."""
        return f"http://{self.host}:{self.port}/sim"

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        """Journal entries newer than ``since``."""
        return self.proxy.journal.entries(since)


def upstream_persona(scenario: Mapping[str, Any]) -> Persona:
    """The persona of the upstream's version (its ``version`` answer, read into the
    snapshot's ``core.server``): the same version, else the same major.minor, else 3.6.8."""
    core = scenario.get("core")
    server = str(core.get("server", "")) if isinstance(core, Mapping) else ""
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", server)
    if found is None:
        return persona(DEFAULT)
    version = ".".join(found.groups())
    same = [v for v in VERSIONS if v == version] or [
        v for v in VERSIONS if v.split(".")[:2] == version.split(".")[:2]
    ]
    return persona(same[0] if same else DEFAULT)


@asynccontextmanager
async def running_proxy(
    upstream_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    faults: Sequence[Mapping[str, Any]] = (),
    quirks: bool = True,
    idle_timeout: float = 30.0,
    upstream_timeout: float = 10.0,
) -> AsyncIterator[RunningProxy]:
    """Start a fault proxy before ``upstream_url`` (read once first) and stop it on exit."""
    upstream = Upstream(upstream_url, timeout=upstream_timeout)
    proxy = ProxySimulator(
        upstream, seed=seed, settings=Settings(quirks=quirks, idle_timeout=idle_timeout)
    )
    proxy.faults.extend(faults)
    server = WireServer(proxy)
    try:
        await proxy.start()
        bound = await server.start(host, port)
        yield RunningProxy(proxy, host, bound)
    finally:
        await server.close()
        await upstream.close()
