"""The MI client frames each body with ``Content-Length``, never ``Transfer-Encoding:
chunked``: OpenSIPS 3.4's httpd closes a chunked POST without answering (measured on a real
3.4.18; ``opensips_sim.persona``), and a write closed that way is an unknown outcome."""

from __future__ import annotations

import pytest

from opensips_mcp.catalog.levels import AccessLevel
from opensips_mcp.mi import MIHTTPError, MIRequestTooLarge
from opensips_mcp.mi.http import MHD_READ_BUFFER
from opensips_sim.runner import running_simulator

from .conftest import ClientFactory, ServerFactory


@pytest.mark.parametrize("body_size", [0, 1_000, 16_000])
async def test_every_body_is_sent_with_its_content_length_and_never_chunked(
    body_size: int, make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = await make_server()
    mi = make_client(server.url)
    params = {"blob": "x" * body_size} if body_size else None

    await mi.call("uptime", params, level=AccessLevel.READ)
    await mi.call("ds_set_state", {"state": "i", "group": 1}, level=AccessLevel.WRITE)

    for request in server.requests:
        fields = [line.split(b":", 1) for line in request.head.split(b"\r\n")[1:] if line]
        names = [name.strip().lower() for name, _value in fields]
        assert b"transfer-encoding" not in names
        assert names.count(b"content-length") == 1
        length = next(v for n, v in fields if n.strip().lower() == b"content-length")
        assert int(length) == len(request.body) > 0


async def test_the_simulator_impersonating_3_4_answers_the_client(
    make_client: ClientFactory,
) -> None:
    async with running_simulator(scenario="quiet", seed=1, opensips_version="3.4.18") as sim:
        mi = make_client(f"http://127.0.0.1:{sim.port}/mi")
        for _ in range(3):  # on one kept-alive connection
            uptime = await mi.call("uptime", None, level=AccessLevel.READ)
            assert "Up time" in uptime.result
            assert uptime.attempts == 1
        version = await mi.call("version", None, level=AccessLevel.READ)
        assert "3.4.18" in version.result["Server"]


@pytest.mark.parametrize("level", [AccessLevel.READ, AccessLevel.WRITE])
async def test_a_request_larger_than_httpd_ever_answers_is_refused_unsent(
    level: AccessLevel, make_server: ServerFactory, make_client: ClientFactory
) -> None:
    """Over 16,384 bytes (head and body) no OpenSIPS version answers (3.4 closes, 3.6 and
    4.0 stay silent: ``tests/simulator/test_request_size_per_version.py``)."""
    server = await make_server()
    mi = make_client(server.url)
    limit = mi._exchange.max_request_size
    assert limit is not None and MHD_READ_BUFFER - 200 < limit < MHD_READ_BUFFER

    with pytest.raises(MIRequestTooLarge) as caught:
        await mi.call("ds_set_state", {"state": "i", "address": "x" * limit}, level=level)

    assert (caught.value.attempts, caught.value.transport) == (0, "http")
    assert caught.value.size > caught.value.limit == limit
    assert server.requests == []
    at_limit = {
        "a": "x" * (limit - len(b'{"jsonrpc":"2.0","method":"uptime","params":{"a":""},"id":99}'))
    }
    await mi.call("uptime", at_limit, level=AccessLevel.READ)  # the largest request goes
    whole = server.requests[-1]
    assert len(whole.head) + len(whole.body) <= MHD_READ_BUFFER


@pytest.mark.parametrize("level", [AccessLevel.READ, AccessLevel.WRITE])
async def test_a_body_over_receive_buf_size_is_refused_unread_not_an_unknown_outcome(
    level: AccessLevel, make_client: ClientFactory
) -> None:
    """OpenSIPS 3.5+ answer a body over httpd's receive_buf_size (1024) with a page-less
    400 and run nothing: the client says so, for writes too (never outcome unknown)."""
    async with running_simulator(scenario="quiet", seed=1, opensips_version="4.0.1") as sim:
        mi = make_client(sim.url)

        with pytest.raises(MIRequestTooLarge) as caught:
            await mi.call(
                "dispatcher:set_state",
                {"state": "i", "group": 1, "address": "x" * 1100},
                level=level,
            )

        assert (caught.value.attempts, caught.value.transport, caught.value.limit) == (
            1,
            "http",
            1024,
        )
        assert [(e["method"], e["http_status"]) for e in sim.journal()] == [(None, 400)]
        uptime = await mi.call("uptime", None, level=AccessLevel.READ)  # a fresh connection
        assert "Up time" in uptime.result


async def test_a_400_with_a_page_is_still_an_http_error(make_client: ClientFactory) -> None:
    """httpd's "Unable to parse URL!" 400 (a wrong MI path) has a page: not a size refusal."""
    async with running_simulator(scenario="quiet", seed=1) as sim:
        mi = make_client(f"http://127.0.0.1:{sim.port}/not-mi")

        with pytest.raises(MIHTTPError) as caught:
            await mi.call("uptime", {"pad": "x" * 2000}, level=AccessLevel.READ)

        assert caught.value.status == 400
