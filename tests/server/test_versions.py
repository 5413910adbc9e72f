"""The server learns the OpenSIPS version of its MI endpoint, picks that version's catalog and
sends each command under the name that version answers to; a command the version lacks is
refused with nothing sent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.catalog import load_catalog
from opensips_mcp.gate import Role
from opensips_mcp.versions import VersionTracker, names_look_like, parse_version

from .conftest import ServerFactory
from .helpers import Answer, FakeMI, audit_records, call, error_code, error_text


def impersonate(fake_mi: FakeMI, version: str) -> None:
    """Make FakeMI answer ``version`` and offer exactly that version's own names."""
    view = load_catalog().for_version(version)
    own = {view.send_name(e) for e in view.entries()}
    fake_mi.offered = own | {"version", "which"}  # bare: unique local names on 4.x
    fake_mi.answers["version"] = Answer({"Server": f"OpenSIPS ({version} (x86_64/linux))"})
    fake_mi.answers["which"] = Answer(sorted(own))


def learning(make_server: ServerFactory, role: Role) -> Any:
    return make_server(role, opensips_version=None)


@pytest.mark.parametrize(
    ("command", "sent"),
    [
        ("dialog:list", "dialog:list"),
        ("dlg_list", "dialog:list"),
        ("list_ctx", "dialog:list_ctx"),
        ("pike_list", "pike:list"),
        ("domain_dump", "domain:dump"),
        ("trace", "tracer:trace"),
        ("uptime", "core:uptime"),
    ],
)
async def test_a_viewer_reads_on_4x_under_any_name_sent_as_4x_names(
    make_server: ServerFactory, fake_mi: FakeMI, command: str, sent: str
) -> None:
    impersonate(fake_mi, "4.0.1")
    result = await call(learning(make_server, Role.VIEWER), "mi_execute", {"command": command})
    assert not result.is_error, error_text(result)
    assert result.structured_content is not None
    assert result.structured_content["sent_as"] == sent
    assert result.structured_content["level"] == "read"
    assert fake_mi.methods() == ["version", sent]


