"""OpenSIPS instances: the MI endpoints one server manages, as configured.

In the TOML configuration (the agreed interface, README "Fleets")::

    default_instance = "edge-1"

    [instances.edge-1]
    mi_url = "http://10.0.0.5:8888/mi"     # any MI transport URL
    max_role = "operator"                    # cap: no caller gets more on this instance
    labels = { site = "fra", kind = "edge" }
    cluster_node_id = 1                      # its clusterer node id, when clustered
    opensips_version = "4.0.1"               # pin its version (default: learnt, or the
                                             # global opensips_version)
    ca_file = "/etc/opensips-mcp/edge-ca.pem"  # https:// only: the CA of its httpd's
                                             # certificate (default: mi_ca_file)

On the command line ``--instance NAME=URL`` (repeatable) adds instances without a file, and
``OPENSIPS_MCP_INSTANCES="a=URL,b=URL"`` does the same from the environment. ``--mi-url``
alone still means one instance, named ``default``.

This module only parses and checks; :mod:`opensips_mcp.runtime` opens one MI client per
instance.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opensips_mcp.gate import Role

DEFAULT_NAME = "default"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KEYS = ("mi_url", "max_role", "labels", "cluster_node_id", "opensips_version", "ca_file")
VERSION_PATTERN = re.compile(r"^\d+\.\d+(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    """One configured OpenSIPS instance."""

    name: str
    mi_url: str
    max_role: Role | None = None
    """No caller gets more than this role on the instance (``None``: no cap)."""
    labels: Mapping[str, str] = field(default_factory=dict)
    cluster_node_id: int | None = None
    opensips_version: str | None = None
    """The OpenSIPS version pinned for this instance (trusted, never asked); ``None``: the
    global ``opensips_version`` setting, else learnt from the instance."""

    ca_file: str | None = None
    """For an ``https://`` URL: a PEM file of the CAs that signed its httpd's certificate;
    ``None``: the global ``mi_ca_file`` setting, else the system's store."""

    def version_pin(self, default: str | None) -> str | None:
        """The version to pin this instance to: its own, else ``default`` (the global one)."""
        return self.opensips_version if self.opensips_version is not None else default

    def cap(self, role: Role) -> Role:
        """``role`` limited by this instance's ``max_role``."""
        if self.max_role is None:
            return role
        order = list(Role)
        return min(role, self.max_role, key=order.index)

    def describe(self) -> dict[str, Any]:
        """The instance as JSON, without anything secret (the MI URL's credentials)."""
        return {
            "name": self.name,
            "mi_url": redact_url(self.mi_url),
            "max_role": None if self.max_role is None else self.max_role.value,
            "labels": dict(self.labels),
            "cluster_node_id": self.cluster_node_id,
            "opensips_version": self.opensips_version,
            "ca_file": self.ca_file,
        }


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced, for listings and logs."""
    return re.sub(r"//[^/@]*@", "//***@", url, count=1)


def check_name(value: Any) -> str:
    """An instance name: 1-64 of letters, digits, ``_.-``, starting with a letter or digit."""
    if not isinstance(value, str) or not NAME_PATTERN.match(value.strip()):
        raise ValueError(
            f"an instance name is 1-64 letters, digits, '_', '.' or '-', got {value!r}"
        )
    return value.strip()


def check_ca_file(value: Any) -> str:
    """A PEM file of certificate authorities that TLS can load (checked now, so that a
    wrong path fails at start rather than on the first call)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be the path of a PEM file of CA certificates, got {value!r}")
    path = value.strip()
    try:
        ssl.create_default_context(cafile=path)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise ValueError(f"cannot load CA certificates from {path!r}: {pem_error(exc)}") from None
    return path


