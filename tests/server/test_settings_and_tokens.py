"""Settings precedence and validation; the tokens file and the token verifier."""

from __future__ import annotations

import os
from pathlib import Path

import certifi
import pytest
import trustme

from opensips_mcp.catalog import AccessLevel
from opensips_mcp.cli import build_parser, serve_settings
from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Principal, Role, decide
from opensips_mcp.instances import InstanceConfig
from opensips_mcp.settings import PARSERS, SettingsError, load_settings
from opensips_mcp.tokens import (
    StoreTokenVerifier,
    TokenFileError,
    TokenStore,
    add_token,
    hash_token,
    load_tokens,
    principal_from_access_token,
    remove_token,
)


def test_defaults_apply_when_nothing_is_set() -> None:
    settings = load_settings({}, env={})
    assert settings.transport == "stdio"
    assert settings.mi_url == "http://127.0.0.1:8888/mi"
    assert settings.role is Role.VIEWER
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.audit_log.parts[-3:] == ("state", "opensips-mcp", "audit.jsonl")


def test_command_line_beats_environment_beats_config_file_beats_defaults(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'role = "admin"\nport = 9001\nmi-url = "http://127.0.0.1:1/mi"\n'
        'allowed_hosts = ["a:1", "b:*"]\n'
    )
    env = {
        "OPENSIPS_MCP_CONFIG": str(config),
        "OPENSIPS_MCP_PORT": "9002",
        "OPENSIPS_MCP_ROLE": "operator",
    }
    settings = load_settings({"role": "viewer"}, env=env)
    assert settings.role is Role.VIEWER  # command line
    assert settings.port == 9002  # environment
    assert settings.mi_url == "http://127.0.0.1:1/mi"  # config file
    assert settings.allowed_hosts == ("a:1", "b:*")
    assert settings.transport == "stdio"  # default
    assert settings.config == config


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("port", "70000"),
        ("port", "x"),
        ("role", "root"),
        ("mi_url", "ftp://x/mi"),
        # mi_fifo drops unanswered any request whose reply path is over 127 bytes
        ("mi_url", "fifo:///run/opensips_fifo?reply_dir=/" + "d" * 81 + "/"),
        ("transport", "sse"),
        ("read_only", "maybe"),
        ("mi_read_timeout", "-1"),
        ("log_level", "LOUD"),
        ("mi_max_attempts", "0"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting_and_its_source(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({}, env={f"OPENSIPS_MCP_{name.upper()}": value})
    assert err.value.name == name
    assert err.value.source == f"OPENSIPS_MCP_{name.upper()}"
    assert "\n" not in str(err.value)


def test_unknown_config_key_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('rol = "admin"\n')
    with pytest.raises(SettingsError) as err:
        load_settings({"config": str(config)}, env={})
    assert err.value.name == "rol"


def test_non_loopback_http_needs_explicit_allowed_hosts() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"transport": "http", "host": "0.0.0.0"}, env={})
    assert err.value.name == "allowed_hosts"
    ok = load_settings(
        {"transport": "http", "host": "0.0.0.0", "allowed_hosts": "mcp.example:8080"}, env={}
    )
    assert ok.http_allowed_hosts == ("mcp.example:8080",)


def test_read_only_forces_viewer_for_stdio_and_for_token_roles() -> None:
    settings = load_settings({"role": "admin", "read_only": "true"}, env={})
    assert settings.stdio_principal.role is Role.VIEWER
    assert settings.cap(Role.ADMIN) is Role.VIEWER


def test_lists_are_comma_separated_and_deduplicated() -> None:
    settings = load_settings({"toolsets": "generic, dialog,generic,"}, env={})
    assert settings.toolsets == ("generic", "dialog")


