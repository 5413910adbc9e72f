"""Property 5, wire: the MI endpoint speaks JSON-RPC 2.0 exactly as mi_http does, for
every command of the catalog, with schemathesis generating the requests from an OpenAPI
description built from the catalog (``openapi.py``).

Positive cases follow the schema (a recipe's exact names); negative cases break it (other
names, wrong types, a broken envelope, bytes that are not JSON). With faults off:

* the answer is HTTP 200 with one JSON-RPC response: ``jsonrpc`` 2.0, the request's ``id``,
  exactly one of ``result`` / ``error`` (``code`` an integer, ``message`` a string);
* except where mi_http itself differs, as measured: no ``id`` (a notification) -> 202 with
  an empty body; an ``id`` that is an object, an array or a boolean -> 500, empty body;
* invalid params are always ``-32602`` with a ``data`` string saying why: a request for
  an offered command whose names match none of its recipes gets exactly that.

On an external target only positive cases of read-only commands are sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conformance.harness import Harness, SimControl, Target
from conformance.openapi import mi_openapi
from conformance.oracle import NEVER_SEND, expect
from conformance.profiles import scaled
from conformance.strategies import BLOCKS_A_LAB, CATALOG, SCALARS
from opensips_mcp.catalog import CatalogEntry

SCHEMA_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NOT_FOUND = -32601
INVALID_PARAMS = -32602
ENVELOPE = frozenset({"jsonrpc", "method", "id", "params"})
HTTP_TIMEOUT = 10.0


def base_url(target: Target) -> str:
    """``http://host:port`` of the MI endpoint."""
    return target.mi_url.rsplit("/mi", 1)[0]


def wire_entries(target: Target) -> list[CatalogEntry]:
    """The commands to generate requests for (read-only ones on an external target), each
    under the name the target's version answers to (4.x: ``module:name``; a bare 3.x name
    may be ambiguous or gone there)."""
    entries = [e for e in CATALOG.entries() if e.recipes and e.name not in NEVER_SEND]
    if target.is_external:
        entries = [e for e in entries if e.name not in BLOCKS_A_LAB]
        entries = [
            e
            for e in entries
            if all(expect(e.name, {n: "" for n in r.params}).is_read for r in e.recipes)
        ]
    return [replace(e, name=CATALOG.send_name(e)) for e in entries]


def _unprintable_id(value: Any) -> bool:
    return isinstance(value, bool | dict | list)


def check_answer(entry: CatalogEntry, case: Any, response: Response, offered: bool) -> None:
    """The JSON-RPC conformance of one answer (see the module docstring); ``offered``:
    the endpoint's ``which`` lists the command."""
    body: Any = case.body
    note(f"POST {case.path}: {body!r:.300} -> {response.status_code} {response.text[:300]!r}")
    if isinstance(body, dict) and "id" in body and _unprintable_id(body["id"]):
        assert (response.status_code, response.content) == (500, b""), "mi_http: 500, no body"
        return
    if isinstance(body, dict) and "id" not in body and response.status_code == 202:
        assert response.content == b"", "a notification's 202 has no body"
        return
    assert response.status_code == 200, f"HTTP {response.status_code}"
    answer = response.json()
    assert isinstance(answer, dict) and answer.get("jsonrpc") == "2.0", "not a JSON-RPC answer"
    assert ("result" in answer) != ("error" in answer), "exactly one of result and error"
    if isinstance(body, dict) and isinstance(body.get("id"), int | str):
        ident = body["id"]
        if isinstance(ident, str) or -(2**31) <= ident < 2**31:
            assert answer.get("id") == ident, "the id is not echoed"
    error = answer.get("error")
    if error is not None:
        assert isinstance(error.get("code"), int), "error code not an integer"
        assert isinstance(error.get("message"), str), "error message not a string"
        if error["code"] == INVALID_PARAMS:
            assert isinstance(error.get("data"), str) and error["data"], "-32602 without a reason"
    if _params_match_no_recipe(entry, body):
        expected = (INVALID_PARAMS,) if offered else (NOT_FOUND, INVALID_PARAMS)
        assert error is not None and error["code"] in expected, (
            f"params {sorted(body['params'])} match no recipe of {entry.name}, yet {answer}"
        )


def _params_match_no_recipe(entry: CatalogEntry, body: Any) -> bool:
    if not isinstance(body, dict) or not set(body) <= ENVELOPE:
        return False
    if body.get("jsonrpc") != "2.0" or body.get("method") != entry.name:
        return False
    if "id" not in body or _unprintable_id(body["id"]):
        return False
    params = body.get("params")
    if not isinstance(params, dict) or not params:
        return False
    return all(frozenset(params) != frozenset(r.params) for r in entry.recipes)


