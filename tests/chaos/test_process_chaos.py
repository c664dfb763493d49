"""The process chaos suite (issue 19): the real `ledgerbridge run`, SIGKILLed four times,
against both sandboxes over real HTTP with faults and a mixed workload on both sides (see
`tests/chaos/process_chaos.py`). CI runs a small size with seed 1; `make chaos` a large
one with a random seed (printed). `CHAOS_SEED=N` replays, `CHAOS_SIZE=N` sizes the run.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.chaos.checks import check
from tests.chaos.process_chaos import ProcessChaos
from tests.chaos.stack import open_stack

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

SIZE = int(os.environ.get("CHAOS_SIZE", "40"))


def _seed() -> int:
    given = os.environ.get("CHAOS_SEED", "1")
    return random.SystemRandom().randrange(10**6) if given == "random" else int(given)


def test_sigkilled_engine_under_faults_makes_no_duplicate_loses_nothing_and_settles(
    tmp_path: Path,
) -> None:
    seed = _seed()
    print(f"\nprocess chaos: CHAOS_SEED={seed} CHAOS_SIZE={SIZE}")  # to replay this run
    with open_stack(tmp_path) as stack:
        chaos = ProcessChaos(stack, seed, SIZE)
        try:
            figures = chaos.run(settle_timeout=120 + SIZE * 0.5)
            check(stack, chaos.users, figures)
        finally:
            chaos.users.close()
    summary = figures.summary()
    print(summary)
    assert figures.kills == 4, summary
    assert figures.duplicates == [], summary
    assert figures.lost == [], summary
    assert figures.other_drift == [], summary
    if figures.reconcile_exit != 0 and figures.known_drift:
        pytest.xfail(
            "reconcile reports false drift on the numbers of QBO-made invoices, on voided "
            "invoices' discounts and on invoices voided before they were synced (issue 19, "
            f"finding 2): {len(figures.known_drift)} entries"
        )
    assert figures.reconcile_exit == 0, summary
