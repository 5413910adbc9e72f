"""dialog MI commands (``modules/dialog``: ``dlg_hash.c``, ``dlg_profile.c``,
``dlg_req_within.c``): dlg_list, dlg_list_ctx, dlg_end_dlg, dlg_push_var, profile_get_size,
profile_get_values, profile_list_dlgs, profile_end_dlgs, list_all_profiles, dlg_set_profile,
dlg_unset_profile.

``dlg_set_profile``/``dlg_unset_profile`` are new in 3.6 and their source was not available:
their errors reuse the module's messages (``Requested Dialog not found``, ``Profile not
found``) and the value checks answer ``400`` (see ``simulator/README.md``).
"""

from __future__ import annotations

from typing import Any

from ..errors import PARAM_HANDLE, SERVER_ERROR, MIError
from ..params import Params
from ..registry import CallContext, PartialFailure, command
from ..state.dialog import STATE_CONFIRMED, Dialog, DialogState, Leg
from ..timefmt import datetime_text

DIALOG_NOT_FOUND = "Requested Dialog not found"
PROFILE_NOT_FOUND = "Profile not found"
NO_SUCH_DIALOG = "No such dialog"


def _escape_value(value: str) -> str:
    """Dialog values are printed with non-printable bytes escaped (``\\n``, ``\\x01``)."""
    out = []
    for byte in value.encode():
        if byte < 0x20 or byte >= 0x7F:
            named = {0x8: "b", 0x9: "t", 0xA: "n", 0xC: "f", 0xD: "r"}.get(byte)
            out.append("\\" + (named or f"x{byte:02x}"))
        else:
            out.append(chr(byte))
    return "".join(out)


def _caller_fields(item: dict[str, Any], leg: Leg) -> None:
    item["caller_tag"] = leg.tag
    item["caller_contact"] = leg.contact
    item["callee_cseq"] = leg.cseq
    item["caller_route_set"] = leg.route_set
    item["caller_bind_addr"] = leg.bind_addr or ""
    if leg.sdp is not None:
        item["caller_sdp"] = leg.sdp
    if leg.sent_sdp is not None:
        item["caller_sent_sdp"] = leg.sent_sdp


def _callee_item(leg: Leg) -> dict[str, Any]:
    item: dict[str, Any] = {
        "callee_tag": leg.tag,
        "callee_contact": leg.contact,
        "caller_cseq": leg.cseq,
        "callee_route_set": leg.route_set,
        "callee_bind_addr": leg.bind_addr,
    }
    if leg.sdp is not None:
        item["callee_sdp"] = leg.sdp
    if leg.sent_sdp is not None:
        item["callee_sent_sdp"] = leg.sent_sdp
    return item


def dialog_item(dialog: Dialog, with_context: bool) -> dict[str, Any]:
    """One dialog as ``internal_mi_print_dlg`` prints it."""
    item: dict[str, Any] = {
        "ID": dialog.did,
        "db_id": str(dialog.db_id),
        "state": dialog.state,
        "user_flags": dialog.user_flags,
        "timestart": dialog.start_ts,
    }
    if dialog.start_ts:
        item["datestart"] = datetime_text(dialog.start_ts)
    item["timeout"] = dialog.timeout_ts
    if dialog.timeout_ts:
        item["dateout"] = datetime_text(dialog.timeout_ts)
    item["callid"] = dialog.callid
    item["from_uri"] = dialog.from_uri
    item["to_uri"] = dialog.to_uri
    if dialog.caller is not None:
        _caller_fields(item, dialog.caller)
    item["CALLEES"] = [_callee_item(leg) for leg in dialog.callees]
    if with_context:
        context: dict[str, Any] = {}
        if dialog.values:
            context["values"] = [{n: _escape_value(v)} for n, v in dialog.values]
        if dialog.profiles:
            context["profiles"] = [{n: v} for n, v in dialog.profiles]
        item["context"] = context
    return item