def pem_error(exc: OSError | ValueError) -> str:
    """Why a PEM file did not load: the system's error ("No such file or directory") or,
    for a file that is there, OpenSSL's."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def check_version(value: Any) -> str | None:
    """A pinned OpenSIPS version (``3.6.8``, ``4.0``), or ``None`` for ``auto`` / empty."""
    if not isinstance(value, str):  # a TOML number (4.0) loses the version's text
        raise ValueError(f"must be a string, 'auto' or a version such as \"3.6.8\", got {value!r}")
    text = value.strip()
    if text in ("", "auto"):
        return None
    if not VERSION_PATTERN.match(text):
        raise ValueError(f"must be 'auto' or a version such as 3.6.8, got {text!r}")
    return text


def parse_instances(value: Any, check_url: Callable[[Any], str]) -> tuple[InstanceConfig, ...]:
    """Instances from a TOML table (``{name: {mi_url, ...}}``), a list of ``NAME=URL``
    strings (repeated ``--instance``) or one comma-separated string (environment).

    ``check_url`` validates an MI URL (the same rules as ``--mi-url``). Raises
    ``ValueError`` naming the instance and what is wrong with it.
    """
    if isinstance(value, Mapping):
        found = [_from_table(name, spec, check_url) for name, spec in value.items()]
    else:
        items = value.split(",") if isinstance(value, str) else list(value)
        found = [_from_pair(item, check_url) for item in items if str(item).strip()]
    names = [i.name for i in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"instance(s) named twice: {', '.join(dupes)}")
    if not found:
        raise ValueError("no instance given")
    return tuple(found)


def _from_pair(item: Any, check_url: Callable[[Any], str]) -> InstanceConfig:
    if not isinstance(item, str) or "=" not in item:
        raise ValueError(f"expected NAME=URL, got {item!r}")
    name, _, url = item.partition("=")
    return InstanceConfig(name=check_name(name), mi_url=check_url(url.strip()))


def _from_table(name: Any, spec: Any, check_url: Callable[[Any], str]) -> InstanceConfig:
    name = check_name(name)
    if not isinstance(spec, Mapping):
        raise ValueError(f"instance {name}: expected a table with mi_url, got {spec!r}")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise ValueError(f"instance {name}: unknown key(s) {', '.join(unknown)}; known: {KEYS}")
    if "mi_url" not in spec:
        raise ValueError(f"instance {name}: mi_url is required")
    try:
        url = check_url(spec["mi_url"])
    except ValueError as exc:
        raise ValueError(f"instance {name}: mi_url {exc}") from None
    max_role: Role | None = None
    if "max_role" in spec:
        try:
            max_role = Role(str(spec["max_role"]).strip())
        except ValueError:
            raise ValueError(
                f"instance {name}: max_role must be viewer, operator or admin"
            ) from None
    labels = spec.get("labels", {})
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in labels.items()
    ):
        raise ValueError(f"instance {name}: labels is a table of strings")
    node_id = spec.get("cluster_node_id")
    if node_id is not None and (isinstance(node_id, bool) or not isinstance(node_id, int)):
        raise ValueError(f"instance {name}: cluster_node_id is an integer")
    if node_id is not None and node_id < 1:
        raise ValueError(f"instance {name}: cluster_node_id is 1 or more")
    try:
        version = check_version(spec.get("opensips_version", "auto"))
    except ValueError as exc:
        raise ValueError(f"instance {name}: opensips_version {exc}") from None
    ca_file: str | None = None
    if "ca_file" in spec:
        try:
            ca_file = check_ca_file(spec["ca_file"])
        except ValueError as exc:
            raise ValueError(f"instance {name}: ca_file {exc}") from None
    return InstanceConfig(
        name=name,
        mi_url=url,
        max_role=max_role,
        labels={str(k): str(v) for k, v in labels.items()},
        cluster_node_id=node_id,
        opensips_version=version,
        ca_file=ca_file,
    )


def resolve_fleet(
    instances: tuple[InstanceConfig, ...],
    mi_url: str,
    mi_url_given: bool,
    default_instance: str | None,
) -> tuple[tuple[InstanceConfig, ...], str]:
    """The instances the server manages and the default one's name.

    No instances configured: one, ``default``, at ``mi_url``. Instances configured and
    ``--mi-url`` given too: it is added as ``default`` (unless that name is taken, which
    is an error). Raises ``ValueError``.
    """
    fleet = list(instances)
    if not fleet or mi_url_given:
        if any(i.name == DEFAULT_NAME for i in fleet):
            raise ValueError(
                f"mi_url names instance '{DEFAULT_NAME}', which [instances] already has"
            )
        fleet.insert(0, InstanceConfig(name=DEFAULT_NAME, mi_url=mi_url))
    names = [i.name for i in fleet]
    default = default_instance or names[0]
    if default not in names:
        raise ValueError(f"default_instance {default!r} is not one of {', '.join(names)}")
    return tuple(fleet), default
