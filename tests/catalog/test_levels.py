"""Access levels of (command, recipe) pairs: pinned, conservative, and get-or-set aware."""

from __future__ import annotations

import pytest

from opensips_mcp.catalog import AccessLevel, load_catalog

R, W, D, A = AccessLevel.READ, AccessLevel.WRITE, AccessLevel.DESTRUCTIVE, AccessLevel.ADMIN

PINNED: list[tuple[str, tuple[str, ...], AccessLevel]] = [
    ("uptime", (), R), ("version", (), R), ("which", (), R), ("ps", (), R),
    ("get_statistics", ("statistics",), R), ("list_statistics", (), R),
    ("dlg_list", (), R), ("dlg_list", ("index", "counter"), R), ("dlg_list_ctx", ("callid",), R),
    ("ul_dump", (), R), ("ul_dump", ("brief",), R), ("ul_show_contact", ("table_name", "aor"), R),
    ("ds_list", ("full",), R), ("lb_list", (), R), ("clusterer_list", (), R),
    ("profile_get_size", ("profile",), R), ("dr_number_routing", ("number",), R),
    ("ds_set_state", ("state", "group", "address"), W), ("ds_reload", (), W),
    ("lb_resize", ("destination_id", "res_name", "new_capacity"), W), ("lb_reload", (), W),
    ("dr_reload", (), W), ("ul_add", ("table_name", "aor", "contact", "expires", "q", "flags",
                                      "cflags", "methods"), W),
    ("clusterer_set_status", ("cluster_id", "status"), W),
    ("shv_set", ("name", "type", "value"), W), ("pike_rm", ("ip",), W),
    ("address_reload", (), W), ("dlg_set_profile", ("dlg_id", "profile"), W),
    ("dlg_end_dlg", ("dialog_id",), D), ("profile_end_dlgs", ("profile",), D),
    ("ul_rm", ("table_name", "aor"), D), ("ul_rm_contact", ("table_name", "aor", "contact"), D),
    ("reset_statistics", ("statistics",), D), ("reset_all_statistics", (), D),
    ("t_uac_cancel", ("callid", "cseq"), D),
    ("kill", (), A), ("t_uac_dlg", ("method", "ruri", "headers"), A), ("reload_routes", (), A),
    ("trace_start", ("id", "uri"), A), ("media_fork_from_call_to_uri", ("callid", "uri"), A),
    ("cluster_broadcast_mi", ("cluster_id", "cmd_name"), A),
    # get-or-set commands, both ways
    ("dr_gw_status", (), R), ("dr_gw_status", ("gw_id",), R),
    ("dr_gw_status", ("partition_name", "gw_id"), R), ("dr_gw_status", ("gw_id", "status"), W),
    ("dr_gw_status", ("partition_name", "gw_id", "status"), W),
    ("dr_carrier_status", ("carrier_id",), R), ("dr_carrier_status", ("carrier_id", "status"), W),
    ("dr_carrier_status", ("partition_name", "carrier_id", "status"), W),
    ("lb_status", ("destination_id",), R), ("lb_status", ("destination_id", "new_status"), W),
    ("log_level", (), R), ("log_level", ("level",), A), ("log_level", ("level", "pid"), A),
    ("xlog_level", (), R), ("xlog_level", ("level",), A),
    ("log_level_filter", ("consumer",), R), ("log_level_filter", ("consumer", "level_filter"), A),
    ("log_mute_state", ("consumer",), R), ("log_mute_state", ("consumer", "mute_state"), A),
    ("trace", (), R), ("trace", ("id",), R), ("trace", ("mode",), W), ("trace", ("id", "mode"), W),
    ("nh_enable_ping", (), R), ("nh_enable_ping", ("status",), W),
    ("dr_enable_probing", (), R), ("dr_enable_probing", ("status",), W),
    ("rand_get_prob", (), R), ("rand_set_prob", ("prob_proc",), W),
    ("shv_get", (), R), ("shv_get", ("name",), R),
    ("sip_capture", (), R), ("sip_capture", ("capture_mode",), W),
    ("tcp_trace", (), R), ("tcp_trace", ("trace_mode",), W),
    ("tls_trace", (), R), ("tls_trace", ("trace_mode",), W),
    ("cc_internal_call_dispatching", (), R), ("cc_internal_call_dispatching", ("dispatching",), W),
    ("watch", (), R), ("watch", ("action", "extension"), W),
]  # fmt: skip


@pytest.mark.parametrize(("command", "recipe", "level"), PINNED)
def test_pinned_level_of_command_recipe(
    command: str, recipe: tuple[str, ...], level: AccessLevel
) -> None:
    entry = load_catalog().get(command)
    assert entry is not None
    matches = [r for r in entry.recipes if r.key == frozenset(recipe)]
    assert len(matches) == 1, f"{command} has no recipe {recipe}"
    assert matches[0].level is level


def test_at_least_forty_pairs_are_pinned() -> None:
    assert len(PINNED) >= 40


# Parameter names that set something in get-or-set commands.
SETTERS = {"status", "new_status", "level", "level_filter", "mute_state", "mode", "trace_mode",
           "capture_mode", "dispatching", "prob_proc", "action", "log_level"}  # fmt: skip


def test_no_read_recipe_carries_a_setter_parameter() -> None:
    for entry in load_catalog().entries():
        for recipe in entry.recipes:
            if recipe.level.is_read:
                assert not (set(recipe.params) & SETTERS), (entry.name, recipe.params)


def test_every_get_or_set_command_is_read_only_without_the_setter() -> None:
    mixed = [e for e in load_catalog().entries() if e.min_level.is_read and not e.max_level.is_read]
    assert {e.name for e in mixed} >= {
        "dr_gw_status", "dr_carrier_status", "lb_status", "log_level", "xlog_level", "trace",
        "nh_enable_ping", "log_level_filter", "log_mute_state", "dr_enable_probing",
    }  # fmt: skip
    for entry in mixed:
        for recipe in entry.recipes:
            sets_something = bool(set(recipe.params) & SETTERS)
            assert recipe.level.is_read is not sets_something, (entry.name, recipe.params)


def test_levels_are_ordered() -> None:
    assert R < W < D < A
    assert max([W, A, R], key=lambda lv: lv.rank) is A
