"""The collector's settings for a syncing process (`runtime.collector`), each tried in a
fresh interpreter so this test process keeps its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_tune_collector_sets_the_thresholds_and_freezes_the_start_up_objects() -> None:
    out = _run(
        """
        import gc
        from ledgerbridge.runtime.collector import MIDDLE, OLD, YOUNG, tune_collector
        before = gc.get_freeze_count()
        tune_collector()
        print(gc.get_threshold() == (YOUNG, MIDDLE, OLD), gc.get_freeze_count() > before)
        """
    )
    assert out == "True True"


def test_freeze_for_exit_leaves_nothing_alive_for_the_last_full_collection() -> None:
    out = _run(
        """
        import gc
        from ledgerbridge.runtime.collector import freeze_for_exit
        work = [[n] for n in range(1000)]  # what a command leaves alive (tracked: lists)
        marker = work[0]
        tracked = lambda: any(o is marker for o in gc.get_objects())
        print(tracked(), end=" ")
        freeze_for_exit()
        print(tracked(), gc.get_freeze_count() >= len(work))
        """
    )
    assert out == "True False True"


def test_the_command_line_freezes_the_heap_as_it_exits() -> None:
    out = _run(
        """
        import gc, sys
        from ledgerbridge import cli
        sys.argv = ["ledgerbridge", "--help"]
        try:
            cli.main()
        except SystemExit:
            pass
        print(gc.get_count() == (0, 0, 0), gc.get_freeze_count() > 0)
        """
    )
    assert out.splitlines()[-1] == "True True"  # after the help text
