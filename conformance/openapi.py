"""An OpenAPI 3.0 description of the MI endpoint, generated from the catalog.

One operation per command: ``POST /mi/{command}`` (mi_http serves ``/mi`` and every path
below it the same way, so distinct paths can each hold one POST). The request body is a
JSON-RPC 2.0 request for that command whose ``params`` is ``oneOf`` the command's recipes,
each an object with exactly the recipe's names. The answer is HTTP 200 with a JSON-RPC
response: a ``result``, or an ``error`` with an integer ``code`` and a ``message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opensips_mcp.catalog import CatalogEntry

#: A parameter value: the MI core accepts strings and numbers where either is expected;
#: short arrays reach the commands that take lists (and the type checks of the others).
VALUE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": 24},
        {"type": "integer", "minimum": -5, "maximum": 100000},
        {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
    ]
}

RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["jsonrpc", "id"],
    "properties": {
        "jsonrpc": {"type": "string", "enum": ["2.0"]},
        "id": {"type": "integer"},
        "result": {},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "data": {},
            },
        },
    },
    "oneOf": [{"required": ["result"]}, {"required": ["error"]}],
}


def recipe_schema(names: Iterable[str]) -> dict[str, Any]:
    """An object with exactly ``names``, each a parameter value."""
    names = list(names)
    return {
        "type": "object",
        "properties": {name: VALUE_SCHEMA for name in names},
        "required": names,
        "additionalProperties": False,
    }


def request_schema(entry: CatalogEntry) -> dict[str, Any]:
    """The JSON-RPC request body for ``entry``."""
    return {
        "type": "object",
        "required": ["jsonrpc", "method", "id", "params"],
        "additionalProperties": False,
        "properties": {
            "jsonrpc": {"type": "string", "enum": ["2.0"]},
            "method": {"type": "string", "enum": [entry.name]},
            "id": {"type": "integer", "minimum": 0, "maximum": 2147483647},
            "params": {"oneOf": [recipe_schema(r.params) for r in entry.recipes]},
        },
    }


def operation(entry: CatalogEntry) -> dict[str, Any]:
    """The ``post`` operation of ``/mi/{entry.name}``."""
    return {
        "operationId": entry.name,
        "summary": entry.summary or entry.name,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": request_schema(entry)}},
        },
        "responses": {
            "200": {
                "description": "A JSON-RPC response (errors are answered with HTTP 200 too)",
                "content": {"application/json": {"schema": RESPONSE_SCHEMA}},
            }
        },
    }


def mi_openapi(entries: Iterable[CatalogEntry], base_url: str) -> dict[str, Any]:
    """The OpenAPI document for ``entries``, served at ``base_url`` (``http://host:port``)."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "OpenSIPS MI (mi_http), from the opensips-mcp catalog", "version": "3.6"},
        "servers": [{"url": base_url}],
        "paths": {f"/mi/{e.name}": {"post": operation(e)} for e in entries if e.recipes},
    }
