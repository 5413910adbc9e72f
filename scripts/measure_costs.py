"""Measure what each read MI command costs on a real OpenSIPS; write the catalog's cost file.

Run against a lab (never a production server: heavy commands stall its MI for seconds)::

    .venv/bin/python scripts/measure_costs.py --mi-url http://127.0.0.1:9190/mi \
        [--out server/opensips_mcp/catalog/costs.json] [--timeout 120] [--repeat 3]

Every ``read`` recipe without parameters that the server offers (``which``), plus the
parameterised forms listed in :data:`PARAM_FORMS`, is run **one at a time** (never two
requests at once, never re-sent), each bounded by ``--timeout``. The fastest of
``--repeat`` runs (one run for anything slower than a second) is recorded with the answer
size. The output (``costs.json``) is keyed by command, then by recipe (parameter names
joined with ``,``; ``""`` for none); each record gives the cost class (what the time grows
with: :data:`CLASSES`), the measured time and size at the lab's size, whether it is heavy
and what to use instead. The class and the advice are judgement, written here
(:data:`GROWS`, :data:`INSTEAD`); the numbers are measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from opensips_mcp.catalog import AccessLevel, load_catalog
from opensips_mcp.mi import MIClient, MIError, MISettings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "server" / "opensips_mcp" / "catalog" / "costs.json"

CLASSES = ("constant", "contacts", "dialogs", "destinations", "hash_size", "unbounded")
"""What a command's time grows with. ``hash_size``: walks a whole hash table whatever its
fill (tm's 65,536 buckets); ``unbounded``: grows with something nothing bounds (TCP
connections, pike's tree, presence hash tables)."""

HEAVY_MS = 500.0
"""A recipe measured slower than this at the lab's size is heavy, whatever its class."""
HEAVY_BYTES = 1_000_000
"""So is one whose answer is larger than this."""
HEAVY_CLASSES = frozenset({"hash_size"})
"""Classes heavy whatever was measured: a whole hash table is walked even when empty."""

HEAVY_WHEN = (
    f"class in {sorted(HEAVY_CLASSES)} or time_ms >= {HEAVY_MS:g} or bytes >= {HEAVY_BYTES}"
)

# (command, params) forms with parameters worth measuring: the paged forms, and the largest
# form of a recipe (a recipe is keyed by its names: "all" stands for every statistics list).
PARAM_FORMS: list[tuple[str, dict[str, Any]]] = [
    ("get_statistics", {"statistics": ["all"]}),
    ("ds_list", {"full": 1}),
    ("dlg_list", {"index": 0, "counter": 10}),
    ("dlg_list_ctx", {"index": 0, "counter": 10}),
    ("ul_dump", {"brief": 1}),
]

# command -> (recipe key or "*") -> class. Default: constant.
GROWS: dict[str, dict[str, str]] = {
    "t_hash": {"*": "hash_size"},
    "ul_dump": {"*": "contacts"},
    "dlg_list": {"": "dialogs", "index,counter": "dialogs", "*": "constant"},
    "dlg_list_ctx": {"": "dialogs", "index,counter": "dialogs", "*": "constant"},
    "profile_get_values": {"*": "dialogs"},
    "list_all_profiles": {"*": "constant"},
    "ds_list": {"*": "destinations"},
    "lb_list": {"*": "destinations"},
    "dr_gw_status": {"": "destinations", "partition_name": "destinations", "*": "constant"},
    "dr_carrier_status": {"": "destinations", "partition_name": "destinations", "*": "constant"},
    "cr_dump_routes": {"*": "destinations"},
    "list_blacklists": {"*": "destinations"},
    "address_dump": {"*": "destinations"},
    "subnet_dump": {"*": "destinations"},
    "domain_dump": {"*": "destinations"},
    "clusterer_list_topology": {"*": "destinations"},
    "clusterer_list": {"*": "destinations"},
    "get_statistics": {"*": "constant"},
    "list_statistics": {"*": "constant"},
    "list_tcp_conns": {"*": "unbounded"},
    "pike_list": {"*": "unbounded"},
    "b2b_list": {"*": "dialogs"},
    "b2be_list": {"*": "dialogs"},
    "rtp_relay_list": {"*": "dialogs"},
    "ua_session_list": {"*": "dialogs"},
    "pres_phtable_list": {"*": "unbounded"},
    "subs_phtable_list": {"*": "unbounded"},
    "dbt_dump": {"*": "unbounded"},
    "cc_list_calls": {"*": "dialogs"},
    "sca_list": {"*": "dialogs"},
    "imc_list_rooms": {"*": "unbounded"},
}

INSTEAD: dict[str, str] = {
    "t_hash": "get_statistics with statistics ['tm:'] (inuse_transactions, UAS/UAC counts) "
    "or the opensips_status tool",
    "ul_dump": "ul_show_contact with table_name and aor for one AOR, or the registrations_list "
    "tool with aor",
    "dlg_list": "dlg_list with index and counter (a page), or with callid for one dialog; the "
    "dialogs_list tool pages",
    "dlg_list_ctx": "dlg_list with index and counter (a page), or dlg_list_ctx with callid",
    "list_tcp_conns": "get_statistics with statistics ['tcp:'] or the opensips_status tool",
    "get_statistics": "get_statistics with the groups you need, e.g. ['dialog:', 'tm:']",
    "pike_list": "get_statistics with statistics ['pike:']",
}


def recipe_key(params: Any) -> str:
    """The cost file's recipe key: parameter names joined with ``,`` (``""`` for none)."""
    if isinstance(params, dict):
        return ",".join(params)
    return ""


def grows(command: str, key: str) -> str:
    """The cost class of (command, recipe key) from :data:`GROWS` (default constant)."""
    table = GROWS.get(command, {})
    return table.get(key, table.get("*", "constant"))


def classify(command: str, key: str, measured: dict[str, Any]) -> dict[str, Any]:
    """A cost record from a measurement: class, time, size, heavy, advice."""
    cls = grows(command, key)
    heavy = (
        cls in HEAVY_CLASSES or measured["time_ms"] >= HEAVY_MS or measured["bytes"] >= HEAVY_BYTES
    )
    record: dict[str, Any] = {
        "class": cls,
        "time_ms": measured["time_ms"],
        "bytes": measured["bytes"],
        "heavy": heavy,
    }
    if "measured_with" in measured:
        record["measured_with"] = measured["measured_with"]
    if command in INSTEAD and (heavy or cls != "constant"):
        record["instead"] = INSTEAD[command]
    return record


def reclassify(data: dict[str, Any]) -> dict[str, Any]:
    """The same measurements with class, heavy and advice derived again from this script."""
    data["commands"] = {
        command: {key: classify(command, key, rec) for key, rec in recipes.items()}
        for command, recipes in data["commands"].items()
    }
    data["lab"]["heavy_when"] = HEAVY_WHEN
    return data


async def measure_one(
    mi: MIClient, command: str, params: dict[str, Any] | None, repeat: int
) -> dict[str, Any] | None:
    """Fastest of ``repeat`` runs (one if slower than a second); None if it failed."""
    best: tuple[float, int] | None = None
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            resp = await mi.call(command, params, level=AccessLevel.READ)
        except MIError as exc:
            print(f"  {command} {params}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return None
        seconds = time.perf_counter() - started
        size = len(json.dumps(resp.result, separators=(",", ":")))
        if best is None or seconds < best[0]:
            best = (seconds, size)
        if seconds > 1.0:
            break
    assert best is not None
    return {"time_ms": round(best[0] * 1000, 2), "bytes": best[1]}


async def measure(url: str, timeout: float, repeat: int) -> dict[str, Any]:
    """Measure every read form the server at ``url`` offers; the cost file's content."""
    catalog = load_catalog()
    settings = MISettings(
        url=url,
        read_timeout=timeout,
        total_timeout=timeout + 5,
        max_attempts=1,
        pool_size=1,
        max_in_flight=1,
    )
    commands: dict[str, dict[str, Any]] = {}
    async with MIClient(settings) as mi:
        version = (await mi.call("version", level=AccessLevel.READ)).result
        offered = set((await mi.call("which", level=AccessLevel.READ)).result)
        forms: list[tuple[str, dict[str, Any] | None]] = []
        for entry in catalog.entries():
            if entry.name in offered and any(
                r.params == () and r.level == AccessLevel.READ for r in entry.recipes
            ):
                forms.append((entry.name, None))
        forms += [(c, p) for c, p in PARAM_FORMS if c in offered]
        for command, params in forms:
            key = recipe_key(params)
            print(f"{command} {{{key}}}", file=sys.stderr, flush=True)
            got = await measure_one(mi, command, params, repeat)
            if got is None:
                continue
            if params is not None:
                got["measured_with"] = params
            commands.setdefault(command, {})[key] = classify(command, key, got)
    return {
        "about": (
            "Cost of read MI commands per recipe, measured one at a time by "
            "scripts/measure_costs.py; class = what the time grows with; time_ms and bytes "
            "at the lab's size (lab: below)."
        ),
        "lab": {
            "server": version.get("Server") if isinstance(version, dict) else version,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "size": "make lab: 3 registered AORs, 3 confirmed dialogs, 2 dispatcher "
            "destinations, 2 load-balancer destinations, 1 drouting gateway",
            "heavy_when": HEAVY_WHEN,
        },
        "commands": dict(sorted(commands.items())),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mi-url", help="the lab's MI URL (not with --reclassify)")
    parser.add_argument(
        "--reclassify",
        action="store_true",
        help="no server: derive class, heavy and advice again for the numbers in --out",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.reclassify:
        data = reclassify(json.loads(args.out.read_text(encoding="utf-8")))
    elif args.mi_url:
        data = asyncio.run(measure(args.mi_url, args.timeout, args.repeat))
    else:
        parser.error("give --mi-url (measure) or --reclassify")
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    heavy = [
        f"{c} {{{k}}}: {r['time_ms']} ms, {r['bytes']} B"
        for c, recs in data["commands"].items()
        for k, r in recs.items()
        if r["heavy"]
    ]
    print(f"wrote {args.out}: {len(data['commands'])} commands; heavy: {heavy}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
