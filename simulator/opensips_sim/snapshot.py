"""Snapshot: read a live OpenSIPS through MI into a scenario the simulator starts from.

    opensips-sim snapshot --mi-url http://127.0.0.1:8990/mi -o scenario.json
    opensips-sim --scenario scenario.json

Read (each part only when its module answers; a missing module leaves its section out):

=============  ===========================================  ============================
section        MI reads                                     not readable through MI
=============  ===========================================  ============================
core           version, uptime, ps, which, arg, pwd         revision
usrloc         ul_dump                                      use_domain, branch flag names
dialog         list_all_profiles, dlg_list_ctx              hash_size (4096 assumed),
                                                            dialog values with binary data
dispatcher     ds_list full=1                               probing failure counts
load_balancer  lb_list                                      —
drouting       dr_gw_status, dr_carrier_status,             prefix rules (no MI dump)
               dr_reload_status
clusterer      clusterer_list, clusterer_list_cap,          peers' own links
               clusterer_list_shtags
permissions    address_dump                                 —
cfgutils       shv_get                                      —
pike           pike_list (4.x: pike:list)                   tracked, unblocked IPs
uac_registrant reg_list                                     credentials, proxy, 3rd party
statistics     get_statistics all, list_statistics          —
=============  ===========================================  ============================

Dialplan rules have no MI dump in 3.6 (only ``dp_translate``/``dp_reload``): the section is
left out. Times are turned into "seconds ago/left" against the server's clock (``uptime``
"Now"), which a simulator started from the scenario at that moment turns back into the same
times.

:func:`restore` writes back, through MI, what can be written back: registrations
(``ul_rm``/``ul_add``), dispatcher states (``ds_set_state``), gateway and carrier states
(``dr_gw_status``/``dr_carrier_status``), registrants enabled or not (``reg_enable``/
``reg_disable``). The fault proxy's ``POST /sim/reset`` uses it.
"""

from __future__ import annotations

import calendar
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .hashing import parse_reverse_hex
from .state.usrloc import parse_q
from .upstream import Upstream, UpstreamCallError, UpstreamError

METHOD_NOT_FOUND = -32601
Reader = Callable[[Upstream, float], Awaitable[dict[str, Any] | None]]


async def _try(upstream: Upstream, method: str, params: Any = None) -> Any:
    """The result, or ``None`` when the command does not exist (module not loaded)."""
    try:
        return await upstream.call(method, params)
    except UpstreamCallError as exc:
        if exc.code == METHOD_NOT_FOUND:
            return None
        raise


