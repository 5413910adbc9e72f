"""OpenSIPS's own error code travels with the ToolError, so tools need not read its text."""

from __future__ import annotations

from opensips_mcp.catalog import load_catalog
from opensips_mcp.errors import ErrorCode, from_mi_error
from opensips_mcp.mi import MICommandError


def test_an_opensips_error_keeps_its_code_and_message() -> None:
    exc = from_mi_error(
        MICommandError(404, "AOR not found", method="ul_show_contact", attempts=1),
        load_catalog().get("ul_show_contact"),
    )
    assert exc.code is ErrorCode.OPENSIPS_ERROR
    assert (exc.mi_code, exc.mi_message) == (404, "AOR not found")
    assert exc.is_not_found()
    assert exc.is_not_found("AOR not found")
    assert not exc.is_not_found("Table not found")


def test_a_module_failure_other_than_404_is_not_a_miss() -> None:
    exc = from_mi_error(
        MICommandError(500, "Bad state value", method="ds_set_state", attempts=1),
        load_catalog().get("ds_set_state"),
    )
    assert exc.mi_code == 500
    assert not exc.is_not_found()
