"""A version pin per instance (``[instances.NAME] opensips_version``): it overrides the
global ``opensips_version`` for that instance only; an instance without one keeps the
global pin, or learns its version when there is none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.instances import InstanceConfig
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings, SettingsError, load_settings
from opensips_sim.simulator import Settings as SimSettings
from opensips_sim.simulator import Simulator
from opensips_sim.wire import WireServer

from .conftest import FAST_MI


def _config(tmp_path: Path, body: str) -> dict[str, Any]:
    path = tmp_path / "fleet.toml"
    path.write_text(body)
    return {"config": str(path)}


def test_an_instance_pin_is_read_from_its_table(tmp_path: Path) -> None:
    settings = load_settings(
        _config(
            tmp_path,
            'opensips_version = "3.6.8"\n'
            "[instances.old]\n"
            'mi_url = "http://127.0.0.1:9001/mi"\n'
            'opensips_version = "3.4.18"\n'
            "[instances.new]\n"
            'mi_url = "http://127.0.0.1:9002/mi"\n'
            'opensips_version = "4.0.1"\n'
            "[instances.learnt]\n"
            'mi_url = "http://127.0.0.1:9003/mi"\n'
            'opensips_version = "auto"\n'
            "[instances.global]\n"
            'mi_url = "http://127.0.0.1:9004/mi"\n',
        ),
        env={},
    )
    pins = {i.name: i.opensips_version for i in settings.fleet}
    assert pins == {"old": "3.4.18", "new": "4.0.1", "learnt": None, "global": None}
    effective = {i.name: i.version_pin(settings.opensips_version) for i in settings.fleet}
    assert effective == {"old": "3.4.18", "new": "4.0.1", "learnt": "3.6.8", "global": "3.6.8"}
    assert settings.fleet[1].describe()["opensips_version"] == "4.0.1"


@pytest.mark.parametrize("bad", ['"four"', '"4"', "4.0", "true", '"4.0.x"'])
def test_a_bad_instance_pin_names_the_instances_setting(tmp_path: Path, bad: str) -> None:
    body = f'[instances.a]\nmi_url = "http://127.0.0.1:9001/mi"\nopensips_version = {bad}\n'
    with pytest.raises(SettingsError) as caught:
        load_settings(_config(tmp_path, body), env={})
    assert caught.value.name == "instances"


@pytest.fixture
async def two_versions() -> AsyncIterator[dict[str, tuple[Simulator, str]]]:
    """Simulators impersonating 3.4.18 (``old``) and 4.0.1 (``new``)."""
    started: dict[str, tuple[Simulator, str]] = {}
    wires: list[WireServer] = []
    try:
        for name, version in (("old", "3.4.18"), ("new", "4.0.1")):
            sim = Simulator("lively", seed=7, settings=SimSettings(opensips_version=version))
            wire = WireServer(sim)
            wires.append(wire)
            port = await wire.start("127.0.0.1", 0)
            started[name] = (sim, f"http://127.0.0.1:{port}/mi")
        yield started
    finally:
        for wire in wires:
            await wire.close()


def _sent(sim: Simulator) -> list[str]:
    return [str(e["method"]) for e in sim.journal.entries() if e.get("method")]


async def test_each_instance_uses_its_own_pin_and_is_never_asked(
    two_versions: dict[str, tuple[Simulator, str]], tmp_path: Path
) -> None:
    """The global pin says 3.6.8; ``new`` is pinned 4.0.1 and gets ``dialog:list`` for
    ``dlg_list``; ``old`` is pinned 3.4.18 and refuses ``dlg_set_profile`` unsent (3.4
    lacks it). Neither is asked its version."""
    (old, old_url), (new, new_url) = two_versions["old"], two_versions["new"]
    settings = Settings(
        **{**FAST_MI, "opensips_version": "3.6.8"},
        role=Role.ADMIN,
        confirm=ConfirmPolicy.NONE,
        audit_log=tmp_path / "audit.jsonl",
        instances=(
            InstanceConfig("old", old_url, opensips_version="3.4.18"),
            InstanceConfig("new", new_url, opensips_version="4.0.1"),
        ),
    )
    async with Client(build_server(settings)) as client:
        listed = await client.call_tool("mi_execute", {"command": "dlg_list", "instance": "new"})
        lacking = await client.call_tool(
            "mi_execute",
            {
                "command": "dlg_set_profile",
                "params": {"dlg_id": "1", "profile": "inbound"},
                "instance": "old",
            },
        )
        read_old = await client.call_tool("mi_execute", {"command": "dlg_list", "instance": "old"})
    assert not listed.is_error, listed.content
    assert listed.structured_content is not None
    assert listed.structured_content["sent_as"] == "dialog:list"
    assert _sent(new) == ["dialog:list"]
    assert lacking.is_error
    assert not read_old.is_error, read_old.content
    assert _sent(old) == ["dlg_list"]
