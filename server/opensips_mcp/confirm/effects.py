"""What a confirmed call will do, in one paragraph, from cheap reads of the live state.

:func:`describe` builds the statement the user is asked to confirm, e.g.::

    This ends 1 call: alice -> bob, confirmed, 3 min 12 s old (Call-ID 2-1979@127.0.0.1);
    both sides get a BYE, on instance default (127.0.0.1:8888). ...

Commands with a known effect (ending a call, the calls of a profile, an AOR's contacts)
read the state they are about to change with at most one read MI command; any other
command is stated from its name, level and parameters. A read that fails never blocks
the question: the statement then says the state could not be read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from opensips_mcp.catalog import Resolution

Read = Callable[[str, Mapping[str, Any]], Awaitable[Any]]
"""Runs one read MI command and returns its result, or None when it failed."""

MAX_DIALOG_SCAN = 1000
"""Dialogs listed at most to find one by its dialog id (a Call-ID is looked up directly)."""

_DIALOG_STATES = {
    1: "unconfirmed",
    2: "early (ringing)",
    3: "answered, not yet acknowledged",
    4: "confirmed",
    5: "ending",
}
# "h_entry.h_id", both printed in (reverse) hex, e.g. "d31.2722a107" on the lab 3.6.8, or
# the numeric db_id
_DIALOG_ID = re.compile(r"^([0-9a-fA-F]+\.[0-9a-fA-F]+|\d+)$")
_SHOWN_VALUE = 80


def named_params(params: Any, names: Sequence[str]) -> dict[str, Any]:
    """``params`` (object, array or None) as a name -> value mapping for ``names``."""
    if isinstance(params, Mapping):
        return {str(k): v for k, v in params.items()}
    if isinstance(params, list | tuple):
        return {name: value for name, value in zip(names, params, strict=False)}
    return {}


def instance_of(name: str, mi_url: str) -> str:
    """How the statement names the OpenSIPS the call goes to: ``instance default
    (127.0.0.1:8888)``."""
    parts = urlsplit(mi_url)
    return f"instance {name} ({parts.netloc or parts.path or mi_url})"


def age_text(seconds: float) -> str:
    """``3 min 12 s``, ``2 h 5 min``, ``41 s``."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 3] + "..."


def _user(uri: Any) -> str:
    """``sip:alice@example.com`` -> ``alice`` (the whole URI when it has no user part)."""
    text = str(uri or "?")
    text = text.split(":", 1)[1] if text.startswith(("sip:", "sips:", "tel:")) else text
    return _shown(text.split("@", 1)[0] if "@" in text else text)


def _params_text(values: Mapping[str, Any]) -> str:
    if not values:
        return "no parameters"
    return ", ".join(f"{k}={_shown(v)}" for k, v in values.items())


async def describe(
    resolution: Resolution, params: Any, read: Read, instance: str, now: float | None = None
) -> str:
    """The one-paragraph statement of what sending ``params`` as ``resolution`` will do."""
    values = named_params(params, resolution.recipe.params)
    command = resolution.entry.name
    now = time.time() if now is None else now
    describer = _DESCRIBERS.get(command)
    effect = (
        await describer(values, read, now)
        if describer is not None
        else _generic(resolution, values)
    )
    article = "an" if str(resolution.level)[0] in "aeiou" else "a"
    return (
        f"This {effect}, on {instance}. It is {article} {resolution.level} action "
        f"('{command}' with {_params_text(values)}). Confirm to send it; decline to send nothing."
    )


def _generic(resolution: Resolution, values: Mapping[str, Any]) -> str:
    carried = resolution.carried
    if carried is not None:
        cmd = values.get("cmd_name", carried.entry.name)
        carried_values = named_params(values.get("cmd_params"), carried.recipe.params)
        where = (
            f"on every node of cluster {values.get('cluster_id')}"
            if resolution.entry.name == "cluster_broadcast_mi"
            else f"on node {values.get('destination')} of cluster {values.get('cluster_id')}"
        )
        return (
            f"runs '{cmd}' ({carried.level}, with {_params_text(carried_values)}) {where} "
            f"(its effect there is not read beforehand), sent through this node"
        )
    summary = " ".join(resolution.entry.summary.split())
    what = f" ({_shown(summary)})" if summary else ""
    return f"runs '{resolution.entry.name}'{what}"


