"""4.0's ``tcp:close`` (``net/net_tcp.c`` ``mi_tcp_close_conn``/``tcp_close_connection``).

The simulator holds no TCP connection (``tcp:list`` has no handler either), so a well-formed
``ipport`` matches none and answers ``null``, as the real 4.0.1 lab answers an unknown
connection; one OpenSIPS cannot parse answers ``400 "Bad tcp connection"``. Measured on a
real 4.0.1 lab (``tests/simulator/real_4.0.1_tcp_close_profiling.json``):

* a connection ID (digits only, no ``:``): ``null``; anything else without ``:`` is 400;
* ``[proto:]host:port``: host an IPv4 or a bracketed IPv6 address (a name is 400), port
  digits above 0; a ``proto`` must be TCP based and loaded: the lab loads ``proto_tls`` and
  ``proto_bin`` (not ``proto_tcp``, ``proto_wss``), and ``ws`` always counts
  (``net/trans.h`` ``is_tcp_based_proto``); any other is 400.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ..errors import MIError
from ..params import Params
from ..registry import CallContext, command

BAD_CONNECTION = MIError(400, "Bad tcp connection")
TCP_BASED_LOADED = frozenset({"tls", "bin", "ws"})  # the lab's, case-insensitive
_IPPORT = re.compile(r"(?:(?P<proto>[A-Za-z_]+):)?(?P<host>\[[^\]]*\]|[^:\[\]]+):(?P<port>\d+)")


def _is_ip(host: str) -> bool:
    try:
        if host.startswith("["):
            ipaddress.IPv6Address(host[1:-1])
        else:
            ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def parses(ipport: str) -> bool:
    """True when OpenSIPS 4.0.1 parses ``ipport`` as a connection ID or ``[proto:]ip:port``
    whose proto is TCP based and loaded (then it looks the connection up)."""
    if ":" not in ipport:
        return ipport.isascii() and ipport.isdigit()
    match = _IPPORT.fullmatch(ipport)
    if match is None or int(match["port"]) <= 0 or not _is_ip(match["host"]):
        return False
    proto = match["proto"]
    return proto is None or proto.lower() in TCP_BASED_LOADED


@command("tcp:close", level="destructive", since="4.0.1")
def tcp_close(ctx: CallContext, params: Params) -> Any:
    """Close a TCP connection by ID or address: none is held, so ``null`` (or 400)."""
    if not parses(params.text("ipport")):
        raise BAD_CONNECTION
    return None
