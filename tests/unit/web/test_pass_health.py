"""The dashboard's sync health (`web.pass_health`): what the runtime's passes said, in
plain words, and the listener `ledgerbridge run` / `demo` give the runtime."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ledgerbridge.commands._compose import pass_health_listener
from ledgerbridge.runtime.runner import EngineRunner
from ledgerbridge.settings import Settings
from ledgerbridge.store import Store, TokenCipher, generate_key
from ledgerbridge.sync.errors import ErrorCategory, TransientError
from ledgerbridge.sync.report import PassReport
from ledgerbridge.sync.rules import ObjectPair
from ledgerbridge.web.pages.common import DashboardContext
from ledgerbridge.web.pass_health import PassHealth, Problem, problem_of

AT = dt.datetime(2026, 12, 5, 21, 6, 38, tzinfo=dt.UTC)


def _failed_report(error: TransientError) -> PassReport:
    report = PassReport()
    pair = report.pair(ObjectPair.CONTACTS_CUSTOMERS)
    pair.error = f"{error.category.value}: {error.detail}"
    pair.failure = error
    return report


def test_the_runtime_listener_counts_a_pass_that_finished_with_a_rule_failed(
    tmp_path: Path,
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}", TokenCipher(generate_key().encode()))
    try:
        runner = EngineRunner(store, Settings())
        ctx = DashboardContext(store)
        listen = pass_health_listener(ctx, runner)
        down = TransientError(ErrorCategory.SERVICE_UNAVAILABLE, "QBO 10000 System", status=500)
        runner.last_reports[7] = _failed_report(down)
        listen(7, None)  # the pass returned, its contacts rule failed as a whole
        listen(7, RuntimeError("store locked"))  # the next one raised
        health = ctx.passes[7]
        assert health.failing and health.failed_in_row == 2
        assert health.problem == Problem(ErrorCategory.UNKNOWN, "RuntimeError: store locked")
        runner.last_reports[7] = PassReport()
        listen(7, None)  # a pass without errors clears it
        assert not ctx.passes[7].failing and ctx.passes[7].failed_in_row == 0
        assert ctx.passes[7].last_ok_at == ctx.passes[7].last_at
    finally:
        store.close()


def test_the_problem_in_plain_words() -> None:
    down = problem_of(
        None,
        _failed_report(
            TransientError(
                ErrorCategory.SERVICE_UNAVAILABLE, "QBO 10000 System Failure Error", status=500
            )
        ),
    )
    assert down is not None
    health = PassHealth.first(AT, down)
    assert health.headline(None) == (
        "QuickBooks is not answering (HTTP 500) since 21:06 UTC — the last pass failed"
    )
    later = health.after(AT + dt.timedelta(minutes=3), down)
    assert later.failing_since == AT and later.failed_in_row == 2
    assert later.headline(None).endswith("since 21:06 UTC — the last 2 passes failed")
    assert "nothing is lost" in later.advice()
    throttled = Problem(ErrorCategory.RATE_LIMITED, "HubSpot answered HTTP 429", 429)
    assert throttled.words(None) == "HubSpot asks for fewer requests (HTTP 429)"
    silent = Problem(ErrorCategory.SERVICE_UNAVAILABLE, "GET http://x/y timed out")
    assert silent.words(None) == "HubSpot or QuickBooks is not answering"
    text_only = PassReport()
    text_only.pair(ObjectPair.PRODUCTS_ITEMS).payment_error = "validation: bad amount"
    problem = problem_of(None, text_only)
    assert problem == Problem(ErrorCategory.VALIDATION, "bad amount")
    assert problem_of(None, PassReport()) is None
    assert later.after(AT + dt.timedelta(minutes=4), None).headline(None) == ""