async def _dialog_end(values: Mapping[str, Any], read: Read, now: float) -> str:
    dialog_id = str(values.get("dialog_id", ""))
    dialogs: list[Mapping[str, Any]] = []
    if _DIALOG_ID.match(dialog_id):
        listed = await read("dlg_list", {"index": 0, "counter": MAX_DIALOG_SCAN})
        dialogs = [
            d
            for d in _dialogs_of(listed)
            if dialog_id in (str(d.get("ID", "")), str(d.get("db_id", "")))
        ]
        if listed is None:
            return f"ends the call with dialog id {_shown(dialog_id)} (the calls could not be read)"
    else:
        listed = await read("dlg_list", {"callid": dialog_id})
        dialogs = _dialogs_of(listed)
    if not dialogs:
        return (
            f"ends the call with dialog id {_shown(dialog_id)}, which is not among the calls in "
            "progress now (OpenSIPS will answer 'not found' if it is gone)"
        )
    d = dialogs[0]
    state = _DIALOG_STATES.get(_int(d.get("state")) or 0, f"state {d.get('state')}")
    start = _int(d.get("timestart"))
    age = f", {age_text(now - start)} old" if start else ""
    return (
        f"ends 1 call: {_user(d.get('from_uri'))} -> {_user(d.get('to_uri'))}, {state}{age} "
        f"(Call-ID {_shown(d.get('callid'))}); both sides get a BYE"
    )


async def _profile_end(values: Mapping[str, Any], read: Read, now: float) -> str:
    profile = str(values.get("profile", ""))
    query = {"profile": profile}
    if values.get("value") is not None:
        query["value"] = str(values["value"])
    answer = await read("profile_get_size", query)
    which = f"profile {_shown(profile)}" + (
        f" with value {_shown(query['value'])}" if "value" in query else ""
    )
    count = _profile_count(answer)
    if count is None:
        return f"ends every call in {which} (their number could not be read)"
    return f"ends {count} call{'' if count == 1 else 's'} in {which}"


async def _ul_rm(values: Mapping[str, Any], read: Read, now: float) -> str:
    table, aor = str(values.get("table_name", "")), str(values.get("aor", ""))
    contacts = _contacts(await read("ul_show_contact", {"table_name": table, "aor": aor}))
    if contacts is None:
        return f"removes every contact of AOR {_shown(aor)} (table {_shown(table)})"
    n = len(contacts)
    plural = "" if n == 1 else "s"
    return f"removes {n} contact{plural} of AOR {_shown(aor)} (table {_shown(table)})"


async def _ul_rm_contact(values: Mapping[str, Any], read: Read, now: float) -> str:
    table, aor = str(values.get("table_name", "")), str(values.get("aor", ""))
    contact = str(values.get("contact", ""))
    contacts = _contacts(await read("ul_show_contact", {"table_name": table, "aor": aor}))
    base = f"removes contact {_shown(contact)} of AOR {_shown(aor)} (table {_shown(table)})"
    if contacts is None:
        return base
    present = any(str(c.get("Contact")) == contact for c in contacts)
    return f"{base}; the AOR has {len(contacts)} contact{'' if len(contacts) == 1 else 's'} now" + (
        "" if present else " and this one is not among them"
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _dialogs_of(result: Any) -> list[Mapping[str, Any]]:
    if not isinstance(result, Mapping):
        return []
    if isinstance(result.get("Dialog"), Mapping):
        return [result["Dialog"]]
    listed = result.get("Dialogs")
    return [d for d in listed if isinstance(d, Mapping)] if isinstance(listed, list) else []


def _profile_count(result: Any) -> int | None:
    if not isinstance(result, Mapping):
        return None
    profile = result.get("Profile")
    if isinstance(profile, Mapping):
        return _int(profile.get("count"))
    return _int(result.get("count"))


def _contacts(result: Any) -> list[Mapping[str, Any]] | None:
    if not isinstance(result, Mapping):
        return None
    listed = result.get("Contacts")
    return [c for c in listed if isinstance(c, Mapping)] if isinstance(listed, list) else []


_DESCRIBERS: dict[str, Callable[[Mapping[str, Any], Read, float], Awaitable[str]]] = {
    "dlg_end_dlg": _dialog_end,
    "profile_end_dlgs": _profile_end,
    "ul_rm": _ul_rm,
    "ul_rm_contact": _ul_rm_contact,
}
