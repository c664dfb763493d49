"""Hypothesis profiles: `ci` (the default) and `long` (`HYPOTHESIS_PROFILE=long`).

- `ci`: what CI runs. The state machines are derandomized (the same examples every run,
  so a red build is always reproducible); other property tests keep Hypothesis' defaults.
- `long`: on demand, to hunt for new failures: random seeds everywhere, `LONG_FACTOR`
  times the examples of each machine, and the reproduction blob printed on failure
  (re-run one with `@reproduce_failure` or `--hypothesis-seed=N`, which pytest prints).

The profiles are registered and loaded by `tests/conftest.py`; the machines take their
settings from `machine_settings`, which follows the loaded profile.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import settings

CI, LONG = "ci", "long"
LONG_FACTOR = 10
LONG_EXAMPLES = 1000
"""`max_examples` of ordinary `@given` tests under the long profile."""


def register() -> str:
    """Register both profiles and load the one `HYPOTHESIS_PROFILE` names (default ci)."""
    settings.register_profile(CI, settings())
    settings.register_profile(
        LONG, settings(derandomize=False, max_examples=LONG_EXAMPLES, print_blob=True)
    )
    name = os.environ.get("HYPOTHESIS_PROFILE", CI)
    if name not in (CI, LONG):
        raise ValueError(f"HYPOTHESIS_PROFILE must be {CI!r} or {LONG!r}, not {name!r}")
    settings.load_profile(name)
    return name


def active() -> str:
    return os.environ.get("HYPOTHESIS_PROFILE", CI)


def machine_settings(examples: int, *, profile: str | None = None, **kwargs: Any) -> settings:
    """A state machine's settings: derandomized with `examples` under ci; random seeds
    and `LONG_FACTOR` × `examples` under long. `kwargs` go to `settings` as they are."""
    long = (profile or active()) == LONG
    return settings(
        max_examples=examples * LONG_FACTOR if long else examples,
        derandomize=not long,
        print_blob=long,
        **kwargs,
    )
