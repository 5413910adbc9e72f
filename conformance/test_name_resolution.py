"""Property 9, name resolution: any accepted name of a command has the same level and
reaches the same command.

For the OpenSIPS version under test (``OPENSIPS_CONFORMANCE_VERSION``: the simulator
impersonates it, or the real server runs it), a command, one of its recipes with values
and a role are drawn; then the same call is made under every name of the command
(:mod:`conformance.names`: 3.x name, 4.x ``module:name``, aliases, unique local names):

* the decision is the same for every name: allowed or refused, with the same error code,
  the same audited level, and the level the suite's oracle expects;
* when allowed, exactly one request of the command reaches the target, under the
  version's own name (4.x: ``module:name``, never an ambiguous bare name), whatever name
  the caller used;
* under any name of a command the version lacks (a command of another version), the
  call gets one refusal for every name and nothing is sent; a 4.x local name several
  commands share is refused as ambiguous and nothing is sent.

Against a real OpenSIPS, only viewer reads are sent unless
``OPENSIPS_CONFORMANCE_ALLOW_WRITES=1``; the journal is the fault proxy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from conformance.checks import gated_call, journal_level_within_role, own_requests
from conformance.harness import Harness, Target
from conformance.names import CommandNames, ambiguous_in, names_in
from conformance.oracle import CARRIERS, NEVER_SEND, ROLES, allows, expect
from conformance.profiles import scaled
from conformance.strategies import (
    BLOCKS_A_LAB,
    QUIET_FACTS,
    MICall,
    named_params,
)
from conformance.versions import target_catalog, target_version
from opensips_mcp.catalog import load_catalog

#: Requests the server makes for itself before a call (its version and live commands).
LOOKUPS = frozenset({"version", "which", "core:version", "core:which"})

VERSION = target_version()
CATALOG = target_catalog()
NAMES = names_in(CATALOG.version or VERSION)
OFFERED = tuple(
    n
    for n in sorted(NAMES.values(), key=lambda n: n.command)
    if n.send is not None
    and len(n.accepted) > 1
    and n.command not in CARRIERS
    and n.command not in NEVER_SEND
)
LACKING = tuple(
    n
    for n in sorted(NAMES.values(), key=lambda n: n.command)
    if n.send is None and n.command not in CARRIERS
)
AMBIGUOUS = frozenset(ambiguous_in(CATALOG.version or VERSION))


@dataclass(frozen=True)
class Decision:
    """What the server did with one call, as far as it must not depend on the name."""

    code: str | None
    decision: str
    outcome: str
    level: str | None


def _call_under(
    harness: Harness, target: Target, role: str, name: str, params: Any, names: CommandNames
) -> Decision:
    """``mi_execute(name, params)`` as ``role`` from a fresh state; checks what reached
    the target and answers the decision."""
    control = target.control
    if control is not None:
        control.reset()
    _, outcome, record, entries = gated_call(harness.session(role), control, MICall(name, params))
    decided = Decision(outcome.code, record["decision"], record["outcome"], record["level"])
    if entries is None:
        return decided
    sent = own_requests(entries, names.command)
    assert {e["method"] for e in entries if e not in sent} <= LOOKUPS, (
        f"{name}: requests other than the command and the server's own look-ups reached "
        f"the target: {[e['method'] for e in entries]}"
    )
    if record["decision"] != "allow" or outcome.code == "too_heavy":
        assert sent == [], f"{name}: a refused call reached the target"
        return decided
    assert [e["method"] for e in sent] == [names.send], (
        f"{name}: the target must get exactly one {names.send!r} (the version's own name), "
        f"got {[e['method'] for e in sent]}"
    )
    assert names.send not in AMBIGUOUS
    assert (":" in names.send) is VERSION.startswith("4."), f"{names.send} is not {VERSION}'s"
    journal_level_within_role(role, sent)
    return decided


ENTRIES = {e.name: e for e in CATALOG.entries()}
#: (command names, recipe) of every read recipe: what a read-only target is sent.
READS = tuple(
    (names, recipe.params)
    for names in OFFERED
    for recipe in ENTRIES[names.command].recipes
    if recipe.level.value == "read"
)


@st.composite
def named_call(draw: st.DrawFn, external: bool, writes: bool) -> tuple[CommandNames, Any, str]:
    """A command this version has, one of its recipes with values, and a role (a read
    recipe and the viewer on a real target the suite may not change)."""
    read_only = external and not writes
    if read_only:
        names, recipe = draw(st.sampled_from(READS))
        role = "viewer"
    else:
        names = draw(st.sampled_from(OFFERED))
        recipe = draw(st.sampled_from([r.params for r in ENTRIES[names.command].recipes]))
        role = draw(st.sampled_from(ROLES))
    params = draw(named_params(recipe, QUIET_FACTS)) if recipe else None
    if external:
        assume(names.command not in BLOCKS_A_LAB)
    if read_only:
        assume(expect(names.command, params).is_read)
    return names, params, role


@settings(max_examples=scaled(80))
@given(data=st.data())
def test_every_name_of_a_command_gets_the_same_decision_and_reaches_it_once(
    harness: Harness, target: Target, data: st.DataObject
) -> None:
    """The same call under each accepted name: one decision, one level (the oracle's), and
    when allowed exactly one request under the version's own name."""
    names, params, role = data.draw(named_call(target.is_external, target.allow_writes))
    exp = expect(names.command, params)
    note(f"{VERSION}: {names.command} as {role}, names {names.accepted}, send {names.send}")
    decisions = {
        name: _call_under(harness, target, role, name, params, names) for name in names.accepted
    }
    assert len(set(decisions.values())) == 1, f"the names got different decisions: {decisions}"
    decided = next(iter(decisions.values()))
    if exp.refusal is None:
        assert decided.level == exp.level, f"level {decided.level}, expected {exp.level}"
        allowed = exp.allowed_for(role)
        assert (decided.code != "permission_denied") is allowed, decided


#: The issue's names: 4.0.1 renamed these 13 without keeping the 3.x name, and bare
#: ``trace`` and ``reload_routes`` are ambiguous on it; each must still work under its 3.x
#: name (and every other name) on every version.
ISSUE_NAMES = (
    "bdb_reload", "domain_dump", "domain_reload", "flat_rotate", "nh_enable_ping", "pike_list",
    "pike_rm", "rtpengine_enable", "rtpengine_reload", "rtpengine_show", "rtpproxy_enable",
    "rtpproxy_reload", "rtpproxy_show", "trace", "reload_routes", "dlg_list", "get_statistics",
)  # fmt: skip


@pytest.mark.parametrize("command", ISSUE_NAMES)
def test_the_renamed_and_ambiguous_commands_work_under_every_name(
    harness: Harness, target: Target, command: str
) -> None:
    """Each command of the issue, first recipe, as the lowest role that may use it: the
    same decision under every name, one request under the version's own name."""
    names = NAMES[command]
    entry = CATALOG.get(command)
    assert entry is not None and names.send is not None
    recipe = entry.recipes[0]
    hints = QUIET_FACTS.hints()
    params = {p: (hints.get(p) or ("1",))[0] for p in recipe.params} or None
    if command == "get_statistics":
        params = {"statistics": ["core:"]}
    exp = expect(command, params)
    assert exp.level is not None
    role = next(r for r in ROLES if allows(r, exp.level))
    if target.is_external and not target.allow_writes and role != "viewer":
        return  # read-only target: only viewer reads are sent
    decisions = {
        name: _call_under(harness, target, role, name, params, names) for name in names.accepted
    }
    assert len(set(decisions.values())) == 1, f"the names got different decisions: {decisions}"
    decided = next(iter(decisions.values()))
    assert (decided.decision, decided.level) == ("allow", exp.level), decided


@settings(max_examples=scaled(20))
@given(data=st.data())
def test_a_command_the_version_lacks_is_refused_unsent_under_every_name(
    harness: Harness, target: Target, data: st.DataObject
) -> None:
    """A command of another version, under each of its names, with one of its recipes: the
    same refusal for every name, ``not_in_version`` whatever the role (no role could run it
    there), and nothing but the version look-up reaches the target."""
    if not LACKING:
        return
    names = data.draw(st.sampled_from(LACKING))
    entry = load_catalog().lookup(names.command)
    assert entry is not None
    recipe = data.draw(st.sampled_from(entry.recipes))
    params = data.draw(named_params(recipe.params, QUIET_FACTS)) if recipe.params else None
    role = data.draw(st.sampled_from(ROLES))
    note(f"{VERSION} lacks {names.command} ({recipe.level.value}); names {names.accepted}")
    decisions: dict[str, Decision] = {}
    for name in names.accepted:
        _, outcome, record, entries = gated_call(
            harness.session(role), target.control, MICall(name, params)
        )
        decisions[name] = Decision(outcome.code, record["decision"], record["outcome"], None)
        if entries is not None:
            assert {e["method"] for e in entries} <= LOOKUPS, f"{name} reached the target"
    assert len(set(decisions.values())) == 1, f"the names got different decisions: {decisions}"
    decided = next(iter(decisions.values()))
    assert decided.decision == "deny"
    assert decided.code == "not_in_version", decided


@settings(max_examples=scaled(10))
@given(name=st.sampled_from(sorted(ambiguous_in("4.0.1"))), role=st.sampled_from(ROLES))
def test_a_local_name_several_commands_share_is_refused_unsent(
    harness: Harness, target: Target, name: str, role: str
) -> None:
    """A 4.x local name several commands share (``list``, ``reload``, ...) is refused as
    ``ambiguous_command`` on every version (the server resolves names with every version's
    catalog first, and each full name it lists is accepted on 3.x too); nothing reaches
    the target."""
    _, outcome, record, entries = gated_call(harness.session(role), target.control, MICall(name))
    code = "ambiguous_command"
    assert outcome.code == code, f"{name} on {VERSION}: expected {code}, got {outcome.code}"
    assert (record["decision"], record["outcome"]) == ("deny", "error")
    if entries is not None:
        assert {e["method"] for e in entries} <= LOOKUPS, f"{name} reached the target"
