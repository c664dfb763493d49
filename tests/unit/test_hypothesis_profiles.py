"""Hypothesis profiles (issue 19, finding 7): CI runs the state machines derandomized;
`HYPOTHESIS_PROFILE=long` runs them with random seeds and more examples."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.profiles import CI, LONG, LONG_FACTOR, machine_settings


def test_ci_machines_are_derandomized_with_their_own_example_count() -> None:
    ci = machine_settings(15, profile=CI, stateful_step_count=12, deadline=None)
    assert ci.derandomize and ci.max_examples == 15 and ci.stateful_step_count == 12


def test_the_long_profile_uses_random_seeds_and_more_examples() -> None:
    long = machine_settings(15, profile=LONG, stateful_step_count=12)
    assert not long.derandomize and long.max_examples == 15 * LONG_FACTOR
    assert long.print_blob and long.stateful_step_count == 12


@pytest.mark.parametrize(("name", "derandomized"), [("ci", "True"), ("long", "False")])
def test_hypothesis_profile_selects_the_profile_at_start(name: str, derandomized: str) -> None:
    code = (
        "from tests.support import profiles; from hypothesis import settings;"
        "profiles.register(); from tests.support.profiles import machine_settings;"
        "print(settings.default.max_examples, machine_settings(3).derandomize)"
    )
    env = {"HYPOTHESIS_PROFILE": name, "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[1] == derandomized
    assert (int(out[0]) > 100) is (name == "long")


def test_an_unknown_profile_is_refused_with_the_choices() -> None:
    code = "from tests.support import profiles; profiles.register()"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"HYPOTHESIS_PROFILE": "longer", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "'ci' or 'long'" in result.stderr
