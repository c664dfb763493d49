"""One exception tree under `LedgerbridgeError`, and one resolution type for both
connectors' error tables."""

from __future__ import annotations

import pytest

from ledgerbridge import errors
from ledgerbridge.errors import LedgerbridgeError
from ledgerbridge.hubspot import errors as hubspot_errors
from ledgerbridge.operations.backfill import BackfillError
from ledgerbridge.operations.connect import ConnectError
from ledgerbridge.operations.invoices import InvoiceNotSyncedError
from ledgerbridge.qbo import faults
from ledgerbridge.runtime.connection import ConnectionNotFoundError, NoConnectionError
from ledgerbridge.store import SecretKeyError
from ledgerbridge.sync.errors import (
    RECONNECT,
    AuthenticationError,
    ErrorCategory,
    Outcome,
    Resolution,
    SyncError,
    TerminalError,
    TransientError,
    fail,
    retry,
)


@pytest.mark.parametrize(
    "kind",
    [
        BackfillError,
        ConnectError,
        InvoiceNotSyncedError,
        ConnectionNotFoundError,
        NoConnectionError,
        SecretKeyError,
        SyncError,
        *(getattr(errors, name) for name in errors.__all__),
    ],
)
def test_every_error_a_user_can_cause_is_a_ledgerbridge_error_with_a_fix(kind: type) -> None:
    assert issubclass(kind, LedgerbridgeError)
    assert kind.__doc__  # the docstring says when it is raised
    if kind is not SyncError and not issubclass(kind, SyncError):
        error = kind("it broke")
        assert (error.fix and error.fix != LedgerbridgeError.fix) or kind is LedgerbridgeError


def test_the_old_modules_export_the_same_classes_as_the_tree() -> None:
    assert BackfillError is errors.BackfillError
    assert ConnectError is errors.ConnectError
    assert NoConnectionError is errors.NoConnectionError
    assert SecretKeyError is errors.SecretKeyError


def test_render_is_what_then_fix_and_str_is_what() -> None:
    error = errors.UsageError("the folder x does not exist", fix="create it first")
    assert str(error) == "the folder x does not exist"
    assert error.render() == "error: the folder x does not exist — create it first"
    assert errors.StoreError("db down").render().endswith(" — " + errors.StoreError.fix)


def test_a_sync_error_renders_its_detail_and_its_category_fix() -> None:
    error = TerminalError(ErrorCategory.DUPLICATE_DISPLAY_NAME, "QBO 6240 Duplicate Name")
    assert error.what == "QBO 6240 Duplicate Name" == str(error)
    assert error.fix == ErrorCategory.DUPLICATE_DISPLAY_NAME.fix
    assert AuthenticationError().render() == (
        f"error: {ErrorCategory.AUTHENTICATION.headline} — {ErrorCategory.AUTHENTICATION.fix}"
    )


@pytest.mark.parametrize(
    ("resolution", "kind", "transient"),
    [
        (retry(ErrorCategory.RATE_LIMITED), TransientError, True),
        (fail(ErrorCategory.VALIDATION), TerminalError, False),
        (RECONNECT, AuthenticationError, False),
    ],
)
def test_a_resolution_makes_the_error_of_its_outcome(
    resolution: Resolution, kind: type[SyncError], transient: bool
) -> None:
    error = resolution.error("detail", status=418, code="X", retry_after=2.0)
    assert type(error) is kind
    assert error.transient is transient is resolution.transient
    assert error.category is resolution.category
    assert error.status == 418 and error.detail == "detail"
    if isinstance(error, TransientError):
        assert error.retry_after == 2.0


def test_both_connector_tables_are_made_of_resolutions() -> None:
    qbo = [*faults.CODE_RULES.values(), *faults.STATUS_RULES.values()]
    qbo += faults.TYPE_RULES.values()
    hubspot = [rule.resolution for rule in hubspot_errors.RULES]
    for resolution in (*qbo, *hubspot):
        assert isinstance(resolution, Resolution)
        # an authentication failure always waits for a reconnect, and only it does
        reconnects = resolution.outcome is Outcome.RECONNECT
        assert reconnects is (resolution.category is ErrorCategory.AUTHENTICATION)
    assert faults.STATUS_RULES[401] == RECONNECT == hubspot_errors.RULES[2].resolution
