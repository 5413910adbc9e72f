"""mi_execute never returns more than 64 KB, however large the MI answer."""

from __future__ import annotations

import json

from mcp import Client

from opensips_mcp.gate import Role
from opensips_mcp.tools.oversize import CUT_MARK, fit, json_bytes

from .conftest import ServerFactory
from .helpers import Answer, FakeMI

RESULT_LIMIT = 64 * 1024
T_HASH_LIKE = {"Entries": [{"entry": i, "size": 0, "in_use": 0} for i in range(65_536)]}


def result_bytes(result: object) -> int:
    """Bytes of a tool result as it travels: structured content plus text content."""
    structured = json.dumps(getattr(result, "structured_content", None)).encode()
    text = "".join(getattr(c, "text", "") for c in getattr(result, "content", []))
    return len(structured) + len(text.encode())


async def test_a_megabyte_answer_is_cut_to_a_prefix_of_the_same_shape(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    fake_mi.answers["t_hash"] = Answer(T_HASH_LIKE)
    async with Client(make_server(Role.ADMIN)) as client:
        result = await client.call_tool("mi_execute", {"command": "t_hash"})

    assert not result.is_error
    assert result_bytes(result) <= RESULT_LIMIT
    body = result.structured_content
    assert body is not None
    assert body["truncated"] is True
    assert body["result_bytes"] == json_bytes(T_HASH_LIKE)
    entries = body["result"]["Entries"]
    assert entries[0] == {"entry": 0, "size": 0, "in_use": 0}
    assert entries[-1].startswith(CUT_MARK)
    assert "dlg_list" in body["notice"]


async def test_a_small_answer_is_returned_whole(
    make_server: ServerFactory, fake_mi: FakeMI
) -> None:
    async with Client(make_server(Role.VIEWER)) as client:
        result = await client.call_tool("mi_execute", {"command": "ps"})

    body = result.structured_content
    assert body is not None
    assert body["truncated"] is False
    assert body["notice"] is None
    assert len(body["result"]["Processes"]) == 4


def test_fit_keeps_within_its_budget_for_nested_and_long_values() -> None:
    answer = {
        "Dialogs": [{"ID": f"{i}.1", "caller_sdp": "v=0\r\n" * 2000} for i in range(200)],
        "count": 200,
    }
    cut, truncated = fit(answer, 28_000)
    assert truncated
    assert json_bytes(cut) <= 28_000
    assert cut["Dialogs"][0]["ID"] == "0.1"


def test_fit_leaves_what_fits_untouched() -> None:
    answer = {"a": [1, 2, 3], "b": "x"}
    assert fit(answer, 1000) == (answer, False)


def test_the_structured_result_is_the_execute_result_models_own_json_form() -> None:
    from opensips_mcp.catalog import AccessLevel
    from opensips_mcp.runtime import MIResult
    from opensips_mcp.tools.generic import ExecuteResult, execute_result

    for answer in ({"Up time": "227 [sec]"}, T_HASH_LIKE, "OK", None):
        result = MIResult("t_hash", "t_hash", answer, AccessLevel.READ, (), 1, 0.0012345)
        data = execute_result(result)
        assert ExecuteResult.model_validate(data).model_dump(mode="json") == data
        assert list(data) == list(ExecuteResult.model_fields)
        assert data["result_bytes"] == json_bytes(answer)


def test_the_published_output_schema_allows_the_same_values_as_the_model() -> None:
    from jsonschema.validators import validator_for

    from opensips_mcp.tools.generic import ExecuteResult

    schema = ExecuteResult.model_json_schema()
    validator = validator_for(schema)(schema)
    good = {
        "command": "uptime",
        "sent_as": "uptime",
        "level": "read",
        "recipe": [],
        "result": {"Up time": "227 [sec]"},
        "truncated": False,
        "result_bytes": 24,
        "notice": None,
        "attempts": 1,
        "elapsed_ms": 0.1,
    }
    assert validator.is_valid(good)
    assert validator.is_valid({**good, "level": "admin", "notice": "cut"})
    assert not validator.is_valid({**good, "level": "root"})
    assert not validator.is_valid({**good, "notice": 3})
