"""JSON-RPC 2.0 framing for OpenSIPS MI: request bytes out, reply bytes in. No I/O here."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "MAX_ID",
    "IdSequence",
    "Params",
    "ReplyError",
    "ReplyProblem",
    "ReplyResult",
    "decode_reply",
    "encode_request",
    "unreadable_value",
]

# OpenSIPS echoes ids >= 2**31 as 2147483647, so larger ids could not be matched.
MAX_ID = 2**31 - 1

Params: TypeAlias = Mapping[str, Any] | Sequence[Any] | None


class IdSequence:
    """Increasing request ids ``start, start+1, ... MAX_ID, 1, 2, ...``."""

    def __init__(self, start: int = 1) -> None:
        if not 1 <= start <= MAX_ID:
            raise ValueError(f"start must be in [1, {MAX_ID}], got {start}")
        self._next = start

    def next(self) -> int:
        """The next id to use."""
        current = self._next
        self._next = 1 if current >= MAX_ID else current + 1
        return current


def encode_request(method: str, params: Params, request_id: int) -> bytes:
    """The JSON body of one MI request, as bytes.

    ``params`` None omits the member; a mapping gives named parameters, any other
    sequence positional ones. Raises `TypeError` for a ``method`` that is not a ``str``
    (see `opensips_mcp.mi.fifo`: OpenSIPS crashes on one), a ``str``/``bytes`` ``params`` or
    values JSON cannot hold, `ValueError` for NaN or infinities.

    Members in the order ``jsonrpc``, ``method``, ``params``, ``id``; compact ASCII JSON.
    The start up to the method is built once per method name (one MI client calls few).
    """
    head = _HEADS.get(method)
    if head is None:
        if type(method) is not str:
            # a request without a string method segfaults mi_fifo (and 4.0's mi_datagram)
            raise TypeError(f"method must be a str, not {type(method).__name__}")
        head = b'{"jsonrpc":"2.0","method":' + _encode(method).encode("ascii")
        if len(_HEADS) < _MAX_HEADS:
            _HEADS[method] = head
    if params is None:
        return b'%s,"id":%d}' % (head, request_id)
    if isinstance(params, Mapping):
        encoded = _encode(dict(params))
    elif isinstance(params, str | bytes | bytearray) or not isinstance(params, Sequence):
        raise TypeError(f"params must be a mapping, a sequence or None, not {type(params)}")
    else:
        encoded = _encode(list(params))
    return b'%s,"params":%s,"id":%d}' % (head, encoded.encode("ascii"), request_id)


_UNREADABLE = re.compile("[\x00\ud800-\udfff]")


ARRAY_PARAMS = frozenset(
    {
        "DID",
        "attrs",
        "cmd_params",
        "configs",
        "context",
        "events",
        "filter",
        "headers",
        "number",
        "params",
        "statistics",
        "values",
    }
)
"""Every parameter name OpenSIPS 3.4.18 to 4.0.1 ever reads as an array
(``get_mi_array_param``, ``try_get_mi_array_param`` in their sources)."""


def unreadable_value(params: Any, names: Sequence[str]) -> str | None:
    """What in ``params`` OpenSIPS cannot read, as a clause for an error, or None;
    ``names``: the recipe's parameter names, by position for positional ``params``.

    Text: OpenSIPS's JSON parser (cJSON) refuses ``\\u0000`` (its strings end at NUL) and a
    lone UTF-16 surrogate in any string, names included (real 3.4.18, 3.6.8 and 4.0.1:
    mi_http answers ``-32700``, mi_datagram ``400 Parse_error``, mi_fifo nothing at all).

    Types: OpenSIPS reads every MI parameter through ``get_mi_string_param``/``int_param``
    (a string or a number) or, for the names in `ARRAY_PARAMS`, ``get_mi_array_param`` (an
    array of strings or numbers). Anything else (``true``, ``null``, an object, an array
    elsewhere or nested) is a "Bad type" answer at best: ``ul_rm_contact`` reads its
    ``contact`` while holding usrloc's lock and returns without releasing it, so such a
    contact for an existing AOR wedges usrloc and, behind it, the MI process for good
    (3.4.18 to 4.0.1; measured on 3.6.8). Either way the request is better not sent.
    """
    pairs = params.items() if isinstance(params, Mapping) else zip(names, params, strict=False)
    for name, value in pairs:
        if (bad := _unparsable(name)) is not None:
            return f"a parameter name holds {bad}, {_PARSER_REFUSES}"
        if isinstance(value, list) and name not in ARRAY_PARAMS:
            return f"'{name}' is an array, {_TYPES_READ}"
        for item in value if isinstance(value, list) else [value]:
            of = f"an item of '{name}'" if isinstance(value, list) else f"'{name}'"
            if not _scalar(item):
                return f"{of} is {_kind(item)}, {_TYPES_READ}"
            if (bad := _unparsable(item)) is not None:
                return f"{of} holds {bad}, {_PARSER_REFUSES}"
    return None


_PARSER_REFUSES = (
    "which OpenSIPS's JSON parser refuses (mi_http answers a parse error, mi_fifo nothing at "
    "all), so the command could never run; remove that character"
)


def _unparsable(value: Any) -> str | None:
    """The character of ``value`` cJSON refuses, described, or None."""
    found = _UNREADABLE.search(value) if isinstance(value, str) else None
    if found is None:
        return None
    char = found.group()
    return (
        "the NUL character (U+0000)" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"
    )


_TYPES_READ = (
    "and OpenSIPS's MI reads only strings and numbers (arrays of them only for "
    + ", ".join(sorted(ARRAY_PARAMS, key=str.lower))
    + "); anything else is refused at best, and some commands (ul_rm_contact) then leave a "
    "lock held and stop the MI; give a string or a number"
)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_decode = json.JSONDecoder().decode
_HEADS: dict[str, bytes] = {}
_MAX_HEADS = 4096


@dataclass(frozen=True, slots=True)
class ReplyResult:
    """A successful JSON-RPC reply: its ``result`` member."""

    result: Any


@dataclass(frozen=True, slots=True)
class ReplyError:
    """A JSON-RPC reply carrying an ``error`` object."""

    code: int
    message: str
    data: Any = None


class ReplyProblem(Exception):
    """The body is not a JSON-RPC reply to our request.

    ``kind`` is ``"malformed"`` (not JSON), ``"not_jsonrpc"`` or ``"wrong_id"``.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


