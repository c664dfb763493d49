from ledgerbridge.sync.errors import (
    CATALOGUE,
    AuthenticationError,
    ErrorCategory,
    TerminalError,
    TransientError,
)


def test_every_category_has_a_title_an_explanation_and_a_fix() -> None:
    assert set(CATALOGUE) == set(ErrorCategory)
    for category in ErrorCategory:
        assert category.headline.strip()
        assert len(category.explanation) > 20
        assert len(category.fix) > 10


def test_documented_categories_use_the_articles_wording() -> None:
    assert ErrorCategory.DUPLICATE_DISPLAY_NAME.headline == "Display name is a duplicate"
    assert ErrorCategory.REVENUE_RECOGNITION_SERVICE_DATE.headline == (
        "Business validation error: enter a service date for the revenue recognition line"
    )
    assert ErrorCategory.HUBSPOT_INVOICE_EDITED_IN_QBO.explanation.startswith(
        "Changes to line items or invoice amounts on HubSpot invoices"
    )
    assert "exists in both HubSpot and QuickBooks Online" in (
        ErrorCategory.MISSING_CUSTOMER.explanation
    )


def test_transient_and_terminal_are_told_apart() -> None:
    assert TransientError(ErrorCategory.RATE_LIMITED, retry_after=3).transient
    assert not TerminalError(ErrorCategory.VALIDATION, "DisplayName is required").transient
    auth = AuthenticationError("refresh token revoked")
    assert auth.category is ErrorCategory.AUTHENTICATION
    assert not auth.transient
    assert str(auth) == "refresh token revoked"
