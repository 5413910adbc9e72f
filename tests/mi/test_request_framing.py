"""The MI client frames each body with ``Content-Length``, never ``Transfer-Encoding:
chunked``: OpenSIPS 3.4's httpd closes a chunked POST without answering (measured on a real
3.4.18; ``opensips_sim.persona``), and a write closed that way is an unknown outcome."""

from __future__ import annotations

import pytest

from opensips_mcp.catalog.levels import AccessLevel
from opensips_sim.runner import running_simulator

from .conftest import ClientFactory, ServerFactory


@pytest.mark.parametrize("body_size", [0, 16_000, 60_000])
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
