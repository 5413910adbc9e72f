"""``opensips-sim`` as a process: prints where it listens, serves, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from opensips_sim.cli import banner, build_parser

from .rawhttp import exchange, post, rpc

TIMEOUT = 20.0


async def start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opensips_sim.cli",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode()
    return process, line


async def test_the_cli_prints_its_url_serves_mi_and_stops_on_sigterm() -> None:
    process, line = await start("--scenario", "quiet", "--seed", "3")
    try:
        assert line.startswith("opensips-sim listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        _head, body = await exchange(port, post(rpc("ps")))
        assert json.loads(body)["result"]["Processes"][0]["Type"] == "attendant"
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0


async def test_the_banner_shows_how_to_connect_the_mcp_server() -> None:
    process, line = await start("--banner")
    try:
        assert process.stdout is not None
        url = line.split("listening on ", 1)[1].strip()
        rest = await asyncio.wait_for(process.stdout.readuntil(b"tools/list\n"), TIMEOUT)
        assert f"opensips-mcp serve --mi-url {url} --role operator" in rest.decode()
    finally:
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0


async def test_fault_rules_load_from_a_file(tmp_path: Path) -> None:
    rules = tmp_path / "faults.json"
    rules.write_text(json.dumps({"rules": [{"command": "ps", "action": "http_503"}]}))
    process, line = await start("--faults", str(rules), "--no-quirks")
    try:
        port = int(line.rsplit(":", 1)[1].split("/")[0])
        head, _body = await exchange(port, post(rpc("ps")))
        assert head.status == 503
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0


async def test_an_unknown_scenario_exits_with_an_error() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opensips_sim.cli",
        "--port",
        "0",
        "--scenario",
        "nope",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 2
    assert b"no scenario" in err


def test_the_banner_holds_a_claude_desktop_config_and_an_inspector_command() -> None:
    text = banner("http://127.0.0.1:8888/mi", "http://127.0.0.1:8888/sim")
    config = json.loads(next(line for line in text.splitlines() if "mcpServers" in line))
    assert config["mcpServers"]["opensips"]["args"][:3] == [
        "serve",
        "--mi-url",
        "http://127.0.0.1:8888/mi",
    ]
    inspector = next(line for line in text.splitlines() if "inspector@2.12.0" in line)
    assert "npx -y @modelcontextprotocol/inspector@2.12.0 --cli " in inspector
    assert "opensips-mcp serve --mi-url http://127.0.0.1:8888/mi" in inspector


def test_the_banner_names_the_installed_mcp_server_by_its_absolute_path() -> None:
    text = banner("http://127.0.0.1:8888/mi", "http://127.0.0.1:8888/sim")
    config = json.loads(next(line for line in text.splitlines() if "mcpServers" in line))
    command = Path(config["mcpServers"]["opensips"]["command"])
    assert command.is_absolute() and command.exists()


def test_the_default_port_is_8888_on_loopback() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.scenario) == ("127.0.0.1", 8888, "quiet")


async def test_nodes_serves_a_cluster_and_the_banner_names_every_node_as_an_instance() -> None:
    process, line = await start("--nodes", "3", "--banner")
    try:
        assert process.stdout is not None
        lines = [line]
        for _ in range(2):
            lines.append((await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode())
        urls = [text.split("listening on ", 1)[1].strip() for text in lines]
        assert [text.split()[2] for text in lines] == ["1", "2", "3"]
        rest = (
            await asyncio.wait_for(process.stdout.readuntil(b"/sim/cluster\n"), TIMEOUT)
        ).decode()
        for node, url in enumerate(urls, 1):
            assert f'[instances.node{node}]\n  mi_url = "{url}"\n  cluster_node_id = {node}' in rest
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            _head, body = await exchange(port, post(rpc("clusterer_list")))
            nodes = json.loads(body)["result"]["Clusters"][0]["Nodes"]
            assert sorted(n["node_id"] for n in nodes) == sorted({1, 2, 3} - {node})
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