async def test_reload_routes_is_sent_in_full_on_4x_and_bare_on_3x(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    for version, sent in (("4.0.1", "core:reload_routes"), ("3.6.8", "reload_routes")):
        fake_mi.requests.clear()
        impersonate(fake_mi, version)
        result = await call(
            learning(make_server, Role.ADMIN), "mi_execute", {"command": "reload_routes"}
        )
        assert not result.is_error, error_text(result)
        assert fake_mi.methods() == ["version", sent]


async def test_a_command_the_version_lacks_is_refused_and_not_sent(
    make_server: ServerFactory, fake_mi: FakeMI, audit_path: Path
) -> None:
    impersonate(fake_mi, "3.4.18")
    result = await call(
        learning(make_server, Role.ADMIN),
        "mi_execute",
        {"command": "dlg_set_profile", "params": {"dlg_id": "1", "profile": "p"}},
    )
    assert error_code(result) == "not_in_version"
    assert "OpenSIPS 3.4.18 has no dlg_set_profile; it exists from 3.6" in error_text(result)
    assert fake_mi.methods() == ["version"]
    (record,) = audit_records(audit_path)
    assert record["outcome"] == "error"
    assert record["calls"][-1]["decision"] == "deny"


async def test_a_denied_call_sends_nothing_not_even_the_version_question(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    impersonate(fake_mi, "4.0.1")
    result = await call(
        learning(make_server, Role.VIEWER),
        "mi_execute",
        {"command": "dialog:end_dlg", "params": {"dialog_id": "1"}},
    )
    assert error_code(result) == "permission_denied"
    assert fake_mi.count() == 0


async def test_an_ambiguous_bare_name_is_refused_with_the_full_names(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    impersonate(fake_mi, "4.0.1")
    result = await call(learning(make_server, Role.ADMIN), "mi_execute", {"command": "dump"})
    assert error_code(result) == "ambiguous_command"
    assert "usrloc:dump" in error_text(result)
    assert fake_mi.count("dump") == 0


async def test_the_version_is_asked_once_per_session(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    impersonate(fake_mi, "4.0.1")
    async with Client(learning(make_server, Role.VIEWER)) as client:  # type: ignore[arg-type]
        for _ in range(3):
            result = await client.call_tool("mi_execute", {"command": "uptime"})
            assert not result.is_error
    assert fake_mi.methods() == ["version", "core:uptime", "core:uptime", "core:uptime"]


@pytest.mark.parametrize("version", ["3.4.18", "3.6.8", "4.0.1"])
async def test_list_commands_lists_each_command_once_under_this_versions_names(
    make_server: ServerFactory, fake_mi: FakeMI, version: str
) -> None:
    impersonate(fake_mi, version)
    result = await call(learning(make_server, Role.ADMIN), "mi_list_commands")
    content = result.structured_content
    assert content is not None
    view = load_catalog().for_version(version)
    names = [c["name"] for c in content["commands"]]
    assert sorted(names) == sorted(view.send_name(e) for e in view.entries())
    assert content["opensips_version"] == version
    assert content["count"] == len(view)
    assert [c["name"] for c in content["commands"] if not c["available"]] == []
    if version == "4.0.1":
        assert {"dialog:list", "pike:list", "tracer:trace"} <= set(names)
        assert not {"pike_list", "dlg_list", "trace"} & set(names)
    assert view.accepted_names(view.get("dlg_list")) == (  # type: ignore[arg-type]
        ["dialog:list", "dlg_list"] if version == "4.0.1" else ["dlg_list"]
    )


async def test_a_server_whose_version_cannot_be_learnt_is_taken_for_the_default(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    fake_mi.answers["version"] = Answer(error=(-32601, "Method not found"))
    result = await call(learning(make_server, Role.ADMIN), "mi_list_commands")
    content = result.structured_content
    assert content is not None
    assert content["opensips_version"] == ""  # not learnt
    assert content["count"] == len(load_catalog().for_version("3.6.8"))


def test_parse_version_reads_the_server_text() -> None:
    assert parse_version({"Server": "OpenSIPS (3.4.18 (x86_64/linux))"}) == (
        "3.4.18",
        "OpenSIPS (3.4.18 (x86_64/linux))",
    )
    assert parse_version({"Server": "OpenSIPS (4.0.1-rc2 (arm64/linux))"})[0] == "4.0.1"
    assert parse_version({"Nope": 1}) == (None, None)


def test_which_names_of_the_other_generation_make_the_version_be_asked_again() -> None:
    assert names_look_like("4.0.1", ["core:uptime", "dialog:list"])
    assert not names_look_like("3.6.8", ["core:uptime", "dialog:list"])
    assert not names_look_like("4.0.1", ["uptime"])

    async def scenario() -> list[str]:
        tracker = VersionTracker(load_catalog(), ttl=3600)
        answers = iter(["3.6.8", "4.0.1", "4.0.1"])
        learnt: list[str] = []

        async def fetch() -> tuple[Any, str | None, bool]:
            return {"Server": f"OpenSIPS ({next(answers)} (x86_64/linux))"}, None, True

        learnt.append((await tracker.get(fetch)).catalog.version or "")
        learnt.append((await tracker.get(fetch)).catalog.version or "")  # cached
        tracker.check_names(["core:uptime"])  # an upgraded server: 4.x names
        learnt.append((await tracker.get(fetch)).catalog.version or "")
        tracker.invalidate()  # a reconnect
        learnt.append((await tracker.get(fetch)).catalog.version or "")
        return learnt

    assert asyncio.run(scenario()) == ["3.6.8", "3.6.8", "4.0.1", "4.0.1"]


def test_an_unreachable_server_is_asked_again_and_a_pinned_version_never() -> None:
    async def scenario() -> tuple[int, int]:
        calls = 0

        async def down() -> tuple[Any, str | None, bool]:
            nonlocal calls
            calls += 1
            return None, "unreachable", False

        tracker = VersionTracker(load_catalog(), ttl=3600)
        first = await tracker.get(down)
        await tracker.get(down)
        assert first.assumed and first.catalog.version == "3.6.8"
        pinned = VersionTracker(load_catalog(), ttl=3600, pinned="3.4.18")
        before = calls
        assert (await pinned.get(down)).catalog.version == "3.4.18"
        return calls, before

    assert asyncio.run(scenario()) == (2, 2)
