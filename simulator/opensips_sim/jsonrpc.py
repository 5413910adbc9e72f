"""JSON-RPC framing exactly as OpenSIPS's ``mi/mi.c`` (cJSON) does it.

* The body is parsed as one JSON value after leading whitespace; anything after it is
  ignored (``{"id":1} xyz`` is accepted). ``NaN``/``Infinity`` are not JSON for cJSON.
* Members are looked up case-insensitively, first occurrence wins (``cJSON_GetObjectItem``).
* The request is invalid (``-32600``) when ``jsonrpc`` is not the string ``"2.0"``, ``method``
  is not a string, ``params`` is neither array nor object, or ``id`` is not null, number or
  string. A top-level array (batch) or scalar has none of these members: invalid, id null.
* ``{}``/``[]`` params count as no params; every member counts, duplicate names included.
* A string or name holding ``\\u0000`` or a lone UTF-16 surrogate is a parse error (cJSON).
* Without ``id`` (a notification) the call runs and gets no answer, except that parse
  errors and invalid requests are answered (with ``"id": null``).
* An ``id`` of the wrong type cannot be echoed: printing the answer fails, and mi_http then
  answers HTTP 500 with an empty body.
* A numeric ``id`` is echoed as its C ``int`` (``1.5`` -> ``1``, ``2**40`` -> ``2147483647``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import INVALID_REQUEST, PARSE_ERROR, MIError
from .params import c_valueint

_ABSENT = object()


class _Object(dict[str, Any]):
    """A JSON object that also remembers its members in order (duplicates included)."""

    pairs: list[tuple[str, Any]]


def _object_hook(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    for key, value in pairs:
        obj.setdefault(key, value)
    obj.pairs = pairs
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_object_hook, parse_constant=_refuse_constant)


def _member(obj: Any, name: str) -> Any:
    """``cJSON_GetObjectItem``: case-insensitive, first match; ``_ABSENT`` when missing."""
    if not isinstance(obj, _Object):
        return _ABSENT
    for key, value in obj.pairs:
        if key.lower() == name:
            return value
    return _ABSENT


@dataclass
class Request:
    """A parsed MI request body."""

    parsed: bool
    invalid: bool = False
    has_id: bool = False
    id: Any = None
    method: str | None = None
    params: dict[str, Any] | list[Any] | None = None
    raw: Any = field(default=None, repr=False)

    @property
    def notification(self) -> bool:
        """No ``id`` member: the call runs but is not answered."""
        return self.parsed and not self.has_id

    @property
    def id_printable(self) -> bool:
        """False when the ``id`` is of a type OpenSIPS cannot echo (object, array, bool)."""
        return not self.has_id or _printable_id(self.id)


def _printable_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return value is None or isinstance(value, int | float | str)


_UNREADABLE = re.compile("[\x00\ud800-\udfff]")


def _cjson_readable(value: Any) -> bool:
    """False when a string or member name holds ``\\u0000`` or a lone UTF-16 surrogate:
    cJSON refuses both (parse error on real 3.4.18, 3.6.8 and 4.0.1)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNREADABLE.search(item):
                return False
        elif isinstance(item, _Object):
            for key, member in item.pairs:
                stack.append(key)
                stack.append(member)
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _first_value(body: bytes, errors: str) -> tuple[Any, str, int] | None:
    """cJSON's reading of ``body``: up to a NUL, white space skipped, one JSON value;
    ``(value, text, end)`` (``end`` in ``text``), or None when it does not parse."""
    text = body.split(b"\0", 1)[0].decode("utf-8", errors=errors)
    start = 0
    while start < len(text) and text[start] <= " ":
        start += 1
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    return value, text, end


def parse(body: bytes) -> Request:
    """Parse a request body the way ``parse_mi_request`` does."""
    found = _first_value(body, "replace")
    if found is None:
        return Request(parsed=False)
    value = found[0]
    if not _cjson_readable(value):
        return Request(parsed=False)
    request = Request(parsed=True, raw=value)
    ident = _member(value, "id")
    if ident is not _ABSENT:
        request.has_id = True
        request.id = ident
        if not _printable_id(ident):
            request.invalid = True
    version = _member(value, "jsonrpc")
    if version != "2.0" or not isinstance(version, str):
        request.invalid = True
    method = _member(value, "method")
    if isinstance(method, str):
        request.method = method
    else:
        request.invalid = True
    params = _member(value, "params")
    if params is not _ABSENT:
        if isinstance(params, _Object):
            request.params = params if params.pairs else None  # duplicates: member_count
        elif isinstance(params, list):
            request.params = params or None
        else:
            request.invalid = True
    return request


def member_count(params: Mapping[str, Any] | list[Any]) -> int:
    """How many params OpenSIPS counts: every member of a JSON object, duplicate names
    included (``{"a":1,"a":2}`` is two params: no one-param recipe matches it)."""
    if isinstance(params, _Object):
        return len(params.pairs)
    return len(params)


def value_end(data: bytes) -> int | None:
    """Where the JSON value at the start of ``data`` (after white space) ends, in bytes, as
    cJSON's ``parse_end``; None when cJSON could not parse one (mi_fifo's framing)."""
    found = _first_value(data, "surrogateescape")  # byte for byte: the offset is exact
    if found is None:
        return None
    _value, text, end = found
    size = len(text[:end].encode("utf-8", errors="surrogateescape"))
    return size if parse(data[:size]).parsed else None  # escapes cJSON refuses


def echo_id(value: Any) -> Any:
    """The ``id`` as OpenSIPS prints it back (numbers through C ``int``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return c_valueint(value)
    return value


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def result_body(result: Any, ident: Any) -> bytes:
    """``{"jsonrpc":"2.0","result":...,"id":...}`` as cJSON prints it (compact)."""
    return _dump({"jsonrpc": "2.0", "result": result, "id": echo_id(ident)})


def error_body(error: MIError, ident: Any) -> bytes:
    """``{"jsonrpc":"2.0","error":{...},"id":...}``."""
    return _dump({"jsonrpc": "2.0", "error": error.to_json(), "id": echo_id(ident)})


def envelope_error(request: Request) -> MIError | None:
    """The error the envelope alone causes (parse error, invalid request), if any."""
    if not request.parsed:
        return MIError(PARSE_ERROR, "Parse error")
    if request.invalid:
        return MIError(INVALID_REQUEST, "Invalid Request")
    return None
