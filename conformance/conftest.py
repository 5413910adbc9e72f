"""Conformance suite configuration: hypothesis profiles and the shared harness.

``HYPOTHESIS_PROFILE`` selects the profile (``ci`` by default, ``deep`` for ten times the
examples and steps; see ``profiles.py``). The harness (target, MCP sessions per role,
background event loop) is opened once per run and closed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal

from conformance import profiles
from conformance.harness import Capabilities, Harness, Target, open_target
from conformance.strategies import Facts, read_facts

profiles.register()

#: Per-test time limit in the deep profile (the ci limit comes from pyproject).
DEEP_TIMEOUT = 1800


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers that say what a property needs from the target."""
    config.addinivalue_line(
        "markers", "needs_control(why): skip unless the target has the simulator control API"
    )
    config.addinivalue_line(
        "markers", "needs_writes(why): skip unless the suite may change the target's state"
    )


def pytest_report_header() -> list[str]:
    """Name the hypothesis profile and the target in the pytest header."""
    caps = Capabilities.from_env()
    return [
        f"conformance: hypothesis profile {profiles.profile_name()}; target {caps.name} "
        f"(control API: {caps.control}, writes: {caps.writes})"
    ]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip, by name and with the reason, properties the target cannot serve."""
    caps = Capabilities.from_env()
    for needs in ("control", "writes"):
        for mark in item.iter_markers(f"needs_{needs}"):
            reason = caps.skip_reason(needs, str(mark.args[0]) if mark.args else item.name)
            if reason is not None:
                pytest.skip(f"{item.name}: {reason}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give conformance properties the time the deep profile needs."""
    if profiles.profile_name() != "deep":
        return
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.timeout(DEEP_TIMEOUT), append=False)


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """The target (a fresh simulator unless ``OPENSIPS_MI_URL`` is set) and MCP sessions."""
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal(backend="asyncio"))
        target = open_target(portal, stack)
        yield Harness(portal, target, tmp_path_factory.mktemp("conformance"), stack)


@pytest.fixture(scope="session")
def target(harness: Harness) -> Target:
    """The MI endpoint under test."""
    return harness.target


@pytest.fixture(scope="session")
def facts(harness: Harness) -> Facts:
    """Identifiers of the target (dialogs, AORs, gateways, ...), read as a viewer after a
    reset, so that every example that resets sees them again."""
    if harness.target.control is not None:
        harness.target.control.reset()
    return read_facts(harness.session("viewer"))
