"""The catalog holds exactly the real OpenSIPS 3.6 commands and recipes: nothing invented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opensips_mcp.catalog import load_catalog
from tests.captures import version_dir

REPO = Path(__file__).resolve().parents[2]
FACTS_FILE = version_dir("3.6.8") / "commands.json"
BUNDLED_FACTS = REPO / "simulator" / "opensips_sim" / "data" / "commands-3.6.json"

# Names other tools use that do not exist in OpenSIPS 3.6 (FACTS.md).
NOT_REAL = [
    "lcr_reload", "lcr_dump", "rl_bin_status", "avp_get", "avp_set", "avp_delete", "mem",
    "tls_info", "reg_dump", "sl_stats", "th_list", "acc_reload", "mid_reg_dump",
    "mid_reg_update", "pua_list", "uac_reg_list", "uac_reg_reload", "set_dlg_profile",
    "unset_dlg_profile", "b2b_terminate", "presence_list_phtable", "presence_refresh_watchers",
    "presence_cleanup", "event_list", "event_subscribers_list",
]  # fmt: skip


def facts() -> dict[str, dict[str, object]]:
    commands: dict[str, dict[str, object]] = json.loads(FACTS_FILE.read_text("utf-8"))["commands"]
    return commands


def test_catalog_has_exactly_the_real_commands() -> None:
    assert load_catalog().for_version("3.6.8").names() == sorted(facts())
    assert len(load_catalog().for_version("3.6.8")) == 265


@pytest.mark.parametrize("name", sorted(facts()))
def test_every_recipe_equals_the_real_one(name: str) -> None:
    entry = load_catalog().for_version("3.6.8").get(name)
    assert entry is not None
    assert [list(r.params) for r in entry.recipes] == facts()[name]["recipes"]
    assert entry.module == facts()[name]["module"]


@pytest.mark.parametrize("name", NOT_REAL)
def test_names_that_do_not_exist_in_opensips_are_not_in_the_catalog(name: str) -> None:
    assert load_catalog().get(name) is None


def test_simulator_copy_of_the_facts_equals_the_captured_one() -> None:
    assert json.loads(BUNDLED_FACTS.read_text()) == json.loads(FACTS_FILE.read_text())


def test_every_check_after_command_is_a_real_read_command() -> None:
    catalog = load_catalog()
    for entry in catalog.entries():
        if entry.check_after is None:
            continue
        target = catalog.get(entry.check_after)
        assert target is not None, entry.name
        assert target.min_level.is_read, (entry.name, target.name)


def test_every_command_that_can_change_state_names_a_read_to_check_it() -> None:
    missing = [
        e.name
        for e in load_catalog().entries()
        if not e.max_level.is_read and e.check_after is None and not e.carries_command
    ]
    # Commands whose effect no MI read shows (process-wide actions, file loads, syncs to DB).
    expected_without = {
        "LOAD_CPL", "REMOVE_CPL", "aka_av_add", "aka_av_drop", "aka_av_drop_all", "aka_av_fail",
        "bdb_reload", "bm_enable_global", "bm_enable_timer", "bm_granularity", "bm_loglevel",
        "cc_reset_stats", "cleanup", "dfks_set_feature", "evi_flat_rotate", "fd_log_level",
        "flat_rotate", "fraud_reload", "media_exchange_from_call_to_uri",
        "media_exchange_from_call_to_uri_body", "media_fork_from_call_to_uri",
        "mem_pkg_dump", "mem_rpm_dump", "mem_shm_dump", "pi_reload_tbls_and_cmds",
        "pres_expose", "pua_publish", "pua_subscribe", "raise_event", "rc_addClient",
        "rc_addVendor", "rc_deleteClient", "rc_deleteClientRate", "rc_deleteVendor",
        "rc_deleteVendorRate", "rc_reloadClientRate", "rc_reloadVendorRate", "refreshWatchers",
        "refreshXcapDoc", "refresh_watchers", "regex_reload", "reload_blacklist", "reload_routes",
        "rls_update_subscriptions", "shm_check", "sql_cacher_reload", "stir_shaken_ca_reload",
        "stir_shaken_crl_reload", "t_reply", "t_uac_dlg", "tcp_reload", "dlg_send_sequential",
    }  # fmt: skip
    assert set(missing) == expected_without
