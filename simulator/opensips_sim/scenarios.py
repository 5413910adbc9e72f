"""Scenarios: JSON objects keyed by state-part key, seeding a world.

A scenario is ``{"name": ..., "description": ..., "<part key>": {section}, ...}``; each
section's schema is documented in its part's module (``state/usrloc.py``,
``state/dialog.py``, ...). Built-in scenarios live in ``scenarios/*.json``: ``quiet`` (the
captured server at rest), ``lively`` (registrations and calls come and go with the clock) and
``large`` (100,000 contacts and 50,000 dialogs generated from a compact spec).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any


class ScenarioError(ValueError):
    """A scenario that cannot be found or read."""


def builtin_names() -> list[str]:
    """Names of the scenarios shipped with the simulator."""
    folder = resources.files("opensips_sim").joinpath("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load(spec: str | Mapping[str, Any]) -> dict[str, Any]:
    """A scenario from a built-in name, a JSON file path, or an already-parsed object."""
    if isinstance(spec, Mapping):
        data = dict(spec)
        data.setdefault("name", "custom")
        return data
    if spec in builtin_names():
        text = resources.files("opensips_sim").joinpath(f"scenarios/{spec}.json").read_text()
        name = spec
    else:
        path = Path(spec)
        if not path.is_file():
            raise ScenarioError(
                f"no scenario {spec!r}: not a built-in ({', '.join(builtin_names())}) nor a file"
            )
        text = path.read_text("utf-8")
        name = path.stem
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ScenarioError(f"scenario {spec!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario {spec!r} is not a JSON object")
    data.setdefault("name", name)
    return data
