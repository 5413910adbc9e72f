"""The fault proxy before an OpenSIPS 3.4 or 4.x upstream: fault rules and journal levels
name the 3.x command, whatever name the request uses (4.x ``module:name``, an alias); the
journal shows the name sent. Measured need: the conformance suite against a real 4.0.1 lab
sends ``dispatcher:set_state`` for ``ds_set_state``, and its rules never fired before."""

from __future__ import annotations

from typing import Any

import pytest

from opensips_sim.proxy import running_proxy, upstream_persona
from opensips_sim.snapshot import stable

from .conftest import StartSimulator
from .rawhttp import exchange, post, rpc

SET_STATE = {"state": "i", "group": 1, "address": "sip:127.0.0.1:5081"}


@pytest.mark.parametrize(
    ("version", "method"),
    [("4.0.1", "dispatcher:set_state"), ("4.0.1", "ds_set_state"), ("3.4.18", "ds_set_state")],
)
async def test_a_rule_for_the_3x_name_fires_on_any_name_of_the_command(
    start_simulator: StartSimulator, version: str, method: str
) -> None:
    upstream = await start_simulator(opensips_version=version, quirks=False)
    async with running_proxy(upstream.url, quirks=False, idle_timeout=2.0) as proxy:
        assert proxy.proxy.persona.version == version
        proxy.proxy.faults.extend(
            [{"command": "ds_set_state", "action": "http_500", "when": "before_apply"}]
        )
        head, _ = await exchange(proxy.port, post(rpc(method, SET_STATE)))
        entry = proxy.journal()[-1]
    assert head.status == 500
    assert (entry["method"], entry["level"]) == (method, "write")
    assert entry["fault"] is not None and entry["fault"]["action"] == "http_500"
    assert not any(e["method"] == method for e in upstream.journal())  # never forwarded


@pytest.mark.parametrize(
    ("server", "version"),
    [
        ("OpenSIPS (4.0.1 (x86_64/linux))", "4.0.1"),
        ("OpenSIPS (4.0.3 (x86_64/linux))", "4.0.1"),
        ("OpenSIPS (3.4.12 (x86_64/linux))", "3.4.18"),
        ("OpenSIPS (3.6.8 (x86_64/linux))", "3.6.8"),
        ("OpenSIPS (3.5.1 (x86_64/linux))", "3.6.8"),
        ("", "3.6.8"),
    ],
)
def test_the_upstreams_version_picks_the_persona(server: str, version: str) -> None:
    assert upstream_persona({"core": {"server": server}}).version == version


def test_the_proxys_state_leaves_out_the_link_states_that_move_by_themselves() -> None:
    """A real clusterer probes its peers on its own timer: an absent peer went Probe ->
    Down between two reads with no MI call (4.0.1 lab started seconds before), which the
    read-only property took for a change made by a read."""

    def scenario(link: str) -> dict[str, Any]:
        node = {"node_id": 2, "url": "bin:127.0.0.1:5717", "link_state": link}
        return {"clusterer": {"clusters": [{"cluster_id": 1, "nodes": [node]}]}}

    assert stable(scenario("Probe")) == stable(scenario("Down"))
    (node,) = stable(scenario("Up"))["clusterer"]["clusters"][0]["nodes"]
    assert node == {"node_id": 2, "url": "bin:127.0.0.1:5717"}
