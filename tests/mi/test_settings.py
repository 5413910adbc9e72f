"""MISettings: one frozen object with documented defaults and checked values."""

from __future__ import annotations

import dataclasses

import pytest

from opensips_mcp.mi import MISettings


def test_defaults_are_the_documented_ones() -> None:
    settings = MISettings(url="http://127.0.0.1:8888/mi")

    assert (
        settings.connect_timeout,
        settings.pool_timeout,
        settings.read_timeout,
        settings.total_timeout,
        settings.pool_size,
        settings.max_in_flight,
        settings.max_attempts,
        settings.backoff_base,
        settings.backoff_max,
    ) == (2.0, 10.0, 10.0, 30.0, 8, 8, 3, 0.05, 1.0)


def test_settings_cannot_be_changed_after_creation() -> None:
    settings = MISettings(url="http://127.0.0.1:8888/mi")

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.read_timeout = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        {"url": "127.0.0.1:8888/mi"},
        {"connect_timeout": 0},
        {"pool_timeout": 0},
        {"read_timeout": -1.0},
        {"total_timeout": 0},
        {"pool_size": 0},
        {"max_in_flight": 0},
        {"max_attempts": 0},
        {"backoff_base": -0.1},
        {"keepalive_timeout": 0},
    ],
)
def test_values_that_cannot_work_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        MISettings(**{"url": "http://127.0.0.1:8888/mi", **bad})  # type: ignore[arg-type]
