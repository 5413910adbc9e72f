"""Ways a server can fail to answer one request, and handlers built from them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .rawserver import Handler, Received, Reply

Failure = Callable[[Received, Reply], Awaitable[None]]


async def http_500(request: Received, reply: Reply) -> None:
    # As OpenSIPS does: headers of a chunked body whose end never comes.
    reply.chunked_headers(500)
    await reply.hang()


async def reset(request: Received, reply: Reply) -> None:
    reply.reset()


async def close_without_answer(request: Received, reply: Reply) -> None:
    reply.close()


async def no_answer(request: Received, reply: Reply) -> None:
    await reply.hang()


async def truncated_body(request: Received, reply: Reply) -> None:
    body = b'{"jsonrpc":"2.0","result":"OK","id":' + str(request.id).encode() + b"}"
    reply.body(body[:20], content_length=len(body))
    reply.close()


async def not_json(request: Received, reply: Reply) -> None:
    reply.body(b"<html><body>oops</body></html>")


async def wrong_id(request: Received, reply: Reply) -> None:
    reply.json({"jsonrpc": "2.0", "result": "OK", "id": request.id + 1000})


async def not_jsonrpc(request: Received, reply: Reply) -> None:
    reply.json({"result": "OK", "id": request.id})


# failure -> the cause an MIOutcomeUnknown names for a write that met it
NO_GOOD_ANSWER: dict[str, tuple[Failure, str]] = {
    "http_500": (http_500, "http_5xx"),
    "reset": (reset, "reset"),
    "close_without_answer": (close_without_answer, "reset"),
    "read_timeout": (no_answer, "read_timeout"),
    "truncated_body": (truncated_body, "truncated"),
    "not_json": (not_json, "malformed"),
    "wrong_id": (wrong_id, "wrong_id"),
    "not_jsonrpc": (not_jsonrpc, "not_jsonrpc"),
}


def failing_first(failure: Failure, times: int) -> Handler:
    """Fail the first ``times`` requests with ``failure``, then answer each one."""
    seen = 0

    async def handle(request: Received, reply: Reply) -> None:
        nonlocal seen
        seen += 1
        if seen <= times:
            await failure(request, reply)
        else:
            reply.result(request, "OK")

    return handle


def always(failure: Failure) -> Handler:
    return failing_first(failure, times=1_000_000)
