"""The OpenSIPS version the simulator impersonates (``opensips-sim --opensips-version``).

3.6.8 (the default) is the simulator as it is. For 3.4.18 and 4.0.1, from that version's
captured commands (``data/commands-<version>.json``):

* ``version`` answers that version's server string; ``which`` lists that version's names
  (4.x: ``module:name``) of the commands the captured server offered live;
* a request's method is translated to the 3.6 command that implements it: 4.x full names,
  aliases and local names that only one offered command has; a local name several offered
  commands share answers ``-32001 "Method ambiguous"`` with the full names; a 3.x name that
  4.x dropped, or a 3.6 command 3.4 lacks, answers ``-32601`` as the real server does;
* 4.x turns usrloc's ``use_domain`` on by default (a scenario may still set it): AORs are
  then ``user@domain`` (scenario AORs without one get the usrloc section's ``domain``,
  ``127.0.0.1`` as on the real 4.0.1 lab) and a bare AOR answers ``400 "Domain missing in
  AOR"`` (``tests/simulator/test_use_domain_fidelity.py`` replays a real 4.0.1's answers);
* 3.4 closes a ``POST`` whose body is chunked without answering (:attr:`Persona.
  closes_chunked_body`); every version leaves a request whose head and body pass 16,384
  bytes unanswered (`MHD_READ_BUFFER`: 3.4 closes it, 3.5+ hold it); 3.5+ also drop a body
  larger than httpd's ``receive_buf_size`` (1024 bytes by default, ``--receive-buf-size``)
  and answer 400 without a page, unrun (:attr:`Persona.bounds_body`; measured on real
  3.6.8 and 4.0.1: 1,024 bytes answered, 1,025 refused, OpenSIPS logs "Received too big
  HTTP request").

3.4's httpd (``modules/httpd/httpd_proc.c``, ``answer_to_connection``) takes a POST body only
when the first piece libmicrohttpd hands over is exactly ``Content-Length`` long ("got a
truncated POST request" otherwise, and ``MHD_NO``, which closes the connection). A chunked
body has no ``Content-Length`` (0), so any non-empty chunked body is refused that way; 3.6
dropped the check and merges the pieces. Measured on a real 3.4.18 (raw socket): the
captured chunked ``uptime`` request, and one split into two chunks, get end of stream (FIN,
no byte) at once (< 1 ms), and the server keeps serving other connections; an empty chunked
body (``0\r\n\r\n``) is answered as any empty body (400, end held back); a
``Content-Length`` body sent in two pieces (headers and 20 bytes, 0.3 s later the rest) is
closed the same way, while headers then the whole body is answered. The simulator reads
whole bodies, so it models the chunked case only: a client that writes each request in one
piece (as ``opensips_mcp``'s MI client does) never meets the split case on loopback.

Commands a version has and 3.6 has not (4.0's ``tcp:close``, ``core:profiling_proc``,
``uac_registrant:upsert``/``delete``) are listed, reached by any of their names and their
params checked against their recipes (:attr:`Persona.new_commands`); then the ones with a
handler (``registry.command(..., since="4.0.1")``) run it: ``core:profiling_proc`` on the
process table (``commands/core.py``) and ``tcp:close`` (``commands/tcp.py``: no connection
is held, so ``null`` or 400), both pinned to a real 4.0.1's answers
(``tests/simulator/test_tcp_close_profiling_fidelity.py``), and ``uac_registrant:upsert``/
``delete`` on the registrants (``commands/uac_registrant.py``, pinned to real 3.6.8 and
4.0.1 answers in ``tests/simulator/test_uac_registrant_fidelity.py``).

Per-version recipes: where a version's captured recipes of a command differ from 3.6's
(3.4's smaller dlg_send_sequential, 4.0's tcp:list ``proto``), requests are matched against
that version's recipes (:attr:`Persona.recipes`).

Not impersonated yet: ``which``/``help`` of one command under a 4.x name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from .errors import METHOD_NOT_FOUND, MIError
from .registry import CommandInfo

VERSIONS = ("3.4.18", "3.6.8", "4.0.1")
DEFAULT = "3.6.8"
AMBIGUOUS = -32001
MHD_READ_BUFFER = 16384
"""The largest request, head and body, any version's httpd answers (libmicrohttpd's read
buffer). Measured with a raw socket: 16,384 bytes answered, one more is closed without an
answer by 3.4.18 (two head sizes) and left unanswered (no byte, no FIN) by 3.6.8 (also with
``receive_buf_size`` 65536) and 4.0.1."""

# 4.0.1 renamed these without keeping the 3.x name (captures/opensips-4.0.1/diff-vs-3.6.md).
RENAMED_4X = {
    "db_berkeley:reload": "bdb_reload", "domain:dump": "domain_dump",
    "domain:reload": "domain_reload", "db_flatstore:rotate": "flat_rotate",
    "nathelper:enable_ping": "nh_enable_ping", "pike:list": "pike_list", "pike:rm": "pike_rm",
    "rtpengine:enable": "rtpengine_enable", "rtpengine:reload": "rtpengine_reload",
    "rtpengine:show": "rtpengine_show", "rtpproxy:enable": "rtpproxy_enable",
    "rtpproxy:reload": "rtpproxy_reload", "rtpproxy:show": "rtpproxy_show",
}  # fmt: skip


@cache
def _facts(version: str) -> dict[str, dict[str, Any]]:
    name = "commands-3.6.json" if version == DEFAULT else f"commands-{version}.json"
    raw = json.loads(resources.files("opensips_sim").joinpath(f"data/{name}").read_text("utf-8"))
    commands: dict[str, dict[str, Any]] = raw["commands"]
    return commands


@dataclass
class Persona:
    """One impersonated version: its names and what they run (see the module docstring)."""

    version: str
    server: str
    which: list[str]
    to_36: dict[str, str] = field(default_factory=dict)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    recipes: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    """3.6 name -> this version's recipes, for the commands whose recipes differ from 3.6's
    (3.4's dlg_send_sequential without ``mode``, 4.0's tcp:list with ``proto``)."""
    new_commands: dict[str, CommandInfo] = field(default_factory=dict)
    """Commands this version offers that 3.6 has not (4.0's ``tcp:close``, ...), by their
    full name: their recipes are checked as OpenSIPS checks them, then they run their
    handler, or answer "Not implemented by opensips-sim" as 3.6 commands without one do."""

    @property
    def closes_chunked_body(self) -> bool:
        """True when a non-empty chunked POST body is closed unanswered (3.4's httpd)."""
        return self.version.startswith("3.4.")

    @property
    def bounds_body(self) -> bool:
        """True for 3.5+: httpd drops a body over ``receive_buf_size`` (answered 400)."""
        return not self.version.startswith("3.4.")

    def segfaults_without_method(self, transport: str) -> str | None:
        """The MI module that segfaults on a parsed request without a string ``method``
        over ``transport`` (a journal ``http_method``), stopping the whole server: mi_fifo
        on every version (its request trace calls ``strlen(NULL)``), mi_datagram from 4.0
        (a profiling name built from it); None where it is answered ``-32600`` (measured on
        3.4.18, 3.6.8 and 4.0.1)."""
        if transport == "FIFO":
            return "mi_fifo"
        if transport in ("UDP", "UNIX") and self.version.startswith("4."):
            return "mi_datagram"
        return None

    @property
    def is_default(self) -> bool:
        """True for 3.6.8: nothing to translate."""
        return self.version == DEFAULT

    def translate(self, method: str) -> str:
        """The 3.6 command ``method`` runs on this version; raises the version's MIError."""
        if self.is_default:
            return method
        if method in self.ambiguous:
            names = ", ".join(self.ambiguous[method])
            raise MIError(AMBIGUOUS, "Method ambiguous", f"supported names: {names}")
        target = self.to_36.get(method)
        if target is None:
            raise MIError(METHOD_NOT_FOUND, "Method not found")
        return target

    def apply(self, scenario: Mapping[str, Any]) -> dict[str, Any]:
        """``scenario`` with this version's server string, ``which`` list and defaults."""
        data = dict(scenario)
        if self.is_default:
            return data
        core = dict(data.get("core") or {})
        core.setdefault("server", self.server)
        core.setdefault("commands", list(self.which))
        core.setdefault("names", dict(self.to_36))
        data["core"] = core
        if self.version.startswith("4."):
            usrloc = dict(data.get("usrloc") or {})
            usrloc.setdefault("use_domain", True)
            data["usrloc"] = usrloc
        return data


@cache
def persona(version: str = DEFAULT) -> Persona:
    """The persona of ``version`` (one of :data:`VERSIONS`)."""
    if version not in VERSIONS:
        raise ValueError(f"--opensips-version must be one of {', '.join(VERSIONS)}")
    server = f"OpenSIPS ({version} (x86_64/linux))"
    facts = _facts(version)
    live = {name: e for name, e in facts.items() if e.get("seen_live")}
    if version == DEFAULT:
        return Persona(version, server, sorted(live))
    facts_36 = _facts(DEFAULT)
    if not version.startswith("4."):
        same = {n: n for n in facts if n in facts_36}
        return Persona(version, server, sorted(live), same, recipes=_recipes(facts, same))
    to_36: dict[str, str] = {}
    new_commands: dict[str, CommandInfo] = {}
    by_local: dict[str, list[str]] = {}
    for name, entry in live.items():
        old = next((a for a in entry.get("aliases", []) if a in facts_36), None)
        old = old or RENAMED_4X.get(name)
        if old is None and entry["local_name"] in facts_36:
            old = entry["local_name"]
        if old is None:  # new in 4.x: recipes checked, then its handler if any, else 501
            new_commands[name] = _info(name, entry)
            old = name
        to_36[name] = old
        by_local.setdefault(entry["local_name"], []).append(name)
    aliases = {a: to_36[n] for n, e in live.items() if n in to_36 for a in e.get("aliases", [])}
    ambiguous: dict[str, list[str]] = {}
    for local, owners in by_local.items():
        if len(owners) == 1:
            to_36.setdefault(local, to_36[owners[0]])
        elif local not in aliases:
            ambiguous[local] = sorted(owners)
    for alias, old in aliases.items():
        to_36.setdefault(alias, old)
    return Persona(
        version, server, sorted(live), to_36, ambiguous, _recipes(live, to_36), new_commands
    )


def _info(name: str, entry: Mapping[str, Any]) -> CommandInfo:
    """A command new in this version, from its captured facts."""
    flags = str(entry.get("flags") or "")
    return CommandInfo(
        name=name,
        module=str(entry["module"]),
        recipes=tuple(tuple(r) for r in entry["recipes"]),
        help=str(entry.get("help", "")),
        seen_live=True,
        flags=tuple(flags.split("|")) if flags else (),
    )


def _recipes(
    facts: Mapping[str, Mapping[str, Any]], to_36: Mapping[str, str]
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """3.6 name -> the version's recipes, where the version's captured recipes of a
    command differ from 3.6's (as sets: the order is 3.6's where they agree)."""
    facts_36 = _facts(DEFAULT)
    differ: dict[str, tuple[tuple[str, ...], ...]] = {}
    for name, entry in facts.items():
        old = to_36.get(name)
        if old is None or old not in facts_36:
            continue
        mine = tuple(tuple(r) for r in entry["recipes"])
        if {frozenset(r) for r in mine} != {frozenset(r) for r in facts_36[old]["recipes"]}:
            differ[old] = mine
    return differ
