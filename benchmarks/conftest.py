"""Fixtures of the benchmarks: the event loop thread, the simulator process, sizes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.harness import LoopThread, SimProcess, Sizes


@pytest.fixture(scope="session")
def sizes(request: pytest.FixtureRequest) -> Sizes:
    """Full sizes, or one small round each under ``--benchmark-disable`` (the smoke run)."""
    return Sizes(quick=bool(request.config.getoption("benchmark_disable")))


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    """One event loop in its own thread for the whole run."""
    with LoopThread() as loop:
        yield loop


@pytest.fixture
def aio(loop_thread: LoopThread) -> Iterator[LoopThread]:
    """The loop thread; what a benchmark entered in it is left when the benchmark ends."""
    yield loop_thread
    loop_thread.release()


@pytest.fixture(scope="session")
def quiet_process() -> Iterator[SimProcess]:
    """``opensips-sim --scenario quiet`` in a separate process."""
    with SimProcess("quiet") as sim:
        yield sim


@pytest.fixture
def quiet_sim(quiet_process: SimProcess) -> SimProcess:
    """The quiet simulator, its journal emptied (it would grow with every request)."""
    quiet_process.clear_journal()
    return quiet_process
