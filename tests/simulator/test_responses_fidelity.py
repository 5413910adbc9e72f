"""Every answer captured from the real server (``responses/*.json``), asked again of the
``quiet`` simulator with the clock frozen at the capture: same keys, nesting and types, and
the same values (IDs, times, counts) except for values that move with time."""

from __future__ import annotations

import json

import pytest

from tests.captures import version_dir

from .conftest import StartSimulator
from .rawhttp import call
from .test_wire_fidelity import same_shape

SHARED = version_dir("3.6.8")
RESPONSES = sorted((SHARED / "responses").glob("*.json"))
CAPTURES = {path.stem: json.loads(path.read_text()) for path in RESPONSES}
#: Captured answers whose values move with time; compared by shape only.
SHAPE_ONLY = {"get_statistics_all", "get_statistics_core"}


@pytest.mark.parametrize("name", sorted(CAPTURES))
async def test_quiet_answers_each_captured_response(
    name: str, start_simulator: StartSimulator
) -> None:
    capture = CAPTURES[name]
    request = capture["request"]
    sim = await start_simulator()
    answer = await call(sim.port, request["method"], request.get("params"))
    expected = capture["response"]["result"]
    if name in SHAPE_ONLY:
        assert sorted(answer["result"]) == sorted(expected)
        for key, value in expected.items():
            assert type(answer["result"][key]) is type(value), key
    else:
        same_shape(expected, answer["result"])
    if name == "get_statistics_all":
        assert list(answer["result"]) == list(expected), "groups listed in the real order"
