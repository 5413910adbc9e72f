"""Core commands (which, help, uptime, version, ps, log_level) and statistics."""

from __future__ import annotations

from opensips_sim import dispatch
from opensips_sim.errors import INVALID_PARAMS
from opensips_sim.registry import commands

from .sim_helpers import advance, mi, mi_error, world_of


def test_which_lists_the_commands_the_captured_server_offered_and_no_others() -> None:
    names = mi(world_of(), "which")
    live = {n for n, info in commands().items() if info.seen_live}
    assert set(names) >= live
    assert "lcr_reload" not in names
    assert names[0] == "arg"  # core commands come first


def test_which_with_a_command_gives_its_recipes() -> None:
    world = world_of()
    assert mi(world, "which", {"command": "uptime"}) == [[]]
    assert mi(world, "which", {"command": "log_level"}) == [[], ["level"], ["level", "pid"]]


def test_which_and_help_of_an_unknown_or_unloaded_command_are_404() -> None:
    world = world_of()
    assert mi_error(world, "which", {"command": "nope"})[:2] == (404, "unknown MI command")
    not_loaded = next(n for n, i in commands().items() if not i.seen_live)
    assert mi_error(world, "help", {"mi_cmd": not_loaded})[:2] == (404, "unknown MI command")


def test_help_names_the_exporting_module() -> None:
    world = world_of()
    assert mi(world, "help", {"mi_cmd": "dlg_list"}) == {
        "Help": "not available for this command",
        "Exported by": "dialog",
    }
    assert mi(world, "help").startswith("Usage: help mi_cmd")


def test_uptime_counts_from_the_start_with_the_clock() -> None:
    world = world_of()
    advance(world, 73)
    assert mi(world, "uptime") == {
        "Now": "Thu Nov 26 10:43:57 2026",
        "Up since": "Thu Nov 26 10:38:57 2026",
        "Up time": "300 [sec]",
    }


def test_version_answers_the_server_string_and_the_revision_on_request() -> None:
    world = world_of()
    assert mi(world, "version") == {"Server": "OpenSIPS (3.6.8 (x86_64/linux))"}
    assert len(mi(world, "version", {"revision": "x"})) == 2


def test_log_level_reads_and_sets_global_and_per_process_levels() -> None:
    world = world_of()
    assert {p["Log level"] for p in mi(world, "log_level")["Processes"]} == {3}
    assert mi(world, "log_level", {"level": 4}) == {"New global log level": 4}
    assert mi(world, "log_level", {"level": 1, "pid": 1941}) == {"Log level": 1}
    levels = {p["PID"]: p["Log level"] for p in mi(world, "log_level")["Processes"]}
    assert levels[1941] == 1
    assert levels[1938] == 4


def test_log_level_of_an_unknown_pid_is_bad_params() -> None:
    code, _message, data = mi_error(world_of(), "log_level", {"level": 1, "pid": 99999})
    assert (code, data) == (INVALID_PARAMS, "Bad PID")


def test_log_level_is_read_without_level_and_admin_with_it() -> None:
    assert dispatch.resolve("log_level", None).level == "read"
    assert dispatch.resolve("log_level", {"level": 1}).level == "admin"
    assert dispatch.resolve("log_level", {"level": 1, "pid": 2}).level == "admin"


def test_get_statistics_accepts_all_groups_and_single_names() -> None:
    world = world_of()
    assert mi(world, "get_statistics", {"statistics": ["processed_dialogs", "RCV_requests"]}) == {
        "dialog:processed_dialogs": 3,
        "core:rcv_requests": 9,
    }
    assert list(mi(world, "get_statistics", {"statistics": ["Dialog:"]})) == [
        n for n in mi(world, "get_statistics", {"statistics": ["all"]}) if n.startswith("dialog:")
    ]
    everything = mi(world, "get_statistics", {"statistics": ["all"]})
    assert list(everything)[:2] == ["shmem:total_size", "shmem:max_used_size"]


def test_get_statistics_of_unknown_names_is_an_empty_object() -> None:
    assert mi(world_of(), "get_statistics", {"statistics": ["nope", "nogroup:"]}) == {}


def test_get_statistics_group_colon_name_matches_nothing_as_on_a_real_3_6_8() -> None:
    # Measured on a live 3.6.8: get_stat() looks a statistic up by its bare name only.
    world = world_of()
    items = ["dialog:processed_dialogs", "core:rcv_requests", "ALL"]
    assert mi(world, "get_statistics", {"statistics": items}) == {}
    assert mi(world, "list_statistics", {"statistics": ["dialog:active_dialogs"]}) == {}


def test_get_statistics_refuses_non_string_items() -> None:
    code, _message, data = mi_error(world_of(), "get_statistics", {"statistics": [{"a": 1}]})
    assert (code, data) == (INVALID_PARAMS, "Bad type for array item in parameter 'statistics'")


def test_list_statistics_gives_types_and_bare_names_for_single_statistics() -> None:
    world = world_of()
    assert mi(
        world, "list_statistics", {"statistics": ["active_dialogs", "processed_dialogs"]}
    ) == {
        "active_dialogs": "non-incremental",
        "processed_dialogs": "incremental",
    }
    assert mi(world, "list_statistics")["dialog:active_dialogs"] == "non-incremental"


def test_reset_statistics_zeroes_counters_but_not_gauges() -> None:
    world = world_of()
    params = {"statistics": ["processed_dialogs", "active_dialogs"]}
    assert mi(world, "reset_statistics", params) == "OK"
    assert mi(world, "get_statistics", {"statistics": ["dialog:"]})["dialog:processed_dialogs"] == 0
    assert mi(world, "get_statistics", {"statistics": ["active_dialogs"]}) == {
        "dialog:active_dialogs": 3
    }


def test_reset_statistics_of_unknown_names_is_404() -> None:
    assert mi_error(world_of(), "reset_statistics", {"statistics": ["nope"]})[:2] == (
        404,
        "Statistics Not Found",
    )


def test_reset_statistics_with_group_colon_name_is_404_and_resets_nothing() -> None:
    world = world_of()
    for item in ("dialog:processed_dialogs", "dialog:"):
        assert mi_error(world, "reset_statistics", {"statistics": [item]})[:2] == (
            404,
            "Statistics Not Found",
        )
    assert mi(world, "get_statistics", {"statistics": ["processed_dialogs"]}) == {
        "dialog:processed_dialogs": 3
    }


def test_reset_all_statistics_zeroes_every_counter() -> None:
    world = world_of()
    mi(world, "reset_all_statistics")
    core = mi(world, "get_statistics", {"statistics": ["core:"]})
    assert core["core:rcv_requests"] == 0
    assert core["core:timestamp"] == 227


def test_statistics_move_with_calls_and_registrations() -> None:
    world = world_of("lively")
    before = mi(world, "get_statistics", {"statistics": ["processed_dialogs", "accepted_regs"]})
    advance(world, 600)
    after = mi(world, "get_statistics", {"statistics": ["processed_dialogs", "accepted_regs"]})
    assert after["dialog:processed_dialogs"] > before["dialog:processed_dialogs"]
    assert after["registrar:accepted_regs"] > before["registrar:accepted_regs"]
