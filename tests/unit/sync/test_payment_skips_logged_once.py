"""A payment read again unchanged and skipped for the same reason is logged once
(`sync.payments_pass`: the readers read it again every pass within their overlap)."""

from __future__ import annotations

from ledgerbridge.domain import RecordRef, System
from ledgerbridge.sync.payments import PaymentSkip, SkipReasons
from ledgerbridge.sync.payments_pass import LoggedSkips, _Recorder
from ledgerbridge.sync.report import PairReport
from ledgerbridge.sync.rules import ObjectPair

PAYMENT = RecordRef(System.HUBSPOT, "1067")


def skip_in_a_pass(logged: LoggedSkips, version: str, reason: str) -> int:
    recorder = _Recorder([], PairReport(ObjectPair.INVOICES_INVOICES), logged, {PAYMENT: version})
    recorder.skip(PaymentSkip(PAYMENT, reason))
    return len(recorder.activity)


def test_a_skip_is_logged_again_only_when_the_payment_or_the_reason_changed() -> None:
    logged: LoggedSkips = {}
    waiting = SkipReasons.NOT_SYNCED_INVOICE
    assert skip_in_a_pass(logged, "v1", waiting) == 1
    assert skip_in_a_pass(logged, "v1", waiting) == 0
    assert skip_in_a_pass(logged, "v1", waiting) == 0
    assert skip_in_a_pass(logged, "v2", waiting) == 1  # the payment changed
    assert skip_in_a_pass(logged, "v2", SkipReasons.REFUNDS_OFF) == 1  # another reason


def test_without_a_memory_every_skip_is_logged() -> None:
    recorder = _Recorder([], PairReport(ObjectPair.INVOICES_INVOICES))
    for _ in range(2):
        recorder.skip(PaymentSkip(PAYMENT, "its invoice is not synced"))
    assert len(recorder.activity) == 2
