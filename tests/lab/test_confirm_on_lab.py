"""Confirmation statements and completions against a real OpenSIPS (``make lab``).

The user declines every confirmation, so nothing here changes the lab: the statements are
read from the real state (held calls alice -> bob, profile sizes, bob's contact) and the
calls and contacts are still there afterwards.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult, PromptReference

from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings
from tests.lab.aors import aor


class Declining:
    """The user: reads each question and says no."""

    def __init__(self) -> None:
        self.questions: list[str] = []

    async def __call__(
        self, ctx: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        self.questions.append(params.message)
        return ElicitResult(action="decline")


def confirming_admin(lab_url: str, tmp_path: Path) -> OpenSIPSMCP:
    settings = Settings(
        mi_url=lab_url,
        role=Role.ADMIN,
        audit_log=tmp_path / "audit.jsonl",
        mi_read_timeout=20.0,
        mi_total_timeout=30.0,
    )
    return build_server(settings)


async def structured(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result
    assert result.structured_content is not None
    return result.structured_content


async def test_declined_statements_are_read_from_the_real_state(
    lab_url: str, tmp_path: Path
) -> None:
    user = Declining()
    async with Client(confirming_admin(lab_url, tmp_path), elicitation_callback=user) as c:
        before = (await structured(c, "dialogs_list", {"limit": 100}))["dialogs"]
        held = next(d for d in before if d["state"] == "confirmed")
        by_id = await c.call_tool("dialog_end", {"dialog_id": held["id"]})
        by_callid = await c.call_tool("dialog_end", {"dialog_id": held["callid"]})
        sizes = await structured(c, "dialog_profiles", {})
        inbound = next(p["size"] for p in sizes["profiles"] if p["name"] == "inbound")
        profile = await c.call_tool("profile_end_dialogs", {"profile": "inbound"})
        contacts = await c.call_tool(
            "mi_execute",
            {"command": "ul_rm", "params": {"table_name": "location", "aor": aor("bob")}},
        )
        after = (await structured(c, "dialogs_list", {"limit": 100}))["dialogs"]
        bob = await structured(c, "registrations_list", {"aor": aor("bob")})
    assert all(r.is_error for r in (by_id, by_callid, profile, contacts))
    one_call = re.compile(r"ends 1 call: alice -> bob, confirmed, \d+ (s|min \d+ s|h \d+ min) old")
    assert one_call.search(user.questions[0]) and held["callid"] in user.questions[0]
    assert one_call.search(user.questions[1])
    plural = "" if inbound == 1 else "s"
    assert f"ends {inbound} call{plural} in profile inbound" in user.questions[2]
    assert f"removes 1 contact of AOR {aor('bob')}" in user.questions[3]
    assert {d["id"] for d in after} == {d["id"] for d in before}
    assert len(bob["contacts"]) == 1


async def test_prompt_arguments_complete_from_the_real_state(lab_url: str, tmp_path: Path) -> None:
    async with Client(confirming_admin(lab_url, tmp_path)) as c:
        held = (await structured(c, "dialogs_list", {"limit": 100}))["dialogs"]

        async def complete(prompt: str, arg: str, value: str, **ctx: str) -> list[str]:
            ref = PromptReference(type="ref/prompt", name=prompt)
            answer = await c.complete(ref, {"name": arg, "value": value}, ctx or None)
            return answer.completion.values

        aors = await complete("triage_failed_registrations", "aor", "")
        callids = await complete("triage_call_problems", "callid", "")
        gateways = await complete("gateway_rotation", "gateway_id", "")
        ds = await complete("drain_safely", "target_id", "sip:", target="dispatcher_destination")
        lb = await complete("drain_safely", "target_id", "", target="load_balancer_destination")
    assert {aor("alice"), aor("bob"), aor("carol")} <= set(aors)
    assert {d["callid"] for d in held} <= set(callids)
    assert gateways and ds and lb
    assert all(a.startswith("sip:") for a in ds)
