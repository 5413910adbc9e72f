"""Hypothesis profiles of the conformance suite, selected by ``HYPOTHESIS_PROFILE``.

* ``ci`` (default): derandomized (the same examples on every run, no example database),
  bounded examples, so that the whole suite stays within its time budget on 2 cores.
* ``deep``: at least ten times the examples and state-machine steps, random seeds, and the
  example database (failures found once are replayed first next time).

Each property asks for ``scaled(n)`` examples: ``n`` in ``ci``, ``10 * n`` in ``deep``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

PROFILE_ENV = "HYPOTHESIS_PROFILE"
SCALE = {"ci": 1, "deep": 10}
CI_EXAMPLES = 25
CI_STEPS = 20

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def register() -> None:
    """Register ``ci`` and ``deep`` and load the one ``HYPOTHESIS_PROFILE`` names."""
    settings.register_profile(
        "ci",
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=CI_EXAMPLES,
        stateful_step_count=CI_STEPS,
        suppress_health_check=_SLOW_OK,
        print_blob=False,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
    )
    settings.register_profile(
        "deep",
        derandomize=False,
        deadline=None,
        max_examples=CI_EXAMPLES * SCALE["deep"],
        stateful_step_count=CI_STEPS * SCALE["deep"],
        suppress_health_check=_SLOW_OK,
        print_blob=True,
    )
    settings.load_profile(profile_name())


def profile_name() -> str:
    """The selected profile (``ci`` unless ``HYPOTHESIS_PROFILE`` says ``deep``)."""
    name = os.environ.get(PROFILE_ENV, "ci") or "ci"
    if name not in SCALE:
        raise ValueError(f"{PROFILE_ENV}={name!r}: the conformance profiles are {sorted(SCALE)}")
    return name


def scaled(examples: int) -> int:
    """``examples`` in the ``ci`` profile, ten times as many in ``deep``."""
    return examples * SCALE[profile_name()]


def scaled_steps(steps: int) -> int:
    """State-machine steps per run: ``steps`` in ``ci``, ten times as many in ``deep``."""
    return steps * SCALE[profile_name()]
