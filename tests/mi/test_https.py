"""``https://`` MI URLs: OpenSIPS's httpd with ``tls_cert_file`` (checked on a real 3.6.8:
a certificate signed by a private CA, as operators make them), and ``user:password@``
for a reverse proxy in front of mi_http."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from opensips_mcp.catalog.levels import AccessLevel
from opensips_mcp.mi import MIConnectionError

from .conftest import ClientFactory, ServerFactory


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    """A private CA, as an operator makes one for httpd's tls_cert_file."""
    return trustme.CA()


@pytest.fixture(scope="module")
def httpd_tls(authority: trustme.CA) -> ssl.SSLContext:
    """The server side: a certificate for 127.0.0.1 signed by ``authority``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def ca_file(authority: trustme.CA, tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    yield str(path)


async def test_https_with_the_ca_file_of_the_certificate_answers(
    make_server: ServerFactory,
    make_client: ClientFactory,
    httpd_tls: ssl.SSLContext,
    ca_file: str,
) -> None:
    server = await make_server(tls=httpd_tls)
    mi = make_client(server.url, ca_file=ca_file)

    resp = await mi.call("ds_reload", level=AccessLevel.WRITE)

    assert server.url.startswith("https://")
    assert resp.result == {"method": "ds_reload"}  # the raw server's answer
    assert [r.method for r in server.requests] == ["ds_reload"]


async def test_a_certificate_the_client_cannot_verify_is_refused_before_anything_is_sent(
    make_server: ServerFactory, make_client: ClientFactory, httpd_tls: ssl.SSLContext
) -> None:
    server = await make_server(tls=httpd_tls)
    mi = make_client(server.url)  # the system's CAs: the private CA is not among them

    with pytest.raises(MIConnectionError) as caught:
        await mi.call("ds_reload", level=AccessLevel.WRITE)

    assert caught.value.cause == "tls_untrusted"
    assert caught.value.attempts == 0
    assert caught.value.detail  # what failed verification, for the operator
    assert server.requests == []


async def test_https_at_a_port_serving_plain_http_is_a_tls_error_and_not_sent(
    make_client: ClientFactory, ca_file: str
) -> None:
    # httpd without tls_cert_file answers a TLS ClientHello as a bad HTTP request (a real
    # 3.6.8: WRONG_VERSION_NUMBER on the client side)
    seen: list[bytes] = []

    async def plain_httpd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.read(4096))
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_httpd, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    mi = make_client(f"https://127.0.0.1:{port}/mi", ca_file=ca_file)
    try:
        with pytest.raises(MIConnectionError) as caught:
            await mi.call("ds_reload", level=AccessLevel.WRITE)
    finally:
        server.close()
        await server.wait_closed()

    assert caught.value.cause == "tls_error"
    assert caught.value.attempts == 0
    assert seen and all(b"ds_reload" not in chunk for chunk in seen)


async def test_credentials_in_the_url_go_as_basic_auth_and_never_in_the_host_header(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    server = await make_server()
    port = server.url.split(":")[2].split("/")[0]
    mi = make_client(f"http://ops%40noc:p%3Ass@127.0.0.1:{port}/mi")

    await mi.call("uptime", level=AccessLevel.READ)

    head = server.requests[0].head.decode("latin-1").lower()
    expected = base64.b64encode(b"ops@noc:p:ss").decode("ascii").lower()
    assert f"\r\nhost: 127.0.0.1:{port}\r\n" in head
    assert f"\r\nauthorization: basic {expected}\r\n" in head
    assert "p%3ass" not in head
