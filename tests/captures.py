"""Where the repository's copies of real OpenSIPS captures live (``captures/``).

Every test reads real answers from here, never from outside the repository: a clone with
nothing beside it runs the whole fidelity suite. ``captures/README.md`` says where they came
from and how to refresh them."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CAPTURES = REPO / "captures"
VERSIONS = ("3.4.18", "3.6.8", "4.0.1")


def version_dir(version: str = "3.6.8") -> Path:
    """The captures of one OpenSIPS version: ``commands.json``, ``errors.json``,
    ``responses/`` (and ``aliases.json`` for 4.0.1)."""
    path = CAPTURES / f"opensips-{version}"
    if not path.is_dir():
        raise FileNotFoundError(f"no captures for OpenSIPS {version} in {CAPTURES}")
    return path
