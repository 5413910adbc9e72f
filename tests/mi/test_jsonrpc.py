"""JSON-RPC framing: request bytes, reply checks, request ids."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opensips_mcp.mi.jsonrpc import (
    MAX_ID,
    IdSequence,
    ReplyError,
    ReplyProblem,
    ReplyResult,
    decode_reply,
    encode_request,
)


def test_request_carries_named_positional_or_no_params() -> None:
    assert json.loads(encode_request("ds_set_state", {"state": "i"}, 7)) == {
        "jsonrpc": "2.0",
        "method": "ds_set_state",
        "params": {"state": "i"},
        "id": 7,
    }
    assert json.loads(encode_request("which", ("uptime",), 8))["params"] == ["uptime"]
    assert "params" not in json.loads(encode_request("uptime", None, 9))


def test_request_is_compact_ascii_json() -> None:
    body = encode_request("ul_show_contact", {"aor": "zoë"}, 1)

    assert (
        body == b'{"jsonrpc":"2.0","method":"ul_show_contact","params":{"aor":"zo\\u00eb"},"id":1}'
    )


@pytest.mark.parametrize("params", ["uptime", b"uptime", 5])
def test_params_that_are_neither_mapping_nor_sequence_are_refused(params: Any) -> None:
    with pytest.raises(TypeError):
        encode_request("uptime", params, 1)


@pytest.mark.parametrize("method", [None, 5, ["uptime"], b"uptime"])
def test_a_method_that_is_not_a_string_is_refused(method: Any) -> None:
    # OpenSIPS's mi_fifo (and 4.0's mi_datagram) segfaults on a request without a string
    # method, and the whole server stops (measured on 3.6.8, 3.4.18 and 4.0.1)
    with pytest.raises(TypeError):
        encode_request(method, None, 1)


def test_params_json_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError):
        encode_request("x", {"v": float("nan")}, 1)
    with pytest.raises(TypeError):
        encode_request("x", {"v": object()}, 1)


def test_ids_increase_and_wrap_below_2_to_the_31() -> None:
    ids = IdSequence(start=MAX_ID - 1)

    assert [ids.next() for _ in range(4)] == [MAX_ID - 1, MAX_ID, 1, 2]
    assert MAX_ID == 2**31 - 1


def test_ids_start_at_1() -> None:
    ids = IdSequence()

    assert [ids.next() for _ in range(3)] == [1, 2, 3]


def reply(**members: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **members}).encode()


def test_result_reply_gives_its_result() -> None:
    assert decode_reply(reply(result={"Up time": "260 [sec]"}, id=3), 3) == ReplyResult(
        {"Up time": "260 [sec]"}
    )


def test_result_may_be_null() -> None:
    assert decode_reply(reply(result=None, id=3), 3) == ReplyResult(None)


def test_error_reply_gives_code_message_and_data() -> None:
    body = reply(error={"code": -32602, "message": "Invalid params", "data": "Bad type"}, id=3)

    assert decode_reply(body, 3) == ReplyError(-32602, "Invalid params", "Bad type")


def test_error_reply_with_null_id_is_an_answer() -> None:
    body = reply(error={"code": -32700, "message": "Parse error"}, id=None)

    assert decode_reply(body, 3) == ReplyError(-32700, "Parse error", None)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"", "malformed"),
        (b'{"jsonrpc":"2.0","result":', "malformed"),
        (b"\xff\xfe", "malformed"),
        (b"<html>Unable to parse URL!</html>", "malformed"),
        (b"[]", "not_jsonrpc"),
        (b'{"result": 1, "id": 3}', "not_jsonrpc"),
        (b'{"jsonrpc": "1.0", "result": 1, "id": 3}', "not_jsonrpc"),
        (reply(id=3), "not_jsonrpc"),
        (reply(result=1, error={"code": 1, "message": "x"}, id=3), "not_jsonrpc"),
        (reply(error="boom", id=3), "not_jsonrpc"),
        (reply(error={"code": "500", "message": "x"}, id=3), "not_jsonrpc"),
        (reply(error={"code": 500}, id=3), "not_jsonrpc"),
        (reply(result=1, id=4), "wrong_id"),
        (reply(result=1, id="3"), "wrong_id"),
        (reply(result=1, id=True), "wrong_id"),
        (reply(result=1, id=None), "wrong_id"),
        (reply(result=1), "wrong_id"),
        (reply(error={"code": 404, "message": "Not found"}, id=4), "wrong_id"),
    ],
)
def test_replies_that_are_not_an_answer_to_our_request_are_refused(body: bytes, kind: str) -> None:
    with pytest.raises(ReplyProblem) as caught:
        decode_reply(body, 3)

    assert caught.value.kind == kind
