"""uac_registrant MI commands (``modules/uac_registrant/registrant.c``): 3.6's ``reg_list``,
``reg_reload``, ``reg_enable``, ``reg_disable``, ``reg_force_register`` (4.0 names them
``uac_registrant:list`` ... and keeps the 3.x names as aliases) and 4.0's
``uac_registrant:upsert``/``delete``.

Measured on real 3.6.8 and 4.0.1 labs (``tests/simulator/real_uac_registrant.json``): a
registrant is found by AOR, contact and registrar together, else ``404 "No such
registrant"`` (``reg_reload`` of one: ``"No such registrant in database"``); ``reg_list``
with the three answers ``{"Registrant": {...}}``, without them ``{"Records": [...]}``;
``reg_enable`` of a disabled, not registered registrant sends a REGISTER at once
(``REGISTERING_STATE``, ``last_register_sent`` now, the send ``socket`` chosen);
``reg_disable`` of a registered one unregisters; ``reg_force_register`` only clears the
registration timeout of an enabled one; ``reg_reload`` reloads every registrant from the
database (kept enabled/disabled as enable/disable stored it), forgetting the state of all but
the registered ones; ``upsert``'s ``state`` 0 is enabled, anything else disabled.
"""

from __future__ import annotations

from typing import Any

from ..errors import SERVER_ERROR, MIError, invalid_params
from ..params import Params
from ..registry import CallContext, command
from ..sipuri import host_port
from ..state.uac_registrant import (
    NOT_REGISTERED,
    REGISTERED,
    Registrant,
    RegistrantState,
)
from ..timefmt import ctime

NO_SUCH = MIError(404, "No such registrant")
NO_SUCH_IN_DB = MIError(404, "No such registrant in database")


def _coords(params: Params) -> tuple[str, str, str]:
    return (params.text("aor"), params.text("contact"), params.text("registrar"))


def _find(ctx: CallContext, params: Params) -> Registrant:
    found = ctx.world.get(RegistrantState).find(*_coords(params))
    if found is None:
        raise NO_SUCH
    return found


def record_view(r: Registrant) -> dict[str, Any]:
    """One registrant as ``reg_list`` prints it."""
    view: dict[str, Any] = {
        "AOR": r.aor,
        "expires": r.expires,
        "state": r.state,
        "enabled": "yes" if r.enabled else "no",
        "last_register_sent": ctime(r.last_register_sent),
        "registration_t_out": ctime(r.registration_t_out),
        "registrar": r.registrar,
        "binding": r.contact,
    }
    if r.socket is not None:
        view["socket"] = r.socket
    if r.ip is not None:
        view["dst_IP"] = "IPv6" if ":" in r.ip else "IPv4"
        view["ip"] = r.ip
    return view


def _forget(r: Registrant) -> None:
    """As loaded from the database: not registered, never sent (a registered one keeps it)."""
    if r.state != REGISTERED:
        r.state, r.last_register_sent, r.registration_t_out = NOT_REGISTERED, 0.0, 0.0
        r.socket = None


@command("reg_list", level="read")
def reg_list(ctx: CallContext, params: Params) -> Any:
    """Every registrant, or the one the three coordinates name."""
    if params.has("aor"):
        return {"Registrant": record_view(_find(ctx, params))}
    return {"Records": [record_view(r) for r in ctx.world.get(RegistrantState).records]}


@command("reg_reload", level="write")
def reg_reload(ctx: CallContext, params: Params) -> Any:
    """Reload all registrants (or one) from the database."""
    state = ctx.world.get(RegistrantState)
    if params.has("aor"):
        found = state.find(*_coords(params))
        if found is None:
            raise NO_SUCH_IN_DB
        _forget(found)
        return "OK"
    for r in state.records:
        _forget(r)
    return "OK"


@command("reg_enable", level="write")
def reg_enable(ctx: CallContext, params: Params) -> Any:
    """Enable a registrant; a not registered one sends its REGISTER at once."""
    r = _find(ctx, params)
    if not r.enabled:
        if r.state == NOT_REGISTERED:
            ctx.world.get(RegistrantState).send_register(r, ctx.world.clock.now())
            hostport = host_port(r.contact)
            r.socket = None if hostport is None else f"udp:{hostport}"
        r.enabled = True
    return "OK"


@command("reg_disable", level="write")
def reg_disable(ctx: CallContext, params: Params) -> Any:
    """Disable a registrant; a registered one unregisters."""
    r = _find(ctx, params)
    if r.enabled:
        if r.state == REGISTERED:
            ctx.world.get(RegistrantState).send_unregister(r, ctx.world.clock.now())
        r.enabled = False
    return "OK"


@command("reg_force_register", level="write")
def reg_force_register(ctx: CallContext, params: Params) -> Any:
    """Make an enabled registrant register on the next timer run (clears its timeout)."""
    r = _find(ctx, params)
    if r.enabled:
        r.registration_t_out = 0.0
    return "OK"


def _refused(params: Params) -> MIError:
    """The module's ``init_mi_param_error()`` after its own checks: the MI layer's last
    parameter error is stale, "Bad type" for the last integer read from a string (a real
    4.0.1 answers so with ``state`` and ``expiry`` sent as strings)."""
    stale = next((n for n in ("state", "expiry") if isinstance(params.raw(n), str)), None)
    if stale is None:  # not measured: no stale error left, OpenSIPS's generic one
        return MIError(SERVER_ERROR, "Server error")
    return invalid_params(f"Bad type for parameter '{stale}'")


@command("uac_registrant:upsert", level="write", since="4.0.1")
def upsert(ctx: CallContext, params: Params) -> Any:
    """Add a registrant, or replace the one with the same coordinates (not registered)."""
    aor, contact, registrar = _coords(params)
    for name in ("proxy", "third_party_registrant", "username", "password", "binding_params"):
        params.text(name)
    expiry, wanted = params.integer("expiry"), params.integer("state")
    forced, shtag = params.text("forced_socket"), params.text("cluster_shtag")
    third = params.text("third_party_registrant")
    if (
        any(host_port(u) is None for u in (aor, contact, registrar))
        or (third and host_port(third) is None)
        or expiry <= ctx.world.get(RegistrantState).timer_interval
        or forced  # a socket the simulator does not listen on
        or (shtag and "/" not in shtag)
    ):
        raise _refused(params)
    state = ctx.world.get(RegistrantState)
    new = Registrant(aor, contact, registrar, expiry, enabled=wanted == 0)
    old = state.find(aor, contact, registrar)
    if old is None:
        state.records.insert(0, new)
    else:
        state.records[state.records.index(old)] = new
    return "OK"


@command("uac_registrant:delete", level="destructive", since="4.0.1")
def delete(ctx: CallContext, params: Params) -> Any:
    """Remove a registrant (unregistering it first when registered)."""
    state = ctx.world.get(RegistrantState)
    state.records.remove(_find(ctx, params))
    return "OK"
