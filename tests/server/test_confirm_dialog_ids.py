"""Which dialog ids the confirmation statement looks up by id (the rest are Call-IDs)."""

from __future__ import annotations

import pytest

from opensips_mcp.confirm.effects import _DIALOG_ID


@pytest.mark.parametrize(
    ("dialog_id", "by_id"),
    [
        ("424.f410db26", True),
        ("d31.2722a107", True),  # printed by the lab 3.6.8: the entry is hex too
        ("4554321887567", True),  # db_id
        ("2-1979@127.0.0.1", False),
        ("d31", False),
    ],
)
def test_printed_ids_and_db_ids_are_ids_and_call_ids_are_not(dialog_id: str, by_id: bool) -> None:
    assert bool(_DIALOG_ID.match(dialog_id)) is by_id
