"""mi_http over TLS on a real OpenSIPS: httpd with ``tls_cert_file`` signed by a private CA.

The lab's own httpd serves plain HTTP, so this starts a second, small OpenSIPS from the
lab's build (found through ``LAB_RUN_DIR``'s ``opensips.cfg``) with only httpd and mi_http,
on free loopback ports, one per test, and stops it by its PID. Measured on 3.6.8: with the
CA given the tools answer; without it the certificate is refused before anything is sent; an
``http://`` URL at the TLS port is reset by httpd.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.server import build_server
from opensips_mcp.settings import Settings
from tests.lab.sipp_calls import until
from tests.toolsets.helpers import call, error_code

RUN_DIR = os.environ.get("LAB_RUN_DIR", "")

CONFIG = """
log_level=3
stderror_enabled=yes
syslog_enabled=no
udp_workers=1
socket=udp:127.0.0.1:{sip_port}
mpath="{mpath}"
loadmodule "proto_udp.so"
loadmodule "httpd.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", {http_port})
modparam("httpd", "tls_cert_file", "{cert}")
modparam("httpd", "tls_key_file", "{key}")
loadmodule "mi_http.so"
loadmodule "sl.so"
route {{ sl_send_reply(404, "not here"); exit; }}
"""


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serves_tls(port: int, context: ssl.SSLContext) -> bool:
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_opensips(authority: trustme.CA, tmp_path: Path) -> AsyncIterator[str]:
    """The https:// MI URL of a small OpenSIPS serving mi_http over TLS."""
    cfg = Path(RUN_DIR) / "opensips.cfg"
    if not RUN_DIR or not cfg.is_file():
        pytest.skip("needs LAB_RUN_DIR (lab.env) to find the lab's OpenSIPS build")
    found = re.search(r'^mpath="([^"]+)"', cfg.read_text(), re.MULTILINE)
    assert found, f"no mpath in {cfg}"
    mpath = found.group(1)
    binary = Path(mpath).parents[2] / "sbin" / "opensips"
    assert binary.is_file(), binary
    run = tmp_path / "https-lab"
    run.mkdir()
    leaf = authority.issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(run / "cert.pem"))
    leaf.private_key_pem.write_to_path(str(run / "key.pem"))
    http_port = _free_port(socket.SOCK_STREAM)
    text = CONFIG.format(
        sip_port=_free_port(socket.SOCK_DGRAM),
        mpath=mpath,
        http_port=http_port,
        cert=run / "cert.pem",
        key=run / "key.pem",
    )
    (run / "opensips.cfg").write_text(text)
    with (run / "opensips.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            *("-F", "-f", str(run / "opensips.cfg"), "-m", "64", "-M", "8"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        client = ssl.create_default_context()
        authority.configure_trust(client)
        # httpd logs nothing when it listens: its port is asked until it does TLS
        up = await until(lambda: proc.returncode is None and _serves_tls(http_port, client), 20)
        assert up, (run / "opensips.log").read_text()[-2000:]
        yield f"https://127.0.0.1:{http_port}/mi"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 15)


def _settings(url: str, tmp_path: Path, ca_file: str | None) -> Settings:
    return Settings(
        mi_url=url,
        role=Role.ADMIN,
        audit_log=tmp_path / "audit.jsonl",
        confirm=ConfirmPolicy.NONE,
        mi_ca_file=ca_file,
        mi_read_timeout=10.0,
    )


async def test_the_tools_answer_over_tls_with_the_ca_given(
    tls_opensips: str, authority: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server = build_server(_settings(tls_opensips, tmp_path, str(ca_file)))

    status = await call(server, "opensips_status")
    uptime = await call(server, "mi_execute", {"command": "uptime"})

    assert error_code(status) is None
    assert error_code(uptime) is None
    assert uptime.structured_content is not None
    assert "Up time" in uptime.structured_content["result"]


async def test_without_the_ca_the_certificate_is_refused_and_the_server_answers_on(
    tls_opensips: str, authority: trustme.CA, tmp_path: Path
) -> None:
    untrusting = build_server(_settings(tls_opensips, tmp_path, None))
    plain = build_server(_settings(tls_opensips.replace("https", "http", 1), tmp_path, None))

    refused = await call(untrusting, "mi_execute", {"command": "uptime"})
    reset = await asyncio.wait_for(call(plain, "mi_execute", {"command": "uptime"}), 30)

    assert error_code(refused) == "unreachable"
    assert error_code(reset) == "unreachable"
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    trusting = build_server(_settings(tls_opensips, tmp_path, str(ca_file)))
    assert error_code(await call(trusting, "mi_execute", {"command": "uptime"})) is None
