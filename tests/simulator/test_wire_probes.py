"""The differential's raw wire probes (``conformance.wire_probes``) tell versions apart:
a simulator compared with itself shows no difference, and 3.4's request-size behaviour
compared with 3.6's shows exactly the edges where they differ."""

from __future__ import annotations

from conformance import wire_probes

from .conftest import StartSimulator


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
