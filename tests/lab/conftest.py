"""The typed-tool suite against a real OpenSIPS started by ``make lab`` (see lab/README.md).

Every test here is skipped, with one reason, unless ``OPENSIPS_MI_URL`` is set: ``make
lab-tools`` sets it from the running lab's ``lab.env``. Tests that send SIP themselves also
need ``OPENSIPS_SIP`` (in ``lab.env``) and SIPp.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opensips_mcp.confirm import ConfirmPolicy
from opensips_mcp.gate import Role
from opensips_mcp.server import OpenSIPSMCP, build_server
from opensips_mcp.settings import Settings

HERE = Path(__file__).resolve().parent
SKIP_REASON = (
    "no real OpenSIPS: set OPENSIPS_MI_URL (make lab, then make lab-tools) to run the "
    "typed tools against it"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's tests, with one reason, when no lab is given."""
    if os.environ.get("OPENSIPS_MI_URL"):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(skip)


@pytest.fixture
def lab_url() -> str:
    """The lab's MI URL."""
    return os.environ["OPENSIPS_MI_URL"]


@pytest.fixture
def admin(lab_url: str, tmp_path: Path) -> OpenSIPSMCP:
    """An admin server against the lab (every tool listed), auditing into ``tmp_path``."""
    settings = Settings(
        mi_url=lab_url,
        role=Role.ADMIN,
        audit_log=tmp_path / "audit.jsonl",
        confirm=ConfirmPolicy.NONE,  # confirmation is tested in tests/server/test_confirm.py
        mi_connect_timeout=2.0,
        mi_read_timeout=20.0,
        mi_total_timeout=30.0,
    )
    return build_server(settings)
