"""One catalog per OpenSIPS version (3.4.18, 3.6.8, 4.0.1), equal to that version's captures:
its commands, names, aliases and recipes; one level per recipe whatever the version; any
name of a command reaches the same entry and level."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from opensips_mcp.catalog import (
    AccessLevel,
    AmbiguousCommand,
    NoMatchingRecipe,
    NotInVersion,
    UnknownCommand,
    load_catalog,
    pick_version,
)
from tests.captures import VERSIONS, version_dir

RENAMED_WITHOUT_ALIAS = {
    "bdb_reload": "db_berkeley:reload", "domain_dump": "domain:dump",
    "domain_reload": "domain:reload", "flat_rotate": "db_flatstore:rotate",
    "nh_enable_ping": "nathelper:enable_ping", "pike_list": "pike:list", "pike_rm": "pike:rm",
    "rtpengine_enable": "rtpengine:enable", "rtpengine_reload": "rtpengine:reload",
    "rtpengine_show": "rtpengine:show", "rtpproxy_enable": "rtpproxy:enable",
    "rtpproxy_reload": "rtpproxy:reload", "rtpproxy_show": "rtpproxy:show",
}  # fmt: skip


@cache
def facts(version: str) -> dict[str, dict[str, Any]]:
    path = version_dir(version) / "commands.json"
    commands: dict[str, dict[str, Any]] = json.loads(path.read_text("utf-8"))["commands"]
    return commands


@pytest.mark.parametrize("version", VERSIONS)
def test_each_version_offers_exactly_its_captured_commands(version: str) -> None:
    view = load_catalog().for_version(version)
    assert view.version == version
    sent = sorted(view.send_name(e) for e in view.entries())
    assert sent == sorted(facts(version))
    assert len(view) == len(facts(version))


@pytest.mark.parametrize("version", VERSIONS)
def test_each_version_has_its_captured_recipes_module_and_aliases(version: str) -> None:
    view = load_catalog().for_version(version)
    for entry in view.entries():
        captured = facts(version)[view.send_name(entry)]
        assert [list(r.params) for r in entry.recipes] == captured["recipes"], entry.name
        form = entry.form(version)
        assert form is not None
        assert form.module == captured["module"]
        assert list(form.aliases) == captured.get("aliases", [])
        assert form.local_name == captured.get("local_name")


def test_a_command_keeps_its_level_in_every_version() -> None:
    union = load_catalog()
    for version in VERSIONS:
        view = union.for_version(version)
        for entry in view.entries():
            whole = union.get(entry.name)
            assert whole is not None
            levels = {r.params: r.level for r in whole.recipes}
            for recipe in entry.recipes:
                assert levels[recipe.params] is recipe.level, (version, entry.name)


def test_commands_new_in_4x_have_a_level_and_a_reason() -> None:
    view = load_catalog().for_version("4.0.1")
    new = [e for e in view.entries() if e.form("3.6.8") is None]
    assert sorted(e.name for e in new) == [
        "bins:trace",
        "cachedb_redis:redis_cluster_info",
        "cachedb_redis:redis_cluster_refresh",
        "cachedb_redis:redis_ping_nodes",
        "core:profiling_proc",
        "presence_callinfo:list_lines",
        "presence_callinfo:release_line",
        "presence_callinfo:set_log_level",
        "tcp:close",
        "uac_registrant:delete",
        "uac_registrant:upsert",
    ]
    for entry in new:
        assert entry.level_reason, entry.name
    assert view.resolve("tcp:close", {"ipport": "1.2.3.4:5060"}).level is AccessLevel.DESTRUCTIVE


@pytest.mark.parametrize("version", VERSIONS)
def test_every_accepted_name_reaches_the_same_command_and_level(version: str) -> None:
    union = load_catalog()
    view = union.for_version(version)
    for entry in view.entries():
        names = {entry.name, *entry.aliases, *view.accepted_names(entry)}
        for form in entry.versions:
            names.update(form.accepted_names)
        # 4.0.1's bins:trace keeps the alias tls_trace, which is also tls:trace's (3.x
        # tls_trace): the 3.x command keeps its own name.
        names -= {n for n in union.names() if n != entry.name}
        for name in names:
            for recipe in entry.recipes:
                params = dict.fromkeys(recipe.params, "1")
                if entry.carries_command:
                    params = {**params, "cmd_name": "uptime", "cmd_params": []}
                got = view.resolve(name, params)
                assert got.entry.name == entry.name, (version, name)
                assert got.level is union.resolve(name, params).level, (version, name)


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED_WITHOUT_ALIAS.items()))
def test_the_13_renames_without_alias_are_sent_under_their_4x_name(old: str, new: str) -> None:
    c4 = load_catalog().for_version("4.0.1")
    entry = c4.get(old)
    assert entry is not None
    assert c4.send_name(entry) == new
    assert old not in c4.accepted_names(entry)
    assert c4.get(new) is entry
    c36 = load_catalog().for_version("3.6.8")
    assert c36.send_name(c36.get(new)) == old  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "full"), [("trace", "tracer:trace"), ("reload_routes", "core:reload_routes")]
)
def test_the_ambiguous_bare_names_are_sent_in_full_on_4x(name: str, full: str) -> None:
    c4 = load_catalog().for_version("4.0.1")
    entry = c4.get(name)
    assert entry is not None and entry.name == name
    assert c4.send_name(entry) == full
    assert name not in c4.accepted_names(entry)
    assert load_catalog().for_version("3.6.8").send_name(entry) == name


@pytest.mark.parametrize("name", ["list", "dump", "reload", "get", "status", "enable"])
def test_a_bare_local_name_several_commands_share_is_refused_with_the_candidates(name: str) -> None:
    with pytest.raises(AmbiguousCommand) as exc:
        load_catalog().for_version("4.0.1").resolve(name)
    assert len(exc.value.candidates) >= 2
    assert all(c.endswith(":" + name) for c in exc.value.candidates)


def test_a_unique_4x_local_name_reaches_its_command_in_every_version() -> None:
    for version in VERSIONS:
        view = load_catalog().for_version(version)
        entry = view.resolve("list_ctx").entry
        assert entry.name == "dlg_list_ctx"
        assert view.send_name(entry) == (
            "dialog:list_ctx" if version == "4.0.1" else "dlg_list_ctx"
        )
    assert "list_ctx" not in load_catalog().for_version("3.6.8").accepted_names(entry)
    with pytest.raises(UnknownCommand):
        load_catalog().for_version("3.6.8").resolve("no_such_local_name")


@pytest.mark.parametrize(
    ("version", "command", "params", "since"),
    [
        ("3.4.18", "dlg_set_profile", {"dlg_id": "1", "profile": "p"}, "from 3.6"),
        ("3.4.18", "dialog:set_profile", {"dlg_id": "1", "profile": "p"}, "from 3.6"),
        ("3.4.18", "trie_search", {"number": "1"}, "from 3.6"),
        ("3.6.8", "tcp:close", {"ipport": "1.2.3.4:5060"}, "from 4.0"),
        ("3.4.18", "reg_delete", {"aor": "a", "contact": "c", "registrar": "r"}, "from 4.0"),
        ("4.0.1", "refreshWatchers", None, "up to 3.6"),
    ],
)
def test_a_command_the_version_lacks_is_refused_saying_when_it_exists(
    version: str, command: str, params: dict[str, str] | None, since: str
) -> None:
    with pytest.raises(NotInVersion) as exc:
        load_catalog().for_version(version).resolve(command, params)
    assert exc.value.version == version
    assert f"OpenSIPS {version} has no {command}; it exists {since}" in exc.value.message


def test_a_recipe_the_version_lacks_is_refused() -> None:
    params = {"callid": "c", "method": "INFO", "body": "", "mode": 0, "headers": ""}
    assert load_catalog().for_version("3.6.8").resolve("dlg_send_sequential", params)
    with pytest.raises(NoMatchingRecipe):
        load_catalog().for_version("3.4.18").resolve("dlg_send_sequential", params)


@pytest.mark.parametrize(
    ("reported", "chosen"),
    [("3.6.8", "3.6.8"), ("3.6.2", "3.6.8"), ("3.4.1", "3.4.18"), ("4.0.0", "4.0.1"),
     ("3.5.1", "3.4.18"), ("4.1.0", "4.0.1"), ("3.2.0", "3.4.18")],
)  # fmt: skip
def test_a_server_version_picks_the_closest_catalogued_one(reported: str, chosen: str) -> None:
    assert pick_version(reported, VERSIONS) == chosen
    assert load_catalog().for_version(reported).version == chosen
