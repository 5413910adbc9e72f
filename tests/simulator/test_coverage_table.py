"""COVERAGE.md is generated from the command table and the handlers: the committed file
must be what the generator writes now (run ``python -m opensips_sim.coverage`` after adding
or changing a handler)."""

from __future__ import annotations

from opensips_sim import coverage
from opensips_sim.registry import HANDLERS, commands


def test_the_committed_coverage_table_is_current() -> None:
    assert coverage.PATH.read_text("utf-8") == coverage.render(), (
        "simulator/COVERAGE.md is stale: run `python -m opensips_sim.coverage`"
    )


def test_the_coverage_table_has_one_row_per_real_command() -> None:
    text = coverage.render()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == len(commands())
    implemented = [n for n in HANDLERS if n in commands()]  # 4.0's tcp:close: listed below
    assert sum("| implemented |" in row for row in rows) == len(implemented)