def _list(value: Any, key: str) -> list[dict[str, Any]]:
    items = value.get(key) if isinstance(value, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


# ---- parts ---------------------------------------------------------------------------------


async def _core(up: Upstream, now: float) -> dict[str, Any] | None:
    section: dict[str, Any] = {}
    version = await _try(up, "version")
    if isinstance(version, dict) and "Server" in version:
        section["server"] = version["Server"]
    uptime = await _try(up, "uptime")
    if isinstance(uptime, dict):
        text = str(uptime.get("Up time", "")).split(" ")[0]
        if text.isdigit():
            section["up_since_ago"] = int(text)
    for key, method in (("commands", "which"), ("args", "arg")):
        value = await _try(up, method)
        if isinstance(value, list):
            section[key] = [str(v) for v in value]
    pwd = await _try(up, "pwd")
    if isinstance(pwd, dict) and "WD" in pwd:
        section["pwd"] = str(pwd["WD"])
    ps = await _try(up, "ps")
    procs = _list(ps, "Processes")
    if procs:
        section["processes"] = [{"pid": p.get("PID"), "type": p.get("Type")} for p in procs]
    return section


def _expires_in(expires: Any) -> int:
    """``Expires`` as usrloc prints it -> ``expires_in``: ``permanent`` 0; ``expired`` (past
    its time, not yet purged by usrloc's timer: ``ul_add`` with a negative ``expires``
    makes one) -1; else the seconds left."""
    if expires == "permanent":
        return 0
    if expires == "expired":
        return -1
    return max(1, int(expires or 1))


def _contact(raw: dict[str, Any]) -> dict[str, Any]:
    expires = raw.get("Expires")
    q = parse_q(str(raw.get("Q", ""))) if raw.get("Q") not in ("", None) else -1
    return {
        "contact": str(raw.get("Contact", "")),
        "contact_id": str(raw.get("ContactID", "0")),
        "expires_in": _expires_in(expires),
        "q": -1 if q is None else q,
        "callid": str(raw.get("Callid", "")),
        "cseq": int(raw.get("Cseq", 1)),
        "user_agent": str(raw.get("User-agent", "")),
        "received": str(raw.get("Received", "")),
        "path": str(raw.get("Path", "")),
        "socket": str(raw.get("Socket", "")),
        "flags": int(raw.get("Flags", 0)),
        "cflags": str(raw.get("Cflags", "")),
        "methods": int(raw.get("Methods", 0xFFFFFFFF)),
        **({"attr": str(raw["Attr"])} if raw.get("Attr") else {}),
    }


async def _usrloc(up: Upstream, now: float) -> dict[str, Any] | None:
    dump = await _try(up, "ul_dump")
    if dump is None:
        return None
    domains = _list(dump, "Domains")
    location = next((d for d in domains if d.get("name") == "location"), None)
    if location is None:
        return {}
    aors = {
        str(a["AOR"]): [_contact(c) for c in _list(a, "Contacts")] for a in _list(location, "AORs")
    }
    return {"hash_size": int(location.get("hash_size", 512)), "aors": aors}


def _leg(raw: dict[str, Any], side: str, cseq_key: str) -> dict[str, Any]:
    leg: dict[str, Any] = {
        "tag": str(raw.get(f"{side}_tag", "")),
        "contact": str(raw.get(f"{side}_contact", "")),
        "cseq": str(raw.get(cseq_key, "0")),
        "route_set": str(raw.get(f"{side}_route_set", "")),
        "bind_addr": str(raw.get(f"{side}_bind_addr", "")),
    }
    if f"{side}_sdp" in raw:
        leg["sdp"] = raw[f"{side}_sdp"]
    if f"{side}_sent_sdp" in raw:
        leg["sent_sdp"] = raw[f"{side}_sent_sdp"]
    return leg


def _dialog(raw: dict[str, Any], now: float) -> dict[str, Any]:
    # dlg_list prints the caller's cseq as "callee_cseq" and the callee's as "caller_cseq".
    h_id = parse_reverse_hex(str(raw.get("ID", "")).partition(".")[2])
    start, timeout = int(raw.get("timestart") or 0), int(raw.get("timeout") or 0)
    context = raw.get("context") if isinstance(raw.get("context"), dict) else {}
    profiles = [[str(k), str(v)] for item in _list(context, "profiles") for k, v in item.items()]
    values = [[str(k), str(v)] for item in _list(context, "values") for k, v in item.items()]
    spec: dict[str, Any] = {
        "callid": str(raw.get("callid", "")),
        "state": int(raw.get("state", 4)),
        "started_ago": max(0, int(now) - start) if start else 0,
        "timeout_in": max(1, timeout - int(now)) if timeout else 0,
        "from_uri": str(raw.get("from_uri", "")),
        "to_uri": str(raw.get("to_uri", "")),
        "user_flags": str(raw.get("user_flags", "")),
        "callees": [_leg(c, "callee", "caller_cseq") for c in _list(raw, "CALLEES")],
        "profiles": profiles,
        "values": values,
    }
    if h_id is not None:
        spec["h_id"] = h_id
    if "caller_tag" in raw:
        spec["caller"] = _leg(raw, "caller", "callee_cseq")
    return spec


async def _dialog_part(up: Upstream, now: float) -> dict[str, Any] | None:
    listed = await _try(up, "dlg_list_ctx")
    if listed is None:
        return None
    profiles = await _try(up, "list_all_profiles")
    return {
        "hash_size": 4096,
        "profiles": {
            str(p["name"]): {"has_value": bool(p.get("has value"))}
            for p in _list(profiles, "Profiles")
        },
        "dialogs": [
            _dialog(d, now) for d in _list(listed, "Dialogs") if int(d.get("state", 0)) < 5
        ],
    }


def _destination(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uri": str(raw.get("URI", "")),
        "state": str(raw.get("state", "Active")).lower(),
        "first_hit_counter": int(raw.get("first_hit_counter", 0)),
        "resolved_addresses": [str(a) for a in raw.get("resolved_addresses", [])],
    }
    for key, name in (("weight", "weight"), ("priority", "priority")):
        if key in raw:
            out[name] = int(raw[key])
    if "attr" in raw:
        out["attrs"] = str(raw["attr"])
    if raw.get("description"):
        out["description"] = str(raw["description"])
    if raw.get("socket"):
        out["socket"] = str(raw["socket"])
    return out


async def _dispatcher(up: Upstream, now: float) -> dict[str, Any] | None:
    listed = await _try(up, "ds_list", {"full": 1})
    if listed is None:
        return None
    return {
        "partitions": [
            {
                "name": str(p.get("name", "default")),
                "sets": [
                    {
                        "id": int(s["id"]),
                        "destinations": [_destination(d) for d in _list(s, "Destinations")],
                    }
                    for s in _list(p, "SETS")
                ],
            }
            for p in _list(listed, "PARTITIONS")
        ]
    }


async def _load_balancer(up: Upstream, now: float) -> dict[str, Any] | None:
    listed = await _try(up, "lb_list")
    if listed is None:
        return None
    return {
        "destinations": [
            {
                "id": int(d["id"]),
                "group": int(d["group"]),
                "uri": str(d["uri"]),
                "enabled": d.get("enabled", "yes") == "yes",
                "auto_reenable": d.get("auto-reenable", "on") == "on",
                **({"attrs": str(d["attrs"])} if d.get("attrs") else {}),
                "resources": [
                    {"name": str(r["name"]), "max": int(r["max"]), "load": int(r.get("load", 0))}
                    for r in _list(d, "Resources")
                ],
            }
            for d in _list(listed, "Destinations")
        ]
    }


_GW_STATES = {
    "active": "active",
    "inactive": "inactive",
    "probing": "probing",
    "disabled mi": "disabled",
}


async def _drouting(up: Upstream, now: float) -> dict[str, Any] | None:
    gateways = await _try(up, "dr_gw_status")
    if gateways is None:
        return None
    carriers = await _try(up, "dr_carrier_status") or {}
    status = await _try(up, "dr_reload_status")
    loaded = _epoch(status.get("Date")) if isinstance(status, dict) else None
    return {
        **({"loaded_ago": max(0.0, now - loaded)} if loaded is not None else {}),
        "gateways": [
            {
                "id": str(g["ID"]),
                "address": str(g.get("IP", "")),
                "state": _GW_STATES.get(str(g.get("State", "Active")).lower(), "disabled"),
            }
            for g in _list(gateways, "Gateways")
        ],
        "carriers": [
            {"id": str(c["ID"]), "enabled": c.get("Enabled", "yes") == "yes"}
            for c in _list(carriers, "Carriers")
        ],
    }


async def _clusterer(up: Upstream, now: float) -> dict[str, Any] | None:
    listed = await _try(up, "clusterer_list")
    if listed is None:
        return None
    caps = {
        int(c["cluster_id"]): [
            {"name": str(x["name"]), "synced": str(x.get("state", "Ok")) == "Ok"}
            for x in _list(c, "Capabilities")
        ]
        for c in _list(await _try(up, "clusterer_list_cap"), "Clusters")
    }
    tags: dict[int, list[dict[str, Any]]] = {}
    shtags = await _try(up, "clusterer_list_shtags")
    for tag in shtags if isinstance(shtags, list) else []:
        if isinstance(tag, dict) and "Cluster" in tag:
            tags.setdefault(int(tag["Cluster"]), []).append(
                {"tag": str(tag.get("Tag", "")), "state": str(tag.get("State", "backup")).lower()}
            )
    return {
        "clusters": [
            {
                "cluster_id": int(c["cluster_id"]),
                "nodes": [
                    {
                        "node_id": int(n["node_id"]),
                        "db_id": int(n.get("db_id", n["node_id"])),
                        "url": str(n.get("url", "")),
                        "link_state": str(n.get("link_state", "Down")),
                        "enabled": n.get("state", "enabled") == "enabled",
                        "description": str(n.get("description", "none")),
                    }
                    for n in _list(c, "Nodes")
                ],
                "capabilities": caps.get(int(c["cluster_id"]), []),
                "sharing_tags": tags.get(int(c["cluster_id"]), []),
            }
            for c in _list(listed, "Clusters")
        ]
    }


async def _permissions(up: Upstream, now: float) -> dict[str, Any] | None:
    dumped = await _try(up, "address_dump")
    if dumped is None:
        return None
    keys = ("grp", "ip", "port", "proto", "pattern", "context_info")
    return {
        "partitions": [
            {
                "name": str(p.get("name", "default")),
                "addresses": [{k: a[k] for k in keys if k in a} for a in _list(p, "Destinations")],
            }
            for p in _list(dumped, "Partitions")
        ]
    }


async def _cfgutils(up: Upstream, now: float) -> dict[str, Any] | None:
    shv = await _try(up, "shv_get")
    if shv is None:
        return None
    # 3.6.8 answers a list holding the list of variables
    items = shv[0] if isinstance(shv, list) and shv and isinstance(shv[0], list) else shv
    variables = [v for v in items if isinstance(v, dict)] if isinstance(items, list) else []
    return {
        "shared_vars": [
            {"name": str(v["name"]), "type": str(v.get("type", "string")), "value": v.get("value")}
            for v in variables
        ]
    }


async def _pike(up: Upstream, now: float) -> dict[str, Any] | None:
    listed = await _try(up, "pike_list")
    if listed is None:  # 4.x renamed it without keeping the 3.x name
        listed = await _try(up, "pike:list")
    if listed is None:
        return None
    listed_ips = listed.get("IPs") if isinstance(listed, dict) else None
    ips = [str(i) for i in listed_ips] if isinstance(listed_ips, list) else []
    return {"ips": [{"ip": ip, "blocked": True} for ip in ips]}


async def _uac_registrant(up: Upstream, now: float) -> dict[str, Any] | None:
    listed = await _try(up, "reg_list")  # 4.0 keeps it as an alias of uac_registrant:list
    if listed is None:
        return None
    registrants = []
    for r in _list(listed, "Records"):
        item: dict[str, Any] = {
            "aor": str(r.get("AOR", "")),
            "contact": str(r.get("binding", "")),
            "registrar": str(r.get("registrar", "")),
            "expires": int(r.get("expires", 0)),
            "enabled": r.get("enabled") == "yes",
            "state": str(r.get("state", "NOT_REGISTERED_STATE")),
        }
        sent, t_out = _epoch(r.get("last_register_sent")), _epoch(r.get("registration_t_out"))
        if sent:
            item["last_register_sent_ago"] = round(now - sent)
        if t_out:
            item["registration_t_out_in"] = round(t_out - now)
        if r.get("socket") is not None:
            item["socket"] = str(r["socket"])
        if r.get("ip"):
            item["ip"] = str(r["ip"])
        registrants.append(item)
    return {"registrants": registrants}


async def _statistics(up: Upstream, now: float) -> dict[str, Any] | None:
    values = await _try(up, "get_statistics", {"statistics": ["all"]})
    if not isinstance(values, dict):
        return None
    kinds = await _try(up, "list_statistics")
    section: dict[str, Any] = {"values": {k: v for k, v in values.items() if isinstance(v, int)}}
    if isinstance(kinds, dict):
        section["catalog"] = [[str(k), str(v)] for k, v in kinds.items()]
    return section


#: Section -> reader, in the order they are read.
PARTS: dict[str, Reader] = {
    "core": _core,
    "usrloc": _usrloc,
    "dialog": _dialog_part,
    "dispatcher": _dispatcher,
    "load_balancer": _load_balancer,
    "drouting": _drouting,
    "clusterer": _clusterer,
    "permissions": _permissions,
    "cfgutils": _cfgutils,
    "pike": _pike,
    "uac_registrant": _uac_registrant,
    "statistics": _statistics,
}


def _epoch(text: Any) -> float | None:
    """``ctime`` text (UTC, as OpenSIPS prints it in the lab) as epoch seconds."""
    if not isinstance(text, str):
        return None
    try:
        parsed = time.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
    return float(calendar.timegm(parsed))


async def server_now(upstream: Upstream) -> float:
    """The server's clock (``uptime`` "Now", ``ctime`` text in UTC as the lab runs), else
    this machine's."""
    uptime = await _try(upstream, "uptime")
    now = _epoch(uptime.get("Now")) if isinstance(uptime, dict) else None
    return time.time() if now is None else now


async def read_scenario(
    upstream: Upstream, *, name: str = "snapshot", now: float | None = None
) -> dict[str, Any]:
    """Every readable part of the live server as a scenario (see the module docstring);
    times are taken relative to ``now`` (default: the server's clock, read first)."""
    if now is None:
        now = await server_now(upstream)
    scenario: dict[str, Any] = {
        "name": name,
        "description": f"Snapshot of {upstream.url} taken at {time.ctime(now)}.",
    }
    for key, reader in PARTS.items():
        section = await reader(upstream, now)
        if section is not None:
            scenario[key] = section
    return scenario


def stable(scenario: dict[str, Any]) -> dict[str, Any]:
    """The scenario without what moves by itself between two reads of an idle server
    (seconds up, left or ago; statistics; clusterer peers' link states): two reads with no
    change between them are equal.
    The fault proxy's ``GET /sim/state``."""
    out = {k: v for k, v in scenario.items() if k not in ("statistics", "name", "description")}
    if "core" in out:
        out["core"] = {k: v for k, v in out["core"].items() if k != "up_since_ago"}
    if "usrloc" in out:
        aors = out["usrloc"].get("aors", {})
        out["usrloc"] = out["usrloc"] | {
            "aors": {
                aor: [{k: v for k, v in c.items() if k != "expires_in"} for c in contacts]
                for aor, contacts in aors.items()
            }
        }
    if "dialog" in out:
        moving = ("started_ago", "timeout_in")
        out["dialog"] = out["dialog"] | {
            "dialogs": [
                {k: v for k, v in d.items() if k not in moving}
                for d in out["dialog"].get("dialogs", [])
            ]
        }
    if "drouting" in out:
        out["drouting"] = {k: v for k, v in out["drouting"].items() if k != "loaded_ago"}
    if "clusterer" in out:
        out["clusterer"] = _without_link_states(out["clusterer"])
    if "uac_registrant" in out:
        out["uac_registrant"] = _without_registration_progress(out["uac_registrant"])
    return out


#: What a registrant's own timer moves (REGISTER sent every timer_interval, timeouts).
REGISTRATION_PROGRESS = (
    "state",
    "last_register_sent_ago",
    "registration_t_out_in",
    "socket",
    "ip",
)


def _without_registration_progress(section: dict[str, Any]) -> dict[str, Any]:
    """The registrants without their registration progress, which moves by itself: on a lab
    whose registrar does not answer, an enabled registrant went NOT_REGISTERED_STATE ->
    REGISTERING_STATE -> REGISTER_TIMEOUT_STATE (send time, timeout and socket set) with no
    MI call (3.6.8 and 4.0.1 labs, timer_interval 30)."""
    return section | {
        "registrants": [
            {k: v for k, v in r.items() if k not in REGISTRATION_PROGRESS}
            for r in section.get("registrants", [])
            if isinstance(r, dict)
        ]
    }


def _without_link_states(section: dict[str, Any]) -> dict[str, Any]:
    """The clusterer section without its peers' link states, which move by themselves: the
    clusterer probes peers on its own timer (an absent peer went Probe -> Down on a 4.0.1
    lab started seconds before, between two reads with no MI call in between)."""
    clusters = []
    for cluster in section.get("clusters", []):
        nodes = cluster.get("nodes") if isinstance(cluster, dict) else None
        if isinstance(nodes, list):
            cluster = cluster | {"nodes": [_drop(n, "link_state") for n in nodes]}
        clusters.append(cluster)
    return section | {"clusters": clusters}


def _drop(item: Any, key: str) -> Any:
    return {k: v for k, v in item.items() if k != key} if isinstance(item, dict) else item


# ---- restore -------------------------------------------------------------------------------


async def restore(upstream: Upstream, baseline: dict[str, Any]) -> None:
    """Write back, through MI, the registrations, dispatcher states and gateway and carrier
    states of ``baseline`` (a :func:`read_scenario` result). Best effort: what cannot be
    written back (ended dialogs, expired contacts' call-ids) stays as it is."""
    now = await read_scenario(upstream)
    await _restore_usrloc(upstream, baseline.get("usrloc"), now.get("usrloc"))
    await _restore_dispatcher(upstream, baseline.get("dispatcher"), now.get("dispatcher"))
    await _restore_drouting(upstream, baseline.get("drouting"), now.get("drouting"))
    await _restore_registrants(upstream, baseline.get("uac_registrant"), now.get("uac_registrant"))


async def _quiet(upstream: Upstream, method: str, params: dict[str, Any]) -> None:
    with contextlib.suppress(UpstreamCallError, UpstreamError):
        await upstream.call(method, params)


async def _restore_usrloc(up: Upstream, base: Any, now: Any) -> None:
    if not base or now is None:
        return
    want = {aor: {c["contact"]: c for c in cs} for aor, cs in base.get("aors", {}).items()}
    have = {aor: {c["contact"] for c in cs} for aor, cs in now.get("aors", {}).items()}
    for aor, contacts in have.items():
        if aor not in want:
            await _quiet(up, "ul_rm", {"table_name": "location", "aor": aor})
            continue
        for contact in contacts - set(want[aor]):
            params = {"table_name": "location", "aor": aor, "contact": contact}
            await _quiet(up, "ul_rm_contact", params)
    for aor, wanted in want.items():
        for uri, c in wanted.items():
            if uri in have.get(aor, set()):
                continue
            q = int(c.get("q", -1))
            await _quiet(
                up,
                "ul_add",
                {
                    "table_name": "location",
                    "aor": aor,
                    "contact": uri,
                    "expires": int(c.get("expires_in", 3600)),
                    "q": "1" if q < 0 or q >= 1000 else f"0.{q:03d}",
                    "flags": int(c.get("flags", 0)),
                    "cflags": 0,
                    "methods": int(c.get("methods", 0xFFFFFFFF)),
                },
            )


async def _restore_registrants(up: Upstream, base: Any, now: Any) -> None:
    """Registrants enabled or disabled as they were (``reg_enable``/``reg_disable``); their
    registration progress moves by itself and is not put back."""
    have = {
        (r["aor"], r["contact"], r["registrar"]): r["enabled"]
        for r in (now or {}).get("registrants", [])
    }
    for r in (base or {}).get("registrants", []):
        coords = (r["aor"], r["contact"], r["registrar"])
        if coords in have and have[coords] != r["enabled"]:
            params = {"aor": coords[0], "contact": coords[1], "registrar": coords[2]}
            await _quiet(up, "reg_enable" if r["enabled"] else "reg_disable", params)


def _ds_states(section: Any) -> dict[tuple[str, int, str], str]:
    return {
        (str(p["name"]), int(s["id"]), str(d["uri"])): str(d["state"])
        for p in (section or {}).get("partitions", [])
        for s in p.get("sets", [])
        for d in s.get("destinations", [])
    }


async def _restore_dispatcher(up: Upstream, base: Any, now: Any) -> None:
    have = _ds_states(now)
    for key, state in _ds_states(base).items():
        if have.get(key) == state:
            continue
        partition, set_id, uri = key
        group = str(set_id) if partition == "default" else f"{partition}:{set_id}"
        params = {"group": group, "address": uri}
        if state == "probing":
            # "p" counts a failure and turns Probing at the module's probing_threshold
            await _quiet(up, "ds_set_state", params | {"state": "a"})
            for _ in range(PROBE_TRIES):
                await _quiet(up, "ds_set_state", params | {"state": "p"})
                current = _ds_states(await _dispatcher(up, 0.0))
                if current.get(key) == "probing":
                    break
        else:
            await _quiet(up, "ds_set_state", params | {"state": state[:1]})


#: How many ``p`` a restore sends at most to bring a destination back to Probing.
PROBE_TRIES = 10


async def _restore_drouting(up: Upstream, base: Any, now: Any) -> None:
    if not base or now is None:
        return
    have = {g["id"]: g["state"] for g in now.get("gateways", [])}
    for gw in base.get("gateways", []):
        # MI sets Active (1) or disabled by MI (0); probing states come from probing only
        if have.get(gw["id"]) != gw["state"] and gw["state"] in ("active", "disabled"):
            status = 1 if gw["state"] == "active" else 0
            await _quiet(up, "dr_gw_status", {"gw_id": gw["id"], "status": status})
    carriers = {c["id"]: c["enabled"] for c in now.get("carriers", [])}
    for carrier in base.get("carriers", []):
        if carriers.get(carrier["id"]) != carrier["enabled"]:
            params = {"carrier_id": carrier["id"], "status": 1 if carrier["enabled"] else 0}
            await _quiet(up, "dr_carrier_status", params)
