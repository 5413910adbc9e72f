"""An OpenSIPS whose httpd serves TLS (``tls_cert_file`` signed by a private CA, as on a
real 3.6.8): the CA comes from ``mi_ca_file`` or an instance's ``ca_file``, and a
certificate this server cannot verify is an ``unreachable`` error naming both."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from opensips_mcp.server import build_server
from opensips_mcp.settings import SettingsError, load_settings

from .helpers import FakeMI, call, error_code


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(authority: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "opensips-ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
async def tls_mi(authority: trustme.CA) -> AsyncIterator[FakeMI]:
    """A recording MI endpoint on https://127.0.0.1, certificate signed by ``authority``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    fake = FakeMI()
    app = web.Application()
    app.router.add_post("/mi", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    fake.url = f"https://127.0.0.1:{runner.addresses[0][1]}/mi"
    try:
        yield fake
    finally:
        await runner.cleanup()


async def test_the_global_ca_file_lets_the_tools_reach_a_tls_httpd(
    tls_mi: FakeMI, ca_file: str, tmp_path: Path
) -> None:
    settings = load_settings(
        {"mi_url": tls_mi.url, "mi_ca_file": ca_file, "audit_log": str(tmp_path / "a.log")},
        env={},
    )
    result = await call(build_server(settings), "mi_execute", {"command": "uptime"})
    assert error_code(result) is None
    assert tls_mi.count("uptime") == 1


async def test_an_instance_ca_file_applies_to_that_instance_only(
    tls_mi: FakeMI, ca_file: str, tmp_path: Path
) -> None:
    config = tmp_path / "fleet.toml"
    config.write_text(
        f'[instances.tls]\nmi_url = "{tls_mi.url}"\nca_file = "{ca_file}"\n'
        f'[instances.system-cas]\nmi_url = "{tls_mi.url}"\n'
    )
    settings = load_settings({"config": str(config), "audit_log": str(tmp_path / "a.log")}, {})
    server = build_server(settings)

    trusted = await call(server, "mi_execute", {"command": "uptime", "instance": "tls"})
    untrusted = await call(server, "mi_execute", {"command": "uptime", "instance": "system-cas"})

    assert error_code(trusted) is None
    assert error_code(untrusted) == "unreachable"
    assert tls_mi.count("uptime") == 1  # the untrusted instance sent nothing


@pytest.mark.parametrize("setting", ["mi_ca_file", "instances"])
def test_a_ca_file_that_cannot_be_loaded_fails_at_start(setting: str, tmp_path: Path) -> None:
    not_pem = tmp_path / "not-a-ca.pem"
    not_pem.write_text("listen=udp:127.0.0.1:5060\n")
    if setting == "mi_ca_file":
        cli = {"mi_url": "https://127.0.0.1:8888/mi", "mi_ca_file": str(not_pem)}
    else:
        config = tmp_path / "fleet.toml"
        config.write_text(
            f'[instances.a]\nmi_url = "https://127.0.0.1:8888/mi"\nca_file = "{not_pem}"\n'
        )
        cli = {"config": str(config)}
    with pytest.raises(SettingsError) as caught:
        load_settings(cli, env={})
    assert caught.value.name == setting
