"""What the server must decide, worked out by the suite itself.

The catalog under test supplies each recipe's level, so a wrong level in the catalog would
look right to a check that only asks the catalog. The expectation here therefore combines
the catalog's data with oracles that do not come from it:

* the role table of the design (viewer: read; operator: read, write; admin: all), written
  out here rather than taken from ``opensips_mcp.gate``;
* :data:`SETTER_PARAMS`: parameter names that set something in get-or-set commands. A
  recipe that carries one of them is never ``read``, whatever the catalog says;
* :data:`ANCHORS`: levels the design names for well-known recipes (``*_reload`` is write,
  ``kill`` is admin, ...), used as floors;
* the simulator's own classification, which it journals with every request (checked by the
  properties: an allowed call's journal level must be one the role may use).

Recipe matching is re-implemented from the MI rules (named parameters: exactly one recipe
with those names; positional: the recipes of that length, the highest level among them),
so a broken resolver is caught as well as a broken gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from conformance.versions import target_catalog

Level = Literal["read", "write", "destructive", "admin"]
LEVELS: tuple[Level, ...] = ("read", "write", "destructive", "admin")

#: The design's role table (DESIGN.md, "The gate"), independent of the gate's code.
ROLE_LEVELS: dict[str, frozenset[Level]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "write"}),
    "admin": frozenset(LEVELS),
}
ROLES: tuple[str, ...] = tuple(ROLE_LEVELS)

#: Parameter names that set a value in get-or-set commands: a recipe with one is never read.
SETTER_PARAMS: frozenset[str] = frozenset(
    {
        "status",
        "new_status",
        "state",
        "level",
        "log_level",
        "mode",
        "trace_mode",
        "capture_mode",
        "dispatching",
        "mute_state",
        "level_filter",
        "prob_proc",
        "action",
        "enable",
        "new_capacity",
        "new_set",
        "new_node",
        "new_uri",
        "new_headers",
    }
)

#: Levels the design states for named recipes (floors: the catalog may be stricter).
ANCHORS: dict[tuple[str, tuple[str, ...]], Level] = {
    ("uptime", ()): "read",
    ("dlg_list", ()): "read",
    ("ul_dump", ()): "read",
    ("dr_gw_status", ("gw_id",)): "read",
    ("dr_gw_status", ("gw_id", "status")): "write",
    ("dr_gw_status", ("partition_name", "gw_id", "status")): "write",
    ("dr_carrier_status", ("carrier_id", "status")): "write",
    ("ds_set_state", ("state", "group", "address")): "write",
    ("lb_status", ("destination_id", "new_status")): "write",
    ("dlg_end_dlg", ("dialog_id",)): "destructive",
    ("dlg_end_dlg", ("dialog_id", "extra_hdrs")): "destructive",
    ("profile_end_dlgs", ("profile",)): "destructive",
    ("profile_end_dlgs", ("profile", "value")): "destructive",
    ("ul_rm", ("table_name", "aor")): "destructive",
    ("ul_rm_contact", ("table_name", "aor", "contact")): "destructive",
    ("reset_statistics", ("statistics",)): "destructive",
    ("reset_all_statistics", ()): "destructive",
    ("kill", ()): "admin",
    ("log_level", ("level",)): "admin",
    ("log_level", ("level", "pid")): "admin",
    ("cluster_broadcast_mi", ("cluster_id", "cmd_name")): "admin",
    ("cluster_broadcast_mi", ("cluster_id", "cmd_name", "cmd_params")): "admin",
}

#: Every ``*_reload`` recipe changes runtime state (design: "``*_reload``" is write).
RELOAD_SUFFIX = "_reload"

#: Commands whose ``cmd_name``/``cmd_params`` run another command on cluster nodes.
CARRIERS = frozenset({"cluster_send_mi", "cluster_broadcast_mi"})

#: Where the simulator's journaled level is known to differ from the catalog's, with why.
#: The journal-level oracle is not applied to these commands (the other checks are).
LEVEL_DISAGREEMENTS: dict[str, str] = {}

#: Commands the suite never sends for real, whatever the role (they stop the target).
NEVER_SEND = frozenset({"kill"})

#: Recipes the suite holds heavy, whatever the server's cost model says: they walk a whole
#: hash table (tm's 65,536 buckets: 53 s and a 2.5 MB answer on the 3.6.8 lab).
HEAVY = frozenset({("t_hash", frozenset())})

Refusal = Literal["unknown_command", "no_matching_recipe", "carried_command", "invalid_params"]


def highest(*levels: Level) -> Level:
    """The highest of ``levels`` (``read`` when none)."""
    return max(levels, key=LEVELS.index, default="read")


def allows(role: str, level: Level) -> bool:
    """True when ``role`` may run a recipe of ``level`` (the design's role table)."""
    return level in ROLE_LEVELS[role]


@dataclass(frozen=True)
class Expectation:
    """What the server must do with one ``mi_execute`` call."""

    command: str
    recipe: tuple[str, ...] | None
    level: Level | None
    """The level the gate must check (carried command included); ``None`` when refused."""
    catalog_level: Level | None
    """The level the catalog's data gives (without the suite's floors), for the notes."""
    refusal: Refusal | None = None
    """The error the call must get before anything is sent, when it cannot be resolved."""
    carried: Expectation | None = None
    heavy: bool = False
    """A heavy recipe (:data:`HEAVY`, or carrying one): below ``admin`` it must be refused
    as ``too_heavy`` with nothing sent (the server's default ``mi_heavy_role``)."""

    def allowed_for(self, role: str) -> bool:
        """True when ``role`` must be allowed to send this call."""
        return self.refusal is None and self.level is not None and allows(role, self.level)

    @property
    def is_read(self) -> bool:
        """True when the call resolves, and every oracle agrees it changes nothing."""
        return self.refusal is None and self.level == "read"


def floor(command: str, recipe: Sequence[str]) -> Level:
    """The lowest level the suite's own oracles allow for ``command`` with ``recipe``."""
    names = tuple(recipe)
    levels: list[Level] = []
    if SETTER_PARAMS.intersection(names):
        levels.append("write")
    if command.endswith(RELOAD_SUFFIX):
        levels.append("write")
    for (name, anchor_recipe), level in ANCHORS.items():
        if name == command and frozenset(anchor_recipe) == frozenset(names):
            levels.append(level)
    return highest(*levels)


def expect(command: str, params: Any) -> Expectation:
    """What ``mi_execute(command, params)`` must lead to (see the module docstring)."""
    entry = target_catalog().get(command)
    if entry is None:
        return Expectation(command, None, None, None, refusal="unknown_command")
    command = entry.name
    recipes: list[tuple[tuple[str, ...], Level]] = [
        (tuple(r.params), r.level.value) for r in entry.recipes
    ]
    if params is not None and not isinstance(params, Mapping | list):
        return Expectation(command, None, None, None, refusal="invalid_params")
    matched = _match(command, recipes, params)
    if matched is None:
        return Expectation(command, None, None, None, refusal="no_matching_recipe")
    recipe, catalog_level, floor_level = matched
    level = highest(catalog_level, floor_level)
    if command not in CARRIERS:
        heavy = (command, frozenset(recipe)) in HEAVY
        return Expectation(command, recipe, level, catalog_level, heavy=heavy)
    positional = list(params or []) if not isinstance(params, Mapping) else []
    values = (
        dict(params) if isinstance(params, Mapping) else dict(zip(recipe, positional, strict=True))
    )
    cmd_name = values.get("cmd_name")
    cmd_params = values.get("cmd_params")
    if not isinstance(cmd_name, str) or not cmd_name:
        return Expectation(command, recipe, None, catalog_level, refusal="carried_command")
    if cmd_params is not None and not isinstance(cmd_params, list):
        return Expectation(command, recipe, None, catalog_level, refusal="carried_command")
    carried = expect(cmd_name, cmd_params)
    if carried.refusal is not None or carried.level is None:
        return Expectation(
            command, recipe, None, catalog_level, refusal="carried_command", carried=carried
        )
    assert carried.catalog_level is not None
    return Expectation(
        command,
        recipe,
        highest(level, carried.level),
        highest(catalog_level, carried.catalog_level),
        carried=carried,
        heavy=carried.heavy,
    )


def _match(
    command: str,
    recipes: list[tuple[tuple[str, ...], Level]],
    params: Mapping[str, Any] | list[Any] | None,
) -> tuple[tuple[str, ...], Level, Level] | None:
    if params is None:
        params = {}
    if isinstance(params, Mapping):
        given = frozenset(params)
        for names, level in recipes:
            if frozenset(names) == given:
                return names, level, floor(command, names)
        return None
    same_size = [(names, level) for names, level in recipes if len(names) == len(params)]
    if not same_size:
        return None
    return (
        same_size[0][0],
        highest(*(level for _, level in same_size)),
        highest(*(floor(command, names) for names, _ in same_size)),
    )