MISMATCH = "mismatched names"


def mismatched_params(entry: CatalogEntry) -> st.SearchStrategy[dict[str, Any]]:
    """Params whose names (drawn from the command's own and a few others) match no recipe."""
    names = sorted({n for r in entry.recipes for n in r.params} | {"bogus", "x"})
    recipes = {frozenset(r.params) for r in entry.recipes}
    return (
        st.sets(st.sampled_from(names), min_size=1, max_size=4)
        .filter(lambda chosen: frozenset(chosen) not in recipes)
        .flatmap(lambda chosen: st.fixed_dictionaries({n: SCALARS for n in sorted(chosen)}))
    )


def run_operation(
    operation: Any,
    entry: CatalogEntry,
    mode: GenerationMode | str,
    url: str,
    examples: int,
    offered: bool,
) -> None:
    """Generate ``examples`` requests for one operation and check every answer.

    ``mode``: schemathesis's positive or negative generation, or :data:`MISMATCH`
    (a positive case whose params are replaced by names that match no recipe).
    """
    generation = GenerationMode.POSITIVE if mode == MISMATCH else mode
    assert isinstance(generation, GenerationMode)

    @settings(max_examples=examples, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=generation), data=st.data())
    def one_operation(case: Any, data: st.DataObject) -> None:
        if mode == MISMATCH:
            case.body["params"] = data.draw(mismatched_params(entry), label="params")
        response = case.call(base_url=url, timeout=HTTP_TIMEOUT)
        if mode is GenerationMode.POSITIVE:
            case.validate_response(response, checks=SCHEMA_CHECKS)
        check_answer(entry, case, response, offered)

    one_operation()


def operations(target: Target) -> Iterator[tuple[Any, CatalogEntry]]:
    """The schema's operations with their catalog entries."""
    entries = {e.name: e for e in wire_entries(target)}
    schema = schemathesis.openapi.from_dict(mi_openapi(entries.values(), base_url(target)))
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        yield operation, entries[operation.path.rsplit("/", 1)[1]]


def offered_commands(target: Target) -> frozenset[str]:
    """The commands the endpoint's ``which`` lists."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": "which", "id": 1}
    answer = requests.post(target.mi_url, json=body, timeout=HTTP_TIMEOUT).json()
    names = answer.get("result")
    assert isinstance(names, list), f"which answered {answer}"
    return frozenset(str(n) for n in names)


@pytest.fixture
def quiet_wire(target: Target) -> Iterator[SimControl | None]:
    """Faults off; on the simulator also no held-back empty bodies (mi_http quirk 2),
    which a client that waits for bodies would sit out until the idle timeout."""
    control = target.control
    if control is None:
        yield None
        return
    control.reset()
    before = control.settings()
    control.set_settings({"quirks": False})
    try:
        yield control
    finally:
        control.set_settings({"quirks": before["quirks"]})
        control.reset()


@pytest.mark.timeout(300)
def test_every_command_answers_valid_json_rpc_and_invalid_params_with_32602(
    harness: Harness, target: Target, quiet_wire: SimControl | None
) -> None:
    """For requests generated from every command's recipes, and requests that break them,
    the endpoint never answers 5xx (but where mi_http does), never breaks JSON-RPC, and
    answers params that match no recipe with -32602 and a reason."""
    url = base_url(target)
    offered = offered_commands(target)
    modes: list[GenerationMode | str] = [GenerationMode.POSITIVE, MISMATCH]
    if not target.is_external:
        modes.append(GenerationMode.NEGATIVE)
    checked = 0
    for operation, entry in operations(target):
        live = entry.name in offered
        for mode in modes:
            examples = scaled(3 if live else 1) if mode is GenerationMode.POSITIVE else scaled(1)
            run_operation(operation, entry, mode, url, examples, live)
            checked += 1
    assert checked >= len(modes)


@pytest.mark.needs_writes("kill is an admin command, even with params that fail validation")
def test_kill_is_only_sent_with_params_that_fail_validation(
    target: Target, quiet_wire: SimControl | None
) -> None:
    """``kill`` (left out of generation: it would stop the target) answers a request whose
    names match no recipe with -32602 and a reason, and stops nothing."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": "kill", "id": 7, "params": {"now": 1}}
    response = requests.post(target.mi_url, json=body, timeout=HTTP_TIMEOUT)
    answer = json.loads(response.text)
    assert response.status_code == 200
    assert answer["error"]["code"] == INVALID_PARAMS
    assert isinstance(answer["error"].get("data"), str) and answer["error"]["data"]
    alive = requests.post(
        target.mi_url, json={"jsonrpc": "2.0", "method": "uptime", "id": 8}, timeout=HTTP_TIMEOUT
    )
    assert "result" in alive.json()
