"""The opensips-mcp command line: help, tokens, audit tail, start-up errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opensips_mcp.cli import SERVE_OPTIONS, main
from opensips_mcp.settings import PARSERS
from opensips_mcp.tokens import hash_token, load_tokens


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in PARSERS:
        monkeypatch.delenv(f"OPENSIPS_MCP_{name.upper()}", raising=False)
    monkeypatch.delenv("OPENSIPS_MCP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_serve_help_explains_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    # --instance NAME=URL (repeatable) is the one option spelled unlike its setting
    assert {name for name, _ in SERVE_OPTIONS} | {"instances"} == set(PARSERS)
    for name in PARSERS:
        option = "--instance" if name == "instances" else "--" + name.replace("_", "-")
        assert option in out
        assert f"OPENSIPS_MCP_{name.upper()}" in out.replace("\n", "").replace(" ", "")


@pytest.mark.parametrize("argv", [["token", "add", "--help"], ["audit", "tail", "--help"]])
def test_subcommands_have_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_token_add_prints_the_token_once_and_stores_its_hash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "tokens.toml"
    code, out, _ = run(
        capsys, "token", "add", "alice", "--role", "operator", "--tokens-file", str(path)
    )
    assert code == 0
    token = out.strip()
    (entry,) = load_tokens(path)
    assert entry.sha256 == hash_token(token)
    assert token not in path.read_text()
    code, out, _ = run(capsys, "token", "list", "--tokens-file", str(path))
    assert code == 0 and out.startswith("alice\toperator")
    assert token not in out


def test_token_add_defaults_to_the_config_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, _ = run(capsys, "token", "add", "bob", "--role", "viewer")
    assert code == 0
    assert load_tokens(tmp_path / "config" / "opensips-mcp" / "tokens.toml")[0].name == "bob"


def test_a_duplicate_token_name_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "tokens.toml"
    run(capsys, "token", "add", "alice", "--role", "viewer", "--tokens-file", str(path))
    code, _, err = run(
        capsys, "token", "add", "alice", "--role", "admin", "--tokens-file", str(path)
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1


def _write_records(path: Path) -> None:
    records = [
        {
            "time": f"2026-11-26T10:00:0{i}Z",
            "principal": p,
            "role": "operator",
            "tool": "mi_execute",
            "decision": d,
            "outcome": o,
            "mi_attempts": 1,
            "duration_ms": 1.0,
            "request_id": f"r{i}",
            "calls": [{"command": "uptime"}],
        }
        for i, (p, d, o) in enumerate(
            [
                ("alice", "allow", "ok"),
                ("bob", "deny", "denied"),
                ("alice", "deny", "denied"),
                ("alice", "allow", "ok"),
            ]
        )
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"torn')


def test_audit_tail_filters_then_takes_the_last_n(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "a.jsonl"
    _write_records(path)
    code, out, _ = run(
        capsys,
        "audit",
        "tail",
        "-n",
        "1",
        "--principal",
        "alice",
        "--outcome",
        "denied",
        "--audit-log",
        str(path),
        "--json",
    )
    assert code == 0
    (line,) = out.splitlines()
    assert json.loads(line)["request_id"] == "r2"
    code, out, _ = run(capsys, "audit", "tail", "--audit-log", str(path))
    assert code == 0
    assert len(out.splitlines()) == 4
    assert "bob(operator)" in out


def test_audit_tail_without_a_trail_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "audit", "tail", "--audit-log", str(tmp_path / "none.jsonl"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "99999"],
        ["serve", "--mi-url", "localhost:8888"],
        ["serve", "--toolsets", "nonexistent"],
        ["serve", "--transport", "http", "--host", "0.0.0.0", "--allowed-hosts", "x:1"],
    ],
)
def test_serve_refuses_bad_settings_with_one_line_naming_the_problem(
    capsys: pytest.CaptureFixture[str], argv: list[str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys,
        *argv,
        "--audit-log",
        str(tmp_path / "a.jsonl"),
        "--tokens-file",
        str(tmp_path / "none.toml"),
    )
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("opensips-mcp: error:")
