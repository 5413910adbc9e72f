"""The error tree: one root, the documented branches, and what each error carries."""

from __future__ import annotations

import opensips_mcp.mi as mi
from opensips_mcp.mi import (
    MICommandError,
    MICommandNotFound,
    MIConnectionError,
    MIError,
    MIHTTPError,
    MIInvalidParams,
    MIOutcomeUnknown,
    MIProtocolError,
    MITimeoutError,
)
from opensips_mcp.mi.errors import command_error


def test_every_error_descends_from_mi_error_as_drawn_in_the_docstring() -> None:
    branches = [
        MIConnectionError,
        MITimeoutError,
        MIOutcomeUnknown,
        MIProtocolError,
        MIHTTPError,
        MICommandError,
    ]
    for branch in branches:
        assert branch.__bases__ == (MIError,)
        assert branch.__name__ in (mi.__doc__ or "")
    assert MICommandNotFound.__bases__ == (MICommandError,)
    assert MIInvalidParams.__bases__ == (MICommandError,)


def test_outcome_unknown_is_not_a_kind_of_any_other_failure() -> None:
    others = (MIConnectionError, MITimeoutError, MIProtocolError, MIHTTPError, MICommandError)

    assert not issubclass(MIOutcomeUnknown, others)


def test_command_error_class_follows_the_jsonrpc_code() -> None:
    found = command_error(-32601, "Method not found", None, method="nope", attempts=1)
    invalid = command_error(-32602, "Invalid params", "Too few", method="dlg_list", attempts=1)
    module = command_error(
        404, "Requested Dialog not found", None, method="dlg_end_dlg", attempts=1
    )

    assert type(found) is MICommandNotFound
    assert type(invalid) is MIInvalidParams
    assert type(module) is MICommandError
    assert (invalid.code, invalid.message, invalid.data) == (-32602, "Invalid params", "Too few")
    assert (module.method, module.attempts) == ("dlg_end_dlg", 1)


def test_outcome_unknown_carries_its_cause() -> None:
    error = MIOutcomeUnknown("x", method="ds_set_state", attempts=1, cause="http_5xx", status=500)

    assert (error.method, error.attempts, error.cause, error.status) == (
        "ds_set_state",
        1,
        "http_5xx",
        500,
    )
