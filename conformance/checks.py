"""Checks shared by the properties: one gated call, judged at the server and in the audit."""

from __future__ import annotations

from typing import Any

from hypothesis import note
from hypothesis.control import currently_in_test_context

from conformance.harness import McpSession, SimControl, ToolOutcome
from conformance.oracle import LEVEL_DISAGREEMENTS, ROLE_LEVELS, Expectation, expect
from conformance.strategies import MICall
from conformance.versions import target_catalog

#: The simulator's answer to a command it offers but does not implement (nothing ran).
NOT_IMPLEMENTED = 501


def say(text: str) -> None:
    """Note ``text`` for the failure report: hypothesis prints it with the shrunk example;
    outside a property, pytest shows it with the failing test's output."""
    if currently_in_test_context():
        note(text)
    else:
        print(text)


def own_requests(entries: list[dict[str, Any]], command: str) -> list[dict[str, Any]]:
    """The journal entries of ``command`` itself (not the server's ``which`` / ``version``
    look-ups), under any of its names (4.x is sent ``module:name``)."""
    catalog = target_catalog()

    def own(method: object) -> bool:
        if method == command:
            return True
        entry = catalog.get(method) if isinstance(method, str) else None
        return entry is not None and entry.name == command

    return [e for e in entries if own(e.get("method"))]


def gated_call(
    session: McpSession, control: SimControl | None, call: MICall
) -> tuple[Expectation, ToolOutcome, dict[str, Any], list[dict[str, Any]] | None]:
    """Make one call; answer the expectation, the outcome, its one audit record, and the
    journal entries it caused (``None`` without a control API).

    Asserts what holds for every call: exactly one new audit record.
    """
    exp = expect(call.command, call.params)
    session.audit.new_lines()
    mark = control.mark() if control is not None else 0
    outcome = session.call("mi_execute", call.arguments())
    records = session.audit.new_records()
    entries = control.since(mark) if control is not None else None
    say(f"{session.role.value}: {call} -> {outcome.code or 'ok'}")
    say(f"expected: level={exp.level} refusal={exp.refusal} (catalog: {exp.catalog_level})")
    if entries is not None:
        shown = [(e["method"], e["level"], e["fault"], e["outcome"]) for e in entries]
        say(f"journal: {shown}")
    assert len(records) == 1, f"{len(records)} audit records for one tool call"
    return exp, outcome, records[0], entries


def check_permission(session: McpSession, control: SimControl | None, call: MICall) -> None:
    """The call is allowed iff the role's levels include the expected level; a refused or
    denied call sends nothing and is audited as such; an allowed call reaches the target
    once, at a level (as the simulator classifies it) the role may use."""
    role = session.role.value
    exp, outcome, record, entries = gated_call(session, control, call)
    if exp.refusal is not None:
        assert outcome.code == exp.refusal, f"expected {exp.refusal}, got {outcome.code}"
        assert (record["decision"], record["outcome"]) == ("deny", "error")
        if entries is not None:
            assert own_requests(entries, exp.command) == [], "a refused call reached the target"
            assert {e["method"] for e in entries} <= {"which"}
            assert record["mi_attempts"] == len(entries)
        return
    if not exp.allowed_for(role):
        assert outcome.code == "permission_denied", (
            f"{role} must be denied a {exp.level} call, got {outcome.code or 'success'}"
        )
        assert (record["decision"], record["outcome"]) == ("deny", "denied")
        assert record["level"] == exp.level
        assert record["mi_attempts"] == 0
        if entries is not None:
            assert entries == [], "a denied call reached the target"
        return
    if exp.heavy and role != "admin":
        assert outcome.code == "too_heavy", f"{role} must be refused a heavy call, got {outcome}"
        assert (record["decision"], record["outcome"], record["mi_attempts"]) == (
            "deny",
            "error",
            0,
        )
        if entries is not None:
            assert own_requests(entries, exp.command) == [], "a heavy call reached the target"
        return
    assert outcome.code != "permission_denied", f"{role} must be allowed a {exp.level} call"
    assert record["decision"] == "allow"
    assert record["level"] == exp.level, f"audited level {record['level']}, expected {exp.level}"
    if entries is None:
        return
    sent = own_requests(entries, exp.command)
    assert len(sent) == 1, f"an allowed call reached the target {len(sent)} times"
    assert record["mi_attempts"] == len(entries)
    journal_level_within_role(role, sent)


def journal_level_within_role(role: str, sent: list[dict[str, Any]]) -> None:
    """The simulator's own level for each request is one the role may use (oracle (a))."""
    for entry in sent:
        level = entry.get("level")
        if level is None or entry.get("error_code") == NOT_IMPLEMENTED:
            continue
        if entry.get("method") in LEVEL_DISAGREEMENTS:
            continue
        assert level in ROLE_LEVELS[role], (
            f"the simulator classifies {entry['method']} {entry.get('recipe')} as {level}, "
            f"which a {role} may not run, yet the server sent it"
        )