SAMPLES = {
    "transport": ("http", "http"),
    "mi_url": ("http://127.0.0.1:1/mi", "http://127.0.0.1:1/mi"),
    "role": ("admin", Role.ADMIN),
    "principal": ("bot", "bot"),
    "host": ("127.0.0.2", "127.0.0.2"),
    "port": ("0", 0),
    "tokens_file": ("/tmp/t.toml", Path("/tmp/t.toml")),
    "audit_log": ("/tmp/a.jsonl", Path("/tmp/a.jsonl")),
    "audit_max_bytes": ("10M", 10 * 1024 * 1024),
    "audit_keep": ("3", 3),
    "audit_syslog": ("udp://127.0.0.1:514", "udp://127.0.0.1:514"),
    "read_only": ("yes", True),
    "allowed_hosts": ("a:1,b:2", ("a:1", "b:2")),
    "allowed_origins": ("http://a:1", ("http://a:1",)),
    "toolsets": ("generic", ("generic",)),
    "tools": ("mi_execute", ("mi_execute",)),
    "mi_connect_timeout": ("1.5", 1.5),
    "mi_read_timeout": ("4", 4.0),
    "mi_total_timeout": ("20", 20.0),
    "mi_max_attempts": ("5", 5),
    "mi_ca_file": (certifi.where(), certifi.where()),
    "which_ttl": ("0", 0.0),
    "mi_max_in_flight": ("2", 2),
    "mi_max_queued": ("8", 8),
    "mi_queue_timeout": ("3", 3.0),
    "mi_rate": ("0.5", 0.5),
    "mi_rate_burst": ("4", 4),
    "mi_viewer_budget": ("0", 0.0),
    "mi_heavy_timeout": ("90", 90.0),
    "mi_heavy_role": ("operator", Role.OPERATOR),
    "opensips_version": ("4.0.1", "4.0.1"),
    "log_level": ("debug", "DEBUG"),
    "confirm": ("None", ConfirmPolicy.NONE),
    "fleet_timeout": ("2", 2.0),
    "stateless": ("on", True),
    "instances": ("a=http://127.0.0.1:1/mi", (InstanceConfig("a", "http://127.0.0.1:1/mi"),)),
    "default_instance": ("default", "default"),
}


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An HTTPS certificate and its key, as files."""
    folder = tmp_path_factory.mktemp("tls")
    leaf = trustme.CA().issue_cert("127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    leaf.private_key_pem.write_to_path(str(folder / "key.pem"))
    return {"tls_cert": folder / "cert.pem", "tls_key": folder / "key.pem"}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_setting_can_come_from_its_environment_variable(
    name: str, tls_pair: dict[str, Path]
) -> None:
    if name in tls_pair:  # the two go together: each given by its variable
        env = {f"OPENSIPS_MCP_{n.upper()}": str(path) for n, path in tls_pair.items()}
        assert getattr(load_settings({}, env=env), name) == tls_pair[name]
        return
    raw, expected = SAMPLES[name]
    settings = load_settings({}, env={f"OPENSIPS_MCP_{name.upper()}": raw})
    assert getattr(settings, name) == expected


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_setting_given_on_the_serve_command_line_reaches_the_settings(
    name: str, tls_pair: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in [v for v in os.environ if v.startswith("OPENSIPS_MCP_")]:
        monkeypatch.delenv(variable)
    option = "--instance" if name == "instances" else "--" + name.replace("_", "-")
    if name in tls_pair:
        argv = ["serve", "--tls-cert", str(tls_pair["tls_cert"])]
        argv += ["--tls-key", str(tls_pair["tls_key"])]
        expected: object = tls_pair[name]
    elif name == "read_only":  # a flag
        argv, expected = ["serve", option], True
    else:
        raw, expected = SAMPLES[name]
        argv = ["serve", option, raw]
    settings = serve_settings(build_parser().parse_args(argv))
    assert getattr(settings, name) == expected


@pytest.mark.parametrize(
    ("given", "named"), [(("tls_cert",), "tls_key"), (("tls_key",), "tls_cert")]
)
def test_an_https_certificate_needs_its_key_and_the_reverse(
    given: tuple[str, ...], named: str, tls_pair: dict[str, Path]
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({n: str(tls_pair[n]) for n in given}, env={})
    assert caught.value.name == named


def test_an_https_certificate_that_does_not_load_fails_at_start(
    tls_pair: dict[str, Path], tmp_path: Path
) -> None:
    other_key = tmp_path / "other.pem"
    trustme.CA().issue_cert("127.0.0.1").private_key_pem.write_to_path(str(other_key))
    with pytest.raises(SettingsError) as caught:
        load_settings({"tls_cert": str(tls_pair["tls_cert"]), "tls_key": str(other_key)}, {})
    assert caught.value.name == "tls_cert"


@pytest.mark.parametrize(
    ("role", "level", "allowed"),
    [
        (r, lv, allowed)
        for r, allowed_levels in [
            (Role.VIEWER, {AccessLevel.READ}),
            (Role.OPERATOR, {AccessLevel.READ, AccessLevel.WRITE}),
            (Role.ADMIN, set(AccessLevel)),
        ]
        for lv in AccessLevel
        for allowed in [lv in allowed_levels]
    ],
)
def test_roles_map_to_levels(role: Role, level: AccessLevel, allowed: bool) -> None:
    decision = decide(Principal("p", role), "cmd", (), level)
    assert decision.allowed is allowed
    assert decision.needed_role.allows(level)


# --- tokens ----------------------------------------------------------------------------------


def test_a_new_token_is_returned_once_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "tokens.toml"
    token = add_token(path, "alice", Role.OPERATOR)
    text = path.read_text()
    assert token not in text
    assert hash_token(token) in text
    assert os.stat(path).st_mode & 0o077 == 0
    (entry,) = load_tokens(path)
    assert (entry.name, entry.role) == ("alice", Role.OPERATOR)
    assert len(token) >= 43  # 32 random bytes, url-safe base64


def test_token_names_are_unique_and_removable(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    add_token(path, "alice", Role.VIEWER)
    with pytest.raises(TokenFileError):
        add_token(path, "alice", Role.ADMIN)
    add_token(path, "bob", Role.ADMIN)
    remove_token(path, "alice")
    assert [e.name for e in load_tokens(path)] == ["bob"]
    with pytest.raises(TokenFileError):
        remove_token(path, "alice")


def test_a_malformed_tokens_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text('[[token]]\nname = "a"\nrole = "root"\nsha256 = "00"\n')
    with pytest.raises(TokenFileError):
        load_tokens(path)


async def test_verifier_accepts_known_tokens_only_and_never_keeps_the_secret(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tokens.toml"
    alice = add_token(path, "alice", Role.OPERATOR)
    bob = add_token(path, "bob", Role.VIEWER)
    verifier = StoreTokenVerifier(TokenStore(load_tokens(path)))
    access = await verifier.verify_token(alice)
    assert access is not None
    assert alice not in access.model_dump_json()
    assert principal_from_access_token(access) == Principal("alice", Role.OPERATOR)
    bob_access = await verifier.verify_token(bob)
    assert bob_access is not None
    assert principal_from_access_token(bob_access) == Principal("bob", Role.VIEWER)
    assert await verifier.verify_token(alice + "x") is None
    assert await verifier.verify_token("") is None


async def test_a_token_s_own_rate_limit_is_stored_and_reaches_its_principal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tokens.toml"
    bot = add_token(path, "bot", Role.VIEWER, mi_rate=2, mi_rate_burst=3)
    human = add_token(path, "human", Role.VIEWER)
    add_token(path, "other", Role.VIEWER)  # rewriting the file keeps bot's limit
    entries = {e.name: e for e in load_tokens(path)}
    assert (entries["bot"].mi_rate, entries["bot"].mi_rate_burst) == (2.0, 3)
    assert (entries["human"].mi_rate, entries["human"].mi_rate_burst) == (None, None)
    verifier = StoreTokenVerifier(TokenStore(load_tokens(path)))
    bot_access = await verifier.verify_token(bot)
    human_access = await verifier.verify_token(human)
    assert bot_access is not None and human_access is not None
    assert principal_from_access_token(bot_access) == Principal("bot", Role.VIEWER, 2.0, 3)
    assert principal_from_access_token(human_access) == Principal("human", Role.VIEWER)


@pytest.mark.parametrize(
    "limit",
    ["mi_rate = -1", 'mi_rate = "fast"', "mi_rate = true", "mi_rate_burst = 3",
     "mi_rate = 1\nmi_rate_burst = 0", "mi_rate = 1\nmi_rate_burst = 1.5"],
)  # fmt: skip
def test_a_token_with_a_bad_rate_limit_is_refused(tmp_path: Path, limit: str) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(f'[[token]]\nname = "a"\nrole = "viewer"\nsha256 = "{"0" * 64}"\n{limit}\n')
    with pytest.raises(TokenFileError):
        load_tokens(path)
    with pytest.raises(TokenFileError):
        add_token(tmp_path / "new.toml", "b", Role.VIEWER, mi_rate=-1.0)
