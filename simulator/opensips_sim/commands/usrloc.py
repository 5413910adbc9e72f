"""usrloc MI commands (``modules/usrloc/ul_mi.c``): ul_dump, ul_show_contact, ul_add, ul_rm,
ul_rm_contact, ul_flush. Parameters are read in the module's order, so the first bad one
decides the error, as on the real server."""

from __future__ import annotations

from typing import Any

from .. import sipuri
from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command
from ..state.usrloc import TABLE, Contact, UsrlocState, parse_q, q_text


def contact_item(contact: Contact, now: int) -> dict[str, Any]:
    """One contact as ``mi_add_aor_node`` prints it (optional fields only when set)."""
    item: dict[str, Any] = {"Contact": contact.contact, "ContactID": str(contact.contact_id)}
    if contact.expires == 0:
        item["Expires"] = "permanent"
    elif now > contact.expires:
        item["Expires"] = "expired"
    else:
        item["Expires"] = contact.expires - now
    item["Q"] = q_text(contact.q)
    item["Callid"] = contact.callid
    item["Cseq"] = contact.cseq
    if contact.user_agent:
        item["User-agent"] = contact.user_agent
    if contact.received:
        item["Received"] = contact.received
    if contact.path:
        item["Path"] = contact.path
    item["State"] = contact.state
    item["Flags"] = contact.flags
    item["Cflags"] = contact.cflags
    if contact.socket:
        item["Socket"] = contact.socket
    item["Methods"] = contact.methods
    if contact.attr:
        item["Attr"] = contact.attr
    return item


def aor_item(usrloc: UsrlocState, aor: str, now: int, brief: bool) -> dict[str, Any]:
    """An AOR with its contacts (``brief``: the AOR only)."""
    if brief:
        return {"AOR": aor}
    contacts = usrloc.contacts(aor) or []
    return {"AOR": aor, "Contacts": [contact_item(c, now) for c in contacts]}


def _table(params: Params) -> None:
    if params.text("table_name") != TABLE:
        raise MIError(404, "Table not found")


def _aor(usrloc: UsrlocState, params: Params) -> str:
    aor = usrloc.normalize_aor(params.text("aor"))
    if aor is None:
        raise MIError(400, "Domain missing in AOR")
    return aor


@command("ul_dump", level="read")
def ul_dump(ctx: CallContext, params: Params) -> Any:
    """Every AOR of the ``location`` table, with contacts unless ``brief``."""
    brief = bool(params.integer("brief")) if params.has("brief") else False
    usrloc = ctx.world.get(UsrlocState)
    usrloc.take_lock(None)
    now = int(ctx.world.clock.now())
    return {
        "Domains": [
            {
                "name": TABLE,
                "hash_size": usrloc.hash_size,
                "AORs": [aor_item(usrloc, aor, now, brief) for aor in usrloc.aors()],
            }
        ]
    }


@command("ul_show_contact", level="read")
def ul_show_contact(ctx: CallContext, params: Params) -> Any:
    """One AOR with its contacts; ``404 AOR not found`` when not registered."""
    _table(params)
    usrloc = ctx.world.get(UsrlocState)
    aor = _aor(usrloc, params)
    usrloc.take_lock(aor)
    if usrloc.contacts(aor) is None:
        raise MIError(404, "AOR not found")
    return aor_item(usrloc, aor, int(ctx.world.clock.now()), brief=False)


@command("ul_add", level="write")
def ul_add(ctx: CallContext, params: Params) -> Any:
    """Add (or update) a contact; ``expires`` 0 makes it permanent."""
    _table(params)
    usrloc = ctx.world.get(UsrlocState)
    aor = _aor(usrloc, params)
    contact = params.text("contact")
    expires = params.integer("expires")
    q = parse_q(params.text("q"))
    if q is None:
        raise MIError(400, "Bad parameter value")
    flags = params.integer("flags")
    cflags = params.integer("cflags")
    methods = params.integer("methods") & 0xFFFFFFFF
    usrloc.take_lock(aor)  # after every param is read, as mi_usrloc_add does
    if not sipuri.parses(contact):
        # contact_match's parse_uri fails, then insert_ucontact: no contact, no new AOR
        raise MIError(500, "Internal Error")
    usrloc.add(
        aor,
        contact,
        expires_in=expires,
        q=q,
        flags=flags & 0xFFFFFFFF,
        cflags=usrloc.branch_flag_names(cflags),
        methods=methods,
    )
    return "OK"


@command("ul_rm", level="destructive")
def ul_rm(ctx: CallContext, params: Params) -> Any:
    """Drop an AOR and its contacts (``OK`` even when it was not registered)."""
    _table(params)
    usrloc = ctx.world.get(UsrlocState)
    aor = _aor(usrloc, params)
    usrloc.take_lock(aor)
    usrloc.remove_aor(aor)
    return "OK"


@command("ul_rm_contact", level="destructive")
def ul_rm_contact(ctx: CallContext, params: Params) -> Any:
    """Drop one contact of an AOR. A ``contact`` of a type OpenSIPS cannot read, for an
    existing AOR, is answered "Bad type" with the slot's lock still held (all versions:
    ``mi_usrloc_rm_contact`` returns without unlocking; the real 3.6.8 lab then answered
    no more MI): the next command that takes that lock blocks the MI for good."""
    _table(params)
    usrloc = ctx.world.get(UsrlocState)
    aor = _aor(usrloc, params)
    usrloc.take_lock(aor)
    if usrloc.contacts(aor) is None:
        raise MIError(404, "AOR not found")
    try:
        contact = params.text("contact")
    except MIError:
        usrloc.leak_lock(aor)
        raise
    if not usrloc.remove_contact(aor, contact):
        raise MIError(404, "Contact not found")
    return "OK"


@command("ul_flush", level="write")
def ul_flush(ctx: CallContext, params: Params) -> Any:
    """Write the table to the database (the simulator has none: nothing changes); it
    walks every slot, as OpenSIPS does."""
    ctx.world.get(UsrlocState).take_lock(None)
    return "OK"
