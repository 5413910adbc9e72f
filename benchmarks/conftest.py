"""Fixtures of the benchmarks: the event loop thread, the simulator process, sizes, and the
MI server the client benchmarks measure (`mi_server`: the OpenSIPS named by
``OPENSIPS_MI_URL``, else the quiet simulator; see `benchmarks.servers`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import servers
from benchmarks.harness import LoopThread, SimProcess, Sizes
from benchmarks.servers import LabServer, MIServer


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


_USED: list[MIServer] = []  # the server `mi_server_process` chose, for the JSON's header


@pytest.fixture(scope="session")
def mi_server_process(request: pytest.FixtureRequest) -> MIServer:
    """The MI server of the run: the OpenSIPS at ``OPENSIPS_MI_URL`` when it is set (used as
    it is, never started or stopped here), else the quiet simulator process."""
    url = servers.lab_url()
    server: MIServer = LabServer(url) if url else request.getfixturevalue("quiet_process")
    _USED.append(server)
    return server


@pytest.fixture
def mi_server(mi_server_process: MIServer) -> MIServer:
    """The MI server of the run, the simulator's journal emptied (see `mi_server_process`)."""
    mi_server_process.clear_journal()
    return mi_server_process


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list[dict[str, Any]], output_json: dict[str, Any]
) -> None:
    """Name the MI server in the JSON (``opensips_mcp_server``), for the report's header."""
    output_json["opensips_mcp_server"] = servers.describe(_USED[0] if _USED else None)
