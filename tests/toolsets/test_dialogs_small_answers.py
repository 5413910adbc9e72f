"""dialogs_list pages through a transport that carries only small answers.

A dialog takes ~1 KB of ``dlg_list``; one mi_datagram datagram carries 65,457 bytes, so a
page's fetch of ~94 dialogs (500 under a filter) is answered ``500 Internal error`` and
lost. The fetch is then asked again for a quarter as many, and the rest of the walk never
asks for more than what came back.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from opensips_mcp.gate import Role
from opensips_sim.runner import RunningSimulator, running_simulator, serving_stream
from opensips_sim.state.dialog import DialogState

from .conftest import CAPTURE_EPOCH
from .helpers import content, last_seq, server_for

CALLS = 300


@pytest.fixture
async def busy() -> AsyncIterator[RunningSimulator]:
    """The quiet scenario with :data:`CALLS` more calls (clock frozen)."""
    text = resources.files("opensips_sim").joinpath("scenarios/quiet.json").read_text()
    scenario = json.loads(text)
    scenario["dialog"]["generate"] = {"count": CALLS, "users": 50}
    scenario["dialog"]["default_timeout"] = 43_200  # none ends during the test
    async with running_simulator(scenario, seed=1, frozen_at=CAPTURE_EPOCH) as running:
        yield running


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dlg-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def walk(client: Client, args: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(500):  # bounded: a walk that never ends fails the test
        page = content(
            await client.call_tool(
                "dialogs_list", {**args, **({"cursor": cursor} if cursor else {})}
            )
        )
        ids += [d["id"] for d in page["dialogs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("args", [{"limit": 500}, {"limit": 500, "state": "confirmed"}])
async def test_over_mi_datagram_every_dialog_comes_once(
    args: dict[str, Any], busy: RunningSimulator, tmp_path: Path, short_dir: Path
) -> None:
    before = last_seq(busy)
    async with serving_stream(busy, "udp", str(short_dir)) as url:
        server = server_for(busy, Role.VIEWER, tmp_path, mi_url=url)
        async with Client(server) as client:
            ids = await walk(client, args)

    dialogs = list(busy.world.get(DialogState).walk())
    assert len(dialogs) > CALLS
    assert len(ids) == len(set(ids))
    assert set(ids) == {d.did for d in dialogs if "state" not in args or d.state == 4}
    counters = [e["params"]["counter"] for e in busy.journal(before) if e["method"] == "dlg_list"]
    first_fit = next(i for i, n in enumerate(counters) if n * 1000 < 65_457)
    assert first_fit <= 2  # asked again for a quarter as many, until it fits
    assert all(n * 1000 < 65_457 for n in counters[first_fit:])  # never too many again
