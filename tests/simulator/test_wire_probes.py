"""The differential's raw wire probes (``conformance.wire_probes``, ``conformance.
stream_probes``) tell servers apart: a simulator compared with itself shows no difference
over any transport (and is never crashed by them), 3.4's request-size behaviour compared
with 3.6's shows exactly the edges where they differ, and a FIFO answer that differs is
reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import stream_probes, wire_probes
from opensips_sim.runner import serving_stream

from .conftest import StartSimulator
from .test_streams import short_dir  # noqa: F401  (fixture)


async def test_a_persona_probed_against_itself_differs_nowhere(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(opensips_version="4.0.1")
    assert await wire_probes.compare(f"http://127.0.0.1:{sim.port}/mi", "4.0.1") == {}


async def test_3_4_and_3_6_differ_exactly_at_the_size_edges(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(opensips_version="3.4.18")

    found = await wire_probes.compare(f"http://127.0.0.1:{sim.port}/mi", "3.6.8")

    assert sorted(found) == ["body 1025", "request 16384", "request 16385"]
    assert found["request 16385"] == "real closed | sim silent"


@pytest.mark.parametrize("version", ["3.4.18", "3.6.8", "4.0.1"])
@pytest.mark.parametrize("kind", ["fifo", "udp", "unix"])
async def test_fifo_and_datagram_probes_agree_with_the_same_persona_and_crash_nothing(
    version: str,
    kind: str,
    start_simulator: StartSimulator,
    short_dir: Path,  # noqa: F811
) -> None:
    sim = await start_simulator(opensips_version=version)
    async with serving_stream(sim, kind, str(short_dir)) as url:
        fifo, _, reply_dir = url.removeprefix("fifo://").partition("?reply_dir=")
        datagram = url.split("://", 1)[1] if kind != "fifo" else None

        found = await stream_probes.compare(
            version, fifo if kind == "fifo" else None, reply_dir or "/tmp/", datagram
        )

    assert found == {}
    assert sim.sim.crashed is None  # never a request without a string method where it kills
    assert any(e["http_method"] == kind.upper() for e in sim.journal())


async def test_a_fifo_answer_that_differs_is_reported(
    start_simulator: StartSimulator,
    short_dir: Path,  # noqa: F811
) -> None:
    sim = await start_simulator()
    sim.add_fault({"command": "uptime", "action": "http_500"})
    async with serving_stream(sim, "fifo", str(short_dir)) as url:
        fifo, _, reply_dir = url.removeprefix("fifo://").partition("?reply_dir=")

        found = await stream_probes.compare("3.6.8", fifo, reply_dir, None)

    assert found["fifo ok"] == "real text failed to build response | sim result id=1"
    assert "fifo longest reply name" in found
