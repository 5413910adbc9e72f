"""Server settings: read once at start into one frozen :class:`Settings`.

Every setting comes from, highest precedence first: the command line, an
``OPENSIPS_MCP_<NAME>`` environment variable, the TOML file given by ``--config``
(or ``OPENSIPS_MCP_CONFIG``; keys are the option names, ``mi_url`` or ``mi-url``),
then the default. A bad value raises :class:`SettingsError`, whose message is one
line naming the setting and where the value came from.

Lists (``allowed_hosts``, ``allowed_origins``, ``toolsets``, ``tools``) are
comma-separated strings on the command line and in the environment, and strings or
arrays of strings in the config file. Booleans accept 1/0, true/false, yes/no, on/off.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from opensips_mcp.audit.syslog import SyslogURLError, parse_syslog_url
from opensips_mcp.confirm.policy import ConfirmPolicy
from opensips_mcp.gate import Principal, Role
from opensips_mcp.instances import (
    InstanceConfig,
    check_ca_file,
    check_name,
    parse_instances,
    pem_error,
    resolve_fleet,
)
from opensips_mcp.mi.fifo import reply_dir_of

Transport = Literal["stdio", "http"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
ENV_PREFIX = "OPENSIPS_MCP_"


class SettingsError(Exception):
    """A setting has a bad value; ``str(err)`` is one line naming it."""

    def __init__(self, name: str, source: str, problem: str) -> None:
        self.name = name
        self.source = source
        self.problem = problem
        super().__init__(f"setting '{name}' ({source}): {problem}")


def _state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME")
    return (Path(base) if base else Path.home() / ".local" / "state") / "opensips-mcp"


def _config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "opensips-mcp"


def default_audit_log() -> Path:
    """``~/.local/state/opensips-mcp/audit.jsonl`` (``$XDG_STATE_HOME`` when set)."""
    return _state_dir() / "audit.jsonl"


def default_tokens_file() -> Path:
    """``~/.config/opensips-mcp/tokens.toml`` (``$XDG_CONFIG_HOME`` when set)."""
    return _config_dir() / "tokens.toml"


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """True for an address that only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to know, fixed for the life of the process."""

    transport: Transport = "stdio"
    mi_url: str = "http://127.0.0.1:8888/mi"
    role: Role = Role.VIEWER
    principal: str = "stdio"
    host: str = "127.0.0.1"
    port: int = 8080
    tokens_file: Path = field(default_factory=default_tokens_file)
    tls_cert: Path | None = None
    """HTTP: serve HTTPS with this PEM certificate (chain) and ``tls_key``; bearer tokens
    then never cross the network in clear."""
    tls_key: Path | None = None
    audit_log: Path = field(default_factory=default_audit_log)
    audit_max_bytes: int = 100 * 1024 * 1024
    audit_keep: int = 10
    audit_syslog: str | None = None
    read_only: bool = False
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    toolsets: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    mi_connect_timeout: float = 2.0
    mi_read_timeout: float = 10.0
    mi_total_timeout: float = 30.0
    mi_max_attempts: int = 3
    mi_ca_file: str | None = None
    """``https://`` MI URLs: a PEM file of the CAs to trust instead of the system's (an
    instance's ``ca_file`` overrides it)."""
    which_ttl: float = 30.0
    fleet_timeout: float = 5.0
    stateless: bool = False
    """HTTP: keep no session state, so replicas can share a load balancer (see README)."""
    mi_max_in_flight: int = 1
    mi_max_queued: int = 32
    mi_queue_timeout: float = 10.0
    mi_rate: float = 0.0
    mi_rate_burst: int = 10
    mi_viewer_budget: float = 20.0
    mi_heavy_timeout: float = 120.0
    mi_heavy_role: Role = Role.ADMIN
    opensips_version: str | None = None
    """Every instance's OpenSIPS version, unless its ``[instances.NAME]`` table pins its
    own (``InstanceConfig.opensips_version``); ``None``: each is learnt with ``version``."""
    log_level: LogLevel = "INFO"
    confirm: ConfirmPolicy = ConfirmPolicy.DESTRUCTIVE
    """Which recipes need the user's yes (elicitation) before they are sent."""
    config: Path | None = None
    instances: tuple[InstanceConfig, ...] = ()
    """Configured instances (``[instances.NAME]``, ``--instance NAME=URL``); see :attr:`fleet`."""
    default_instance: str | None = None
    mi_url_in_fleet: bool = False
    """``--mi-url`` was given beside ``instances``: it is instance ``default`` too."""

    @property
    def fleet(self) -> tuple[InstanceConfig, ...]:
        """Every instance the server manages (``mi_url`` alone: one, named ``default``)."""
        return resolve_fleet(
            self.instances, self.mi_url, self.mi_url_in_fleet, self.default_instance
        )[0]

    @property
    def default_instance_name(self) -> str:
        """The instance a tool call without ``instance`` goes to."""
        return resolve_fleet(
            self.instances, self.mi_url, self.mi_url_in_fleet, self.default_instance
        )[1]

    @property
    def effective_role(self) -> Role:
        """The configured role, or ``viewer`` whatever was set when ``read_only``."""
        return Role.VIEWER if self.read_only else self.role

    @property
    def stdio_principal(self) -> Principal:
        """The caller on stdio and in memory, where no token says who it is."""
        return Principal(self.principal, self.effective_role)

    def cap(self, role: Role) -> Role:
        """``role`` limited by ``read_only`` (applies to token roles over HTTP too)."""
        return Role.VIEWER if self.read_only else role

    @property
    def http_allowed_hosts(self) -> tuple[str, ...]:
        """Host header values accepted over HTTP (``host:*`` allows any port)."""
        if self.allowed_hosts:
            return self.allowed_hosts
        return ("127.0.0.1:*", "localhost:*", "[::1]:*")

    @property
    def http_allowed_origins(self) -> tuple[str, ...]:
        """Origin header values accepted over HTTP (no Origin header is always fine)."""
        if self.allowed_origins:
            return self.allowed_origins
        return ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (for tests and embedding)."""
        return replace(self, **changes)


# --- parsing -----------------------------------------------------------------------------

Parser = Callable[[Any], Any]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value.strip()


def _transport(value: Any) -> Transport:
    text = _text(value)
    if text == "stdio":
        return "stdio"
    if text == "http":
        return "http"
    raise ValueError(f"must be 'stdio' or 'http', got {text!r}")


def _role(value: Any) -> Role:
    text = _text(value)
    try:
        return Role(text)
    except ValueError:
        raise ValueError(f"must be viewer, operator or admin, got {text!r}") from None


def _url(value: Any) -> str:
    text = _text(value)
    parts = urlsplit(text)
    if parts.scheme in ("fifo", "unix") and parts.path.startswith("/") and not parts.netloc:
        if parts.scheme == "fifo":
            reply_dir_of(text)  # one mi_fifo would drop every request of: refused here
        return text  # mi_fifo, mi_datagram on a unix socket (see opensips_mcp.mi.MISettings)
    if parts.scheme not in ("http", "https", "udp") or not parts.hostname:
        raise ValueError(
            "must be an http://, https:// or udp:// URL with a host, or fifo:///path "
            f"or unix:///path, got {text!r}"
        )
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"has a bad port: {text!r}") from None
    return text


def _host(value: Any) -> str:
    text = _text(value)
    if not text or any(c.isspace() for c in text) or "/" in text:
        raise ValueError(f"must be a host name or IP address, got {text!r}")
    return text


def _port(value: Any) -> int:
    number = _int(value)
    if not 0 <= number <= 65535:
        raise ValueError(f"must be between 0 and 65535, got {number}")
    return number


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    try:
        return int(_text(value))
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def _positive_int(value: Any) -> int:
    number = _int(value)
    if number < 1:
        raise ValueError(f"must be 1 or more, got {number}")
    return number


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds, got a boolean")
    try:
        number = float(value) if isinstance(value, int | float) else float(_text(value))
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {value!r}") from None
    if not 0 < number <= 3600:
        raise ValueError(f"must be more than 0 and at most 3600 seconds, got {number}")
    return number


def _ttl(value: Any) -> float:
    if isinstance(value, int | float | str) and str(value).strip() in ("0", "0.0"):
        return 0.0
    return _seconds(value)


def _non_negative(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    try:
        number = float(value) if isinstance(value, int | float) else float(_text(value))
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not 0 <= number <= 3600:
        raise ValueError(f"must be between 0 and 3600, got {number}")
    return number


def _opensips_version(value: Any) -> str | None:
    text = _text(value)
    if text in ("", "auto"):
        return None
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", text):
        raise ValueError(f"must be 'auto' or a version such as 3.6.8, got {text!r}")
    return text


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def _path(value: Any) -> Path:
    text = _text(value) if not isinstance(value, Path) else str(value)
    if not text:
        raise ValueError("must be a file path, got an empty string")
    return Path(text).expanduser()


_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = _text(value).lower().removesuffix("b").removesuffix("i")
        unit = text[-1:] if text[-1:] in _SIZE_UNITS else ""
        digits = text[: len(text) - len(unit)].strip()
        if not digits.isdigit():
            raise ValueError(f"expected a size in bytes (e.g. 104857600, 100M, 1G), got {value!r}")
        number = int(digits) * _SIZE_UNITS[unit]
    if number != 0 and number < 4096:
        raise ValueError(f"must be 0 (never rotate) or at least 4096 bytes, got {number}")
    return number


def _syslog(value: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    try:
        parse_syslog_url(text)
    except SyslogURLError as exc:
        raise ValueError(str(exc)) from None
    return text


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        items = [_text(v) for v in value]
    else:
        items = _text(value).split(",")
    names = tuple(dict.fromkeys(item.strip() for item in items if item.strip()))
    return names


def _log_level(value: Any) -> LogLevel:
    text = _text(value).upper()
    levels: dict[str, LogLevel] = {
        "DEBUG": "DEBUG",
        "INFO": "INFO",
        "WARNING": "WARNING",
        "ERROR": "ERROR",
        "CRITICAL": "CRITICAL",
    }
    if text not in levels:
        raise ValueError(f"must be one of {', '.join(levels)}, got {value!r}")
    return levels[text]


def _confirm(value: Any) -> ConfirmPolicy:
    text = _text(value).lower()
    try:
        return ConfirmPolicy(text)
    except ValueError:
        raise ValueError(f"must be destructive, admin or none, got {value!r}") from None


def _principal(value: Any) -> str:
    text = _text(value)
    if not text or len(text) > 64 or any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(f"must be 1-64 printable characters without spaces, got {text!r}")
    return text


PARSERS: dict[str, Parser] = {
    "transport": _transport,
    "mi_url": _url,
    "role": _role,
    "principal": _principal,
    "host": _host,
    "port": _port,
    "tokens_file": _path,
    "tls_cert": _path,
    "tls_key": _path,
    "audit_log": _path,
    "audit_max_bytes": _size,
    "audit_keep": _positive_int,
    "audit_syslog": _syslog,
    "read_only": _bool,
    "allowed_hosts": _names,
    "allowed_origins": _names,
    "toolsets": _names,
    "tools": _names,
    "mi_connect_timeout": _seconds,
    "mi_read_timeout": _seconds,
    "mi_total_timeout": _seconds,
    "mi_max_attempts": _positive_int,
    "mi_ca_file": lambda value: check_ca_file(str(value)),
    "which_ttl": _ttl,
    "fleet_timeout": _seconds,
    "stateless": _bool,
    # Admission to the MI (opensips_mcp.admission): calls queue here, not in OpenSIPS.
    "mi_max_in_flight": _positive_int,
    "mi_max_queued": _positive_int,
    "mi_queue_timeout": _seconds,
    "mi_rate": _non_negative,
    "mi_rate_burst": _positive_int,
    "mi_viewer_budget": _non_negative,
    "mi_heavy_timeout": _seconds,
    "mi_heavy_role": _role,
    "opensips_version": _opensips_version,
    "log_level": _log_level,
    "confirm": _confirm,
    "instances": lambda value: parse_instances(value, _url),
    "default_instance": check_name,
}
"""Every setting name (as in the config file; ``--mi-url`` on the command line)."""


def option_name(name: str) -> str:
    """The command-line spelling of a setting: ``mi_url`` -> ``--mi-url``."""
    return "--" + name.replace("_", "-")


def env_name(name: str) -> str:
    """The environment variable of a setting: ``mi_url`` -> ``OPENSIPS_MCP_MI_URL``."""
    return ENV_PREFIX + name.upper()


def _read_config(path: Path, source: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError("config", source, f"file not found: {path}") from None
    except OSError as exc:
        raise SettingsError("config", source, f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError("config", source, f"{path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in PARSERS:
            raise SettingsError(
                name, f"config file {path}", f"unknown setting; known: {', '.join(PARSERS)}"
            )
        values[name] = value
    return values


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge command line > environment > config file > defaults into :class:`Settings`.

    ``cli`` maps setting names to values given on the command line (``None`` or absent:
    not given). ``env`` defaults to ``os.environ``. Raises :class:`SettingsError`.
    """
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    env = os.environ if env is None else env

    config_path: Path | None = None
    config_values: dict[str, Any] = {}
    if "config" in cli:
        config_path = _parse("config", cli["config"], "command line --config", _path)
        config_values = _read_config(config_path, "command line --config")
    elif env.get(env_name("config")):
        config_path = _parse("config", env[env_name("config")], env_name("config"), _path)
        config_values = _read_config(config_path, env_name("config"))

    chosen: dict[str, Any] = {}
    for name, parser in PARSERS.items():
        if name in cli:
            chosen[name] = _parse(name, cli[name], f"command line {option_name(name)}", parser)
        elif env.get(env_name(name)) is not None:
            chosen[name] = _parse(name, env[env_name(name)], env_name(name), parser)
        elif name in config_values:
            chosen[name] = _parse(name, config_values[name], f"config file {config_path}", parser)
    if "instances" in chosen and "mi_url" in chosen:
        chosen["mi_url_in_fleet"] = True
    settings = Settings(config=config_path, **chosen)
    _check_consistency(settings, chosen)
    return settings


