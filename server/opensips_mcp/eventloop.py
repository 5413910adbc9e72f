"""Which event loop `serve` runs on: uvloop when installed (``pip install opensips-mcp[fast]``).

uvloop roughly triples what one core can push through the MI client (measured against a
real OpenSIPS; see benchmarks/). Everything works on the standard asyncio loop too; set
``OPENSIPS_MCP_LOOP=asyncio`` to keep it even when uvloop is installed.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

__all__ = ["anyio_backend_options", "uvloop_available"]


def uvloop_available() -> bool:
    """True if uvloop can be imported and has not been turned off by the environment."""
    if os.environ.get("OPENSIPS_MCP_LOOP", "").lower() == "asyncio":
        return False
    return importlib.util.find_spec("uvloop") is not None


def anyio_backend_options() -> dict[str, Any]:
    """``backend_options`` for `anyio.run`: uvloop when available."""
    return {"use_uvloop": True} if uvloop_available() else {}