def decode_reply(body: bytes, request_id: int) -> ReplyResult | ReplyError:
    """Decode the body of an HTTP 200 reply to the request with ``request_id``.

    An ``error`` reply with ``"id": null`` is accepted: JSON-RPC uses it when the server
    could not read the request's id (parse error, invalid request).
    """
    try:
        reply = _decode(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReplyProblem("malformed", f"body is not JSON ({exc.__class__.__name__})") from exc
    if not isinstance(reply, dict) or reply.get("jsonrpc") != "2.0":
        raise ReplyProblem("not_jsonrpc", "not a JSON-RPC 2.0 object")
    has_result, has_error = "result" in reply, "error" in reply
    if has_result == has_error:
        raise ReplyProblem("not_jsonrpc", "needs exactly one of 'result' and 'error'")
    reply_id = reply.get("id")
    id_matches = _is_int(reply_id) and reply_id == request_id
    if has_result:
        if not id_matches:
            raise ReplyProblem("wrong_id", f"reply id {reply_id!r}, request id {request_id}")
        return ReplyResult(reply["result"])
    if not (id_matches or reply_id is None):
        raise ReplyProblem("wrong_id", f"reply id {reply_id!r}, request id {request_id}")
    error = reply["error"]
    if not (
        isinstance(error, dict)
        and _is_int(error.get("code"))
        and isinstance(error.get("message"), str)
    ):
        raise ReplyProblem("not_jsonrpc", "'error' is not an object with code and message")
    return ReplyError(error["code"], error["message"], error.get("data"))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