def _parse(name: str, raw: Any, source: str, parser: Parser) -> Any:
    try:
        return parser(raw)
    except ValueError as exc:
        raise SettingsError(name, source, str(exc)) from None


def _check_consistency(settings: Settings, chosen: Mapping[str, Any]) -> None:
    try:
        _ = settings.fleet
    except ValueError as exc:
        name = "default_instance" if "default_instance" in str(exc) else "instances"
        raise SettingsError(name, "combined", str(exc)) from None
    for name in ("mi_connect_timeout", "mi_read_timeout"):
        if getattr(settings, name) > settings.mi_total_timeout:
            raise SettingsError(
                name,
                "combined",
                f"must not exceed mi_total_timeout ({settings.mi_total_timeout} s), "
                f"got {getattr(settings, name)} s",
            )
    if (settings.tls_cert is None) != (settings.tls_key is None):
        name = "tls_key" if settings.tls_key is None else "tls_cert"
        raise SettingsError(name, "combined", "tls_cert and tls_key go together")
    if settings.tls_cert is not None and settings.tls_key is not None:
        try:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(settings.tls_cert, settings.tls_key)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise SettingsError(
                "tls_cert",
                "combined",
                f"cannot load the certificate and its key: {pem_error(exc)}",
            ) from None
    if (
        settings.transport == "http"
        and not is_loopback(settings.host)
        and not settings.allowed_hosts
    ):
        raise SettingsError(
            "allowed_hosts",
            "combined",
            f"required when --host is not a loopback address ({settings.host}): list the "
            "Host header values clients use, e.g. --allowed-hosts mcp.example.net:8080",
        )
