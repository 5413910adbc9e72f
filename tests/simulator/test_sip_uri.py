"""``opensips_sim.sipuri.parses`` against what a real 3.6.8 took as a contact in ``ul_add``
(2026-12-05: 83 URIs, every one answered alike), and ``ul_add`` answering 500 for one it
cannot parse, creating nothing."""

from __future__ import annotations

import json

import pytest

from opensips_sim.runner import RunningSimulator
from opensips_sim.sipuri import parses

from .rawhttp import exchange, post, rpc

TAKEN = [
    "sip:a", "sips:a", "tel:1", "TEL:1", "Sip:a@b", "sip:a@b", "sip:a@b:", "sip:a@b:65535",
    "sip:a@b:0", "sip:a@b:5060;transport=udp", "sip:a@b?h=1", "sip:a:pw@b", "sip:a b@c",
    "sip:[::1]", "sip:[::1]:5060", "sip:[]", "sip:a@[::1]", "sip:a@b;x&y", "sip:a&b@c",
    "tel:a", "sip:+4912345@b;user=phone", "sip:%41@b", "sip:a;x@b",
]  # fmt: skip
REFUSED = [
    "", "x", "sip:", "tel:", "tels:1", "tels:123456", "sip:a@b:65536", "sip:a@b:x",
    "sip:a@b:-1", "sip:@b", "sip:a@", "sip:a@@b", "sip:::1", "sip::pw@b", "sip:a@b&c",
    "sip:a@b:50&", "<sip:a@b>", "urn:x:y", "http://x", "a@b", "-1", "sip:[::1",
]  # fmt: skip


@pytest.mark.parametrize("uri", TAKEN)
def test_what_opensips_parses(uri: str) -> None:
    assert parses(uri)


@pytest.mark.parametrize("uri", REFUSED)
def test_what_opensips_refuses(uri: str) -> None:
    assert not parses(uri)


async def test_ul_add_of_a_contact_opensips_cannot_parse_is_500_and_adds_nothing(
    sim: RunningSimulator,
) -> None:
    add = {"table_name": "location", "aor": "ghost", "contact": "x", "expires": 0, "q": "1"}
    add |= {"flags": 0, "cflags": 0, "methods": 0}

    _head, answer = await exchange(sim.port, post(rpc("ul_add", add)))
    _head, shown = await exchange(
        sim.port, post(rpc("ul_show_contact", {"table_name": "location", "aor": "ghost"}))
    )

    assert json.loads(answer)["error"]["code"] == 500
    assert json.loads(shown)["error"]["code"] == 404
