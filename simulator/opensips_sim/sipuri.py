"""Whether OpenSIPS's ``parse_uri`` (``parser/parse_uri.c``) takes a URI, approximately.

The real parser is a state machine of some 1,500 lines; this keeps the rules that decide
the URIs an MI client sends (measured with ``ul_add`` on a real 3.6.8, whose contact must
parse, 2026-12-05):

* at least 5 characters, and a scheme ``sip:``, ``sips:`` or ``tel:`` (any case); ``tels:``,
  ``urn:``, ``http:``, ``<sip:...>`` and bare ``user@host`` are refused;
* ``sip``/``sips``: a user name before ``@`` (and before a ``:password``) is not empty, a
  host is not empty, host and port hold no ``&`` or ``@``, a port is digits up to 65,535; an
  IPv6 host is bracketed (``[]`` passes); parameters and headers after ``;``/``?`` are not
  checked; the user part may hold spaces (OpenSIPS is lenient there).
"""

from __future__ import annotations

_SCHEMES = ("sip:", "sips:", "tel:")
_MAX_PORT = 65_535


def parses(uri: str) -> bool:
    """True when OpenSIPS's ``parse_uri`` would take ``uri`` (see the module docstring)."""
    if len(uri) < 5:
        return False
    lower = uri[:5].lower()
    scheme = next((s for s in _SCHEMES if lower.startswith(s)), None)
    if scheme is None:
        return False
    rest = uri[len(scheme) :]
    if scheme == "tel:":
        return bool(rest)
    return _sip_rest(rest)


def _sip_rest(rest: str) -> bool:
    end = len(rest)
    for mark in ("?",):
        cut = rest.find(mark)
        if cut >= 0:
            end = min(end, cut)
    head = rest[:end]
    user, at, hostpart = head.partition("@")
    if not at:
        hostpart, user = head, ""
    elif not user.split(":", 1)[0] or "@" in hostpart:
        return False
    hostport = hostpart.split(";", 1)[0]
    if "&" in hostport:
        return False
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            return False
        host, tail = hostport[: close + 1], hostport[close + 1 :]
        if tail and not tail.startswith(":"):
            return False
        port = tail[1:] if tail else None
    else:
        host, colon, port_text = hostport.partition(":")
        port = port_text if colon else None
    if not host:
        return False
    if port is not None and port != "":
        return port.isdigit() and int(port) <= _MAX_PORT
    return True


def host_port(uri: str) -> str | None:
    """``host:port`` of a ``sip:``/``sips:`` URI (port 5060 when absent), None when it has
    no host. An IPv6 host keeps its brackets."""
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme.lower() not in ("sip", "sips"):
        return None
    rest = rest.split(";", 1)[0].split("?", 1)[0].rpartition("@")[2]
    host, _, port = rest.rpartition(":") if rest.count(":") == 1 else (rest, "", "")
    if not host or (port and not port.isdigit()):
        return None
    return f"{host}:{port or 5060}"