def _list(ctx: CallContext, params: Params, with_context: bool) -> Any:
    dialogs = ctx.world.get(DialogState)
    if params.has("index"):
        index = params.integer("index")
        counter = params.integer("counter")
        if counter & 0xFFFFFFFF == 0:
            return {"Dialogs": [dialog_item(d, with_context) for d in dialogs.walk()]}
        page = dialogs.page(index, counter)
        return {"count": len(dialogs), "Dialogs": [dialog_item(d, with_context) for d in page]}
    if params.has("callid"):
        from_tag = params.text("from_tag") if params.has("from_tag") else None
        match = dialogs.by_callid(params.text("callid"), from_tag)
        if match is None or match.state > STATE_CONFIRMED:
            raise MIError(404, NO_SUCH_DIALOG)
        return {"Dialog": dialog_item(match, with_context)}
    return {"Dialogs": [dialog_item(d, with_context) for d in dialogs.walk()]}


@command("dlg_list", level="read", named_only=True)
def dlg_list(ctx: CallContext, params: Params) -> Any:
    """All dialogs, one by Call-ID (and from-tag), or a page (``index``, ``counter``)."""
    return _list(ctx, params, with_context=False)


@command("dlg_list_ctx", level="read", named_only=True)
def dlg_list_ctx(ctx: CallContext, params: Params) -> Any:
    """As ``dlg_list``, each dialog with its ``context`` (values and profiles)."""
    return _list(ctx, params, with_context=True)


def _count_bye(ctx: CallContext) -> None:
    counters = ctx.world.counters
    counters.incr("tm:UAC_transactions", 2)
    counters.incr("core:fwd_requests", 2)


@command("dlg_end_dlg", level="destructive")
def dlg_end_dlg(ctx: CallContext, params: Params) -> Any:
    """End a dialog (BYE both ways) by its ID or an active dialog's Call-ID."""
    if params.has("extra_hdrs"):
        params.text("extra_hdrs")
    dialogs = ctx.world.get(DialogState)
    dialog = dialogs.by_dialog_id(params.text("dialog_id"))
    if dialog is None:
        raise MIError(404, DIALOG_NOT_FOUND)
    _count_bye(ctx)
    dialogs.end(dialog)
    return "OK"


@command("dlg_push_var", level="write")
def dlg_push_var(ctx: CallContext, params: Params) -> Any:
    """Store a dialog value in each dialog listed in ``DID`` (unknown IDs are skipped)."""
    name = params.text("dlg_val_name")
    value = params.text("dlg_val_value")
    dialogs = ctx.world.get(DialogState)
    for dialog_id in params.texts("DID"):
        dialog = dialogs.by_dialog_id(dialog_id)
        if dialog is None:
            continue
        dialog.values = [(n, v) for n, v in dialog.values if n != name] + [(name, value)]
    return "OK"


def _profile(ctx: CallContext, params: Params) -> tuple[DialogState, str]:
    dialogs = ctx.world.get(DialogState)
    name = params.text("profile")
    if name not in dialogs.profiles:
        raise MIError(404, PROFILE_NOT_FOUND)
    return dialogs, name


@command("profile_get_size", level="read")
def profile_get_size(ctx: CallContext, params: Params) -> Any:
    """How many dialogs are in a profile (with a value: only those with it)."""
    value = params.text("value") if params.has("value") else None
    dialogs, name = _profile(ctx, params)
    profile = dialogs.profiles[name]
    return {
        "Profile": {
            "name": name,
            "value": value,
            "count": dialogs.profile_size(name, value),
            "shared": "yes" if profile.shared else "no",
            "replicated": "yes" if profile.replicated else "no",
        }
    }


@command("profile_get_values", level="read")
def profile_get_values(ctx: CallContext, params: Params) -> Any:
    """Each value of a profile with its dialog count (``null`` value for no-value profiles)."""
    dialogs, name = _profile(ctx, params)
    profile = dialogs.profiles[name]
    if profile.shared:
        raise MIError(405, "Unsupported command for shared profiles")
    if not profile.has_value:
        return [{"value": None, "count": dialogs.profile_size(name, None)}]
    return [{"value": v, "count": n} for v, n in dialogs.profile_values(name)]


