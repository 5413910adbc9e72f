"""The control API beside the MI path, for tests and demos. Every answer is JSON.

=======  ==================  ==========================================================
method   path                what
=======  ==================  ==========================================================
GET      /sim                the list of endpoints
POST     /sim/reset          fresh state from the current scenario; body (optional)
                             ``{"seed": N, "journal": true, "faults": true}`` also
                             reseeds / clears the journal / clears the fault rules
GET      /sim/scenario       ``{"current": name, "builtin": [...]}``
POST     /sim/scenario       load and make current: ``{"name": "quiet"}``,
                             ``{"path": "/file.json"}`` or a whole scenario object
GET      /sim/state          ``{"scenario", "seed", "now", "parts": {key: snapshot}}``
GET      /sim/journal        ``{"entries": [...]}``; ``?since=SEQ`` for newer entries only
DELETE   /sim/journal        ``{"cleared": n}``
GET      /sim/faults         ``{"rules": [...]}`` (with ``id`` and ``fired``)
POST     /sim/faults         add one rule, a list, or ``{"rules": [...]}``; answers the
                             added rules ``{"rules": [...]}``
DELETE   /sim/faults         remove every rule (``?id=N``: only that one)
GET      /sim/clock          ``{"now": epoch, "frozen": bool}``
POST     /sim/clock          ``{"seconds": N}``: advance; answers ``{"now": epoch}``
GET      /sim/settings       ``{"quirks": bool, "idle_timeout": s}``
POST     /sim/settings       change either of them; answers the new settings
GET      /sim/cluster        (``--nodes N`` only) nodes, ports, faults, link states
POST     /sim/cluster        a node fault: ``{"node_id": 2, "fault": "down"}`` (also
                             ``up``, ``slow`` + ``seconds``, ``fast``, ``partition`` /
                             ``heal`` + ``peer``); answers the new ``GET /sim/cluster``
=======  ==================  ==========================================================

Errors: ``400 {"error": "..."}`` for a bad body, ``404`` for an unknown path, ``405`` for a
method the path does not take.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from . import scenarios
from .faults import FaultError, rules_from_json
from .simulator import Simulator

Answer = tuple[int, Any]


class ControlError(Exception):
    """A control request that cannot be served; becomes ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ControlError(400, f"body is not JSON: {exc}") from None


def _object(body: bytes) -> dict[str, Any]:
    data = _json(body)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


