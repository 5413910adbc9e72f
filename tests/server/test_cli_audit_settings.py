"""``opensips-mcp audit tail`` finds the audit trail where ``serve`` writes it: ``--audit-log``,
``OPENSIPS_MCP_AUDIT_LOG``, the config file (``--config`` or ``OPENSIPS_MCP_CONFIG``), then the
default path, in the same order of precedence as ``serve``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opensips_mcp import cli
from opensips_mcp.settings import PARSERS

from .conftest import FAST_MI
from .helpers import FakeMI, call


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in PARSERS:
        monkeypatch.delenv(f"OPENSIPS_MCP_{name.upper()}", raising=False)
    monkeypatch.delenv("OPENSIPS_MCP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def _trail(path: Path, request_id: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"principal": "p", "role": "viewer", "outcome": "ok", "request_id": request_id}
    path.write_text(json.dumps(record) + "\n")
    return path


def _config(path: Path, **values: object) -> Path:
    path.write_text("".join(f"{k} = {json.dumps(str(v))}\n" for k, v in values.items()))
    return path


def _tail_ids(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    code = cli.main(["audit", "tail", "--json", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line)["request_id"] for line in out.splitlines()]


@pytest.fixture
def default_trail(tmp_path: Path) -> Path:
    """A record at the default path, which must not be read when another path is set."""
    return _trail(tmp_path / "state" / "opensips-mcp" / "audit.jsonl", "default")


def test_without_settings_the_default_path_is_read(
    capsys: pytest.CaptureFixture[str], default_trail: Path
) -> None:
    assert _tail_ids(capsys) == ["default"]


def test_the_config_file_given_with_config_is_honoured(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, default_trail: Path
) -> None:
    trail = _trail(tmp_path / "elsewhere" / "a.jsonl", "from-config")
    config = _config(tmp_path / "c.toml", audit_log=trail)
    assert _tail_ids(capsys, "--config", str(config)) == ["from-config"]


def test_the_config_file_named_in_the_environment_is_honoured(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    default_trail: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trail = _trail(tmp_path / "elsewhere" / "a.jsonl", "from-config")
    monkeypatch.setenv("OPENSIPS_MCP_CONFIG", str(_config(tmp_path / "c.toml", audit_log=trail)))
    assert _tail_ids(capsys) == ["from-config"]


def test_command_line_beats_environment_beats_config_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    default_trail: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(tmp_path / "c.toml", audit_log=_trail(tmp_path / "c.jsonl", "config"))
    monkeypatch.setenv("OPENSIPS_MCP_AUDIT_LOG", str(_trail(tmp_path / "e.jsonl", "env")))
    cli_trail = _trail(tmp_path / "l.jsonl", "cli")
    assert _tail_ids(capsys, "--config", str(config)) == ["env"]
    assert _tail_ids(capsys, "--config", str(config), "--audit-log", str(cli_trail)) == ["cli"]
    monkeypatch.delenv("OPENSIPS_MCP_AUDIT_LOG")
    assert _tail_ids(capsys, "--config", str(config)) == ["config"]


def test_a_bad_config_file_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("no_such_setting = 1\n")
    code = cli.main(["audit", "tail", "--config", str(config)])
    _out, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1


async def test_tail_reads_what_serve_wrote_with_the_same_config_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fake_mi: FakeMI
) -> None:
    from opensips_mcp.server import build_server

    trail = tmp_path / "trail" / "audit.jsonl"
    config = _config(tmp_path / "c.toml", audit_log=trail, mi_url=fake_mi.url, **FAST_MI)
    serve_args = cli.build_parser().parse_args(["serve", "--config", str(config)])
    settings = cli._settings(serve_args, [name for name, _ in cli.SERVE_OPTIONS])
    await call(build_server(settings), "opensips_health")
    code = cli.main(["audit", "tail", "--json", "--config", str(config)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [json.loads(line)["tool"] for line in out.splitlines()] == ["opensips_health"]
