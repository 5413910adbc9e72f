"""A request larger than OpenSIPS takes is ``request_too_large``, says nothing ran, and
sends nothing when the limit is known beforehand:

* mi_http: a body over httpd's ``receive_buf_size`` (1024 unless raised, OpenSIPS 3.5+) is
  answered 400 unread; a request over 16,384 bytes is never answered by any version, so it
  is not sent (measured on real 3.4.18, 3.6.8, 4.0.1:
  ``tests/simulator/test_request_size_per_version.py``);
* mi_fifo: more than 4096 bytes per request is not sent (it used to surface as
  ``internal_error``).

And text OpenSIPS's JSON parser cannot read (``\\u0000``, a lone surrogate) is
``invalid_params``, unsent, whatever the transport.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from opensips_mcp.gate import Role
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings
from opensips_sim.simulator import Settings as SimSettings
from opensips_sim.simulator import Simulator
from opensips_sim.streams import FIFOServer

from .conftest import FAST_MI, served
from .helpers import audit_records, call, error_code


def settings(url: str, audit: Path) -> Settings:
    return Settings(mi_url=url, role=Role.ADMIN, audit_log=audit, **FAST_MI)


def set_state(address_size: int) -> dict[str, Any]:
    params = {"state": "i", "group": 1, "address": "sip:" + "x" * address_size}
    return {"command": "ds_set_state", "params": params}


def commands_run(simulator: Simulator) -> list[str]:
    return [e["method"] for e in simulator.journal.entries() if e["method"] is not None]


@pytest.fixture
async def sim_url() -> AsyncIterator[tuple[Simulator, str]]:
    simulator = Simulator("quiet", seed=7)
    async with served(simulator) as url:
        yield simulator, url


@pytest.mark.parametrize(
    ("address_size", "attempts"),
    [(1100, 1), (20_000, 0)],
    ids=["over-receive_buf_size", "over-the-read-buffer"],
)
async def test_an_oversize_mi_http_write_is_request_too_large_and_nothing_ran(
    address_size: int,
    attempts: int,
    sim_url: tuple[Simulator, str],
    audit_path: Path,
) -> None:
    simulator, url = sim_url
    server = build_server(settings(url, audit_path))

    result = await call(server, "mi_execute", set_state(address_size))

    assert error_code(result) == "request_too_large"
    assert commands_run(simulator) == []
    record = audit_records(audit_path)[-1]
    assert (record["outcome"], record["error"], record["mi_attempts"]) == (
        "error",
        "request_too_large",
        attempts,
    )
    small = await call(server, "mi_execute", set_state(40))
    assert error_code(small) == "opensips_error"  # the command itself reaches OpenSIPS
    assert commands_run(simulator) == ["ds_set_state"]


async def test_a_raised_receive_buf_size_takes_the_same_request(
    audit_path: Path,
) -> None:
    simulator = Simulator("quiet", seed=7, settings=SimSettings(receive_buf_size=65536))
    async with served(simulator) as url:
        server = build_server(settings(url, audit_path))
        result = await call(server, "mi_execute", set_state(1100))

    assert error_code(result) == "opensips_error"  # ran: no such destination
    assert commands_run(simulator) == ["ds_set_state"]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mcp-f-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_an_oversize_mi_fifo_request_is_request_too_large_unsent(
    short_dir: Path, audit_path: Path
) -> None:
    simulator = Simulator("quiet", seed=7)
    fifo = FIFOServer(simulator, short_dir / "opensips_fifo", reply_dir=short_dir)
    await fifo.start()
    try:
        url = f"fifo://{short_dir / 'opensips_fifo'}?reply_dir={short_dir}"
        server = build_server(settings(url, audit_path))
        result = await call(server, "mi_execute", set_state(5000))
        uptime = await call(server, "mi_execute", {"command": "uptime"})
    finally:
        await fifo.close()

    assert error_code(result) == "request_too_large"
    assert error_code(uptime) is None
    assert commands_run(simulator) == ["uptime"]
    record = audit_records(audit_path)[0]
    assert (record["error"], record["mi_attempts"]) == ("request_too_large", 0)


@pytest.mark.parametrize(
    "value", ["a\x00b", "\ud800", {"k\x00": 1}], ids=["nul", "surrogate", "name"]
)
async def test_text_opensips_cannot_parse_is_invalid_params_and_unsent(
    value: Any, sim_url: tuple[Simulator, str], audit_path: Path
) -> None:
    """OpenSIPS's JSON parser refuses ``\\u0000`` and lone surrogates (a parse error over
    mi_http, no reply at all over mi_fifo: a write would be an unknown outcome there)."""
    simulator, url = sim_url
    server = build_server(settings(url, audit_path))
    params = {"state": "i", "group": 1, "address": value}

    result = await call(server, "mi_execute", {"command": "ds_set_state", "params": params})

    assert error_code(result) == "invalid_params"
    assert commands_run(simulator) == []
    record = audit_records(audit_path)[-1]
    assert (record["outcome"], record["error"], record["mi_attempts"]) == (
        "error",
        "invalid_params",
        0,
    )
    assert [(c["decision"], c["outcome"]) for c in record["calls"]] == [("deny", "error")]


async def test_an_answer_too_large_for_httpd_is_a_bad_response_naming_the_read(
    audit_path: Path,
) -> None:
    """mi_http answers 500 without a reply when the answer is larger than httpd's buf_size
    (a real 3.6.8 did so for a 9.6 MB ul_dump): a read is reported, never re-sent; and
    registrations_list walks such a table AOR by AOR instead
    (``tests/toolsets/test_registrations_walk.py``)."""
    simulator = Simulator("quiet", seed=7, settings=SimSettings(buf_size=600))
    async with served(simulator) as url:
        server = build_server(settings(url, audit_path))
        dump = await call(server, "mi_execute", {"command": "ul_dump"})
        assert commands_run(simulator) == ["ul_dump"]  # not re-sent
        listing = await call(server, "registrations_list", {})

    assert error_code(dump) == "bad_response"
    assert error_code(listing) is None
    assert listing.structured_content is not None
    assert listing.structured_content["total"] is None  # walked
    assert commands_run(simulator)[1:3] == ["ul_dump", "ul_dump"]  # full, then brief


async def test_a_url_path_that_is_not_mi_https_root_is_a_bad_response_and_nothing_ran(
    sim_url: tuple[Simulator, str], audit_path: Path
) -> None:
    """httpd answers 400 "Unable to parse URL!" for a path other than mi_http's root
    (measured on a real 3.6.8 with root "json" asked at /mi); a write is not unknown."""
    simulator, url = sim_url
    server = build_server(settings(url.rsplit("/", 1)[0] + "/json", audit_path))

    result = await call(server, "mi_execute", set_state(10))

    assert error_code(result) == "bad_response"
    assert commands_run(simulator) == []
    assert [e["http_status"] for e in simulator.journal.entries()] == [400]