def _in_profile(ctx: CallContext, params: Params) -> tuple[DialogState, list[Dialog]]:
    value = params.text("value") if params.has("value") else None
    dialogs, name = _profile(ctx, params)
    return dialogs, [d for d in dialogs.walk() if dialogs.in_profile(d, name, value)]


@command("profile_list_dlgs", level="read")
def profile_list_dlgs(ctx: CallContext, params: Params) -> Any:
    """The dialogs of a profile (with a value: only those with it)."""
    _dialogs, members = _in_profile(ctx, params)
    return {"Dialogs": [dialog_item(d, with_context=False) for d in members]}


@command("profile_end_dlgs", level="destructive")
def profile_end_dlgs(ctx: CallContext, params: Params) -> Any:
    """End every dialog of a profile. A ``partial`` fault ends only the first
    ``ctx.partial`` of them and then fails (:class:`PartialFailure`)."""
    dialogs, members = _in_profile(ctx, params)
    if ctx.partial is not None:
        members = members[: ctx.partial]
    for dialog in members:
        _count_bye(ctx)
        dialogs.end(dialog)
    if ctx.partial is not None:
        raise PartialFailure(len(members))
    return "OK"


@command("list_all_profiles", level="read")
def list_all_profiles(ctx: CallContext, params: Params) -> Any:
    """Every configured profile and whether it takes values."""
    profiles = ctx.world.get(DialogState).profiles.values()
    return {"Profiles": [{"name": p.name, "has value": p.has_value} for p in profiles]}


def _dialog_and_profile(
    ctx: CallContext, params: Params
) -> tuple[DialogState, Dialog, str, str | None]:
    # OpenSIPS 3.6.8 (dlg_hash.c, mi_set_dlg_profile / mi_unset_dlg_profile) reads the
    # dialog as "DID" while both commands' recipes name it "dlg_id": every call that matched
    # a recipe fails with -32000 "Failed to handle parameter" (seen on the lab 3.6.8).
    if not params.has("DID"):
        raise MIError(SERVER_ERROR, "Server error", PARAM_HANDLE)
    dialogs = ctx.world.get(DialogState)
    dialog = dialogs.by_dialog_id(params.text("DID"))
    if dialog is None:
        raise MIError(404, DIALOG_NOT_FOUND)
    name = params.text("profile")
    profile = dialogs.profiles.get(name)
    if profile is None:
        raise MIError(404, PROFILE_NOT_FOUND)
    value = params.text("value") if params.has("value") else None
    if value is not None and not profile.has_value:
        raise MIError(400, "Profile does not support values")
    return dialogs, dialog, name, value


@command("dlg_set_profile", level="write")
def dlg_set_profile(ctx: CallContext, params: Params) -> Any:
    """Put a dialog in a profile; ``clear_values`` first drops its other values there.
    On 3.6.8 it always fails (see ``_dialog_and_profile``)."""
    dialogs, dialog, name, value = _dialog_and_profile(ctx, params)
    if value is None and dialogs.profiles[name].has_value:
        raise MIError(400, "Profile requires a value")
    if params.has("clear_values") and params.integer("clear_values"):
        dialogs.unlink_profile(dialog, name, None)
    dialogs.link_profile(dialog, name, value or "")
    return "OK"


@command("dlg_unset_profile", level="write")
def dlg_unset_profile(ctx: CallContext, params: Params) -> Any:
    """Take a dialog out of a profile (every value of it, unless ``value`` is given).
    On 3.6.8 it always fails (see ``_dialog_and_profile``)."""
    dialogs, dialog, name, value = _dialog_and_profile(ctx, params)
    if not dialogs.unlink_profile(dialog, name, value):
        raise MIError(404, "Dialog not in profile")
    return "OK"