async def _index(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    return 200, {"endpoints": sorted(f"{m} {p}" for (m, p) in ROUTES)}


async def _reset(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    options = _object(body)
    seed = options.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise ControlError(400, "'seed' is an integer")
    async with sim.lock:
        await sim.reset_async(seed)
        if options.get("journal"):
            sim.journal.clear()
        if options.get("faults"):
            sim.faults.clear()
    return 200, {"ok": True, "scenario": sim.scenario.get("name"), "seed": sim.seed}


async def _get_scenario(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    return 200, {"current": sim.scenario.get("name"), "builtin": scenarios.builtin_names()}


async def _post_scenario(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    data = _object(body)
    if not data:
        raise ControlError(400, 'give {"name": ...}, {"path": ...} or a scenario object')
    spec: Any = data
    if set(data) == {"name"}:
        spec = data["name"]
    elif set(data) == {"path"}:
        spec = data["path"]
    async with sim.lock:
        try:
            sim.load(spec)
        except (scenarios.ScenarioError, ValueError, KeyError, TypeError) as exc:
            raise ControlError(400, f"cannot load scenario: {exc}") from None
    return 200, {"ok": True, "scenario": sim.scenario.get("name")}


async def _state(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    async with sim.lock:
        return 200, await sim.read_state()


async def _journal(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    since = query.get("since", ["0"])[0]
    if not since.isdigit():
        raise ControlError(400, "'since' is a sequence number")
    return 200, {"entries": sim.journal.entries(int(since))}


async def _clear_journal(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    return 200, {"cleared": sim.journal.clear()}


async def _faults(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    return 200, {"rules": sim.faults.to_json()}


async def _add_faults(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    document = _json(body)
    try:
        added = sim.faults.extend(rules_from_json(document))
    except (FaultError, TypeError, ValueError) as exc:
        raise ControlError(400, str(exc)) from None
    return 200, {"rules": [rule.to_json() for rule in added]}


async def _clear_faults(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    if "id" in query:
        text = query["id"][0]
        if not text.isdigit() or not sim.faults.remove(int(text)):
            raise ControlError(404, f"no fault rule {text}")
        return 200, {"removed": int(text)}
    removed = len(sim.faults.rules)
    sim.faults.clear()
    return 200, {"removed": removed}


async def _clock(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    return 200, {"now": sim.clock.now(), "frozen": sim.clock.frozen}


async def _advance(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    seconds = _object(body).get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise ControlError(400, "'seconds' is a number >= 0")
    async with sim.lock:
        now = sim.clock.advance(float(seconds))
        sim.world.tick()
    return 200, {"now": now}


def _settings_json(sim: Simulator) -> dict[str, Any]:
    return {"quirks": sim.settings.quirks, "idle_timeout": sim.settings.idle_timeout}


async def _settings(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    return 200, _settings_json(sim)


async def _set_settings(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    data = _object(body)
    unknown = set(data) - {"quirks", "idle_timeout"}
    if unknown:
        raise ControlError(400, f"unknown settings: {sorted(unknown)}")
    if "quirks" in data:
        if not isinstance(data["quirks"], bool):
            raise ControlError(400, "'quirks' is true or false")
        sim.settings.quirks = data["quirks"]
    if "idle_timeout" in data:
        value = data["idle_timeout"]
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise ControlError(400, "'idle_timeout' is a number > 0")
        sim.settings.idle_timeout = float(value)
    return 200, _settings_json(sim)


async def _cluster(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    if sim.cluster is None:
        raise ControlError(404, "not a cluster node (start with opensips-sim --nodes N)")
    return 200, sim.cluster.describe()


async def _cluster_fault(sim: Simulator, query: dict[str, list[str]], body: bytes) -> Answer:
    if sim.cluster is None:
        raise ControlError(404, "not a cluster node (start with opensips-sim --nodes N)")
    try:
        return 200, await sim.cluster.apply(_object(body))
    except ValueError as exc:
        raise ControlError(400, str(exc)) from exc


Route = Callable[[Simulator, dict[str, list[str]], bytes], Awaitable[Answer]]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/sim"): _index,
    ("POST", "/sim/reset"): _reset,
    ("GET", "/sim/scenario"): _get_scenario,
    ("POST", "/sim/scenario"): _post_scenario,
    ("GET", "/sim/state"): _state,
    ("GET", "/sim/journal"): _journal,
    ("DELETE", "/sim/journal"): _clear_journal,
    ("GET", "/sim/faults"): _faults,
    ("POST", "/sim/faults"): _add_faults,
    ("DELETE", "/sim/faults"): _clear_faults,
    ("GET", "/sim/clock"): _clock,
    ("POST", "/sim/clock"): _advance,
    ("GET", "/sim/settings"): _settings,
    ("POST", "/sim/settings"): _set_settings,
    ("GET", "/sim/cluster"): _cluster,
    ("POST", "/sim/cluster"): _cluster_fault,
}


async def handle(sim: Simulator, method: str, target: str, body: bytes) -> Answer:
    """Serve one control request: ``(HTTP status, JSON payload)``."""
    path, _, query_text = target.partition("?")
    path = path.rstrip("/") or "/"
    route = ROUTES.get((method, path))
    if route is None:
        allowed = sorted(m for (m, p) in ROUTES if p == path)
        if allowed:
            return 405, {"error": f"{method} not allowed on {path}", "allowed": allowed}
        return 404, {"error": f"no control endpoint {path}"}
    try:
        return await route(sim, parse_qs(query_text), body)
    except ControlError as exc:
        return exc.status, {"error": exc.message}
