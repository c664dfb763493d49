"""Errors, answering two separate questions (ARCHITECTURE.md, "Errors").

* What should the machine do?  `TransientError` (retry with backoff) or
  `TerminalError` (the record fails and waits for a person).
* What should the user do?  An `ErrorCategory`, each with a title, a
  plain-language explanation and the fix, shown in the dashboard (R-HLT-5).

Third-party exceptions (httpx, HTTP statuses, QBO Faults, HubSpot error
bodies) are translated into these at the connector edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledgerbridge.errors import LedgerbridgeError


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    title: str
    explanation: str
    fix: str


class ErrorCategory(StrEnum):
    """Why a record failed. The values are stable: they are stored and shown."""

    DUPLICATE_DISPLAY_NAME = "duplicate_display_name"
    DUPLICATE_ITEM_NAME = "duplicate_item_name"
    MISSING_CUSTOMER = "missing_customer"
    HUBSPOT_INVOICE_EDITED_IN_QBO = "hubspot_invoice_edited_in_qbo"
    REVENUE_RECOGNITION_SERVICE_DATE = "revenue_recognition_service_date"
    TAX_REQUIRED = "tax_required"
    AMBIGUOUS_MATCH = "ambiguous_match"
    MISSING_PRODUCT = "missing_product"
    CONTACT_FILTERED = "contact_filtered"
    DUPLICATE_DOCUMENT_NUMBER = "duplicate_document_number"
    DOUBLE_POST = "double_post"
    UNSUPPORTED_COMPANY = "unsupported_company"
    STALE_OBJECT = "stale_object"
    NOT_FOUND = "not_found"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    RATE_LIMITED = "rate_limited"
    VALIDATION = "validation"
    SERVICE_UNAVAILABLE = "service_unavailable"
    UNKNOWN = "unknown"

    @property
    def info(self) -> CategoryInfo:
        return CATALOGUE[self]

    @property
    def headline(self) -> str:
        """The category's title (`str.title` is taken by the str base class)."""
        return CATALOGUE[self].title

    @property
    def explanation(self) -> str:
        return CATALOGUE[self].explanation

    @property
    def fix(self) -> str:
        return CATALOGUE[self].fix


CATALOGUE: dict[ErrorCategory, CategoryInfo] = {
    ErrorCategory.DUPLICATE_DISPLAY_NAME: CategoryInfo(
        "Display name is a duplicate",
        "QuickBooks requires every customer, vendor and employee to have a unique display "
        "name. Another QuickBooks record already uses the name this contact would get, "
        "often because a second contact of the same company takes the company's name.",
        "Rename one of the records, give the contact a different company or name, or switch "
        "the contact rule's display-name policy to 'disambiguate', which names it "
        "'Company (First Last)'. Then retry the record.",
    ),
    ErrorCategory.DUPLICATE_ITEM_NAME: CategoryInfo(
        "Product name is a duplicate",
        "QuickBooks requires every product and service (item) to have a unique name. "
        "Another QuickBooks item already uses the name this product would get, but it "
        "has no SKU or another SKU, so the product rule could not link the two.",
        "Rename the product in HubSpot or the item in QuickBooks; or, if they are the same "
        "product, give the QuickBooks item the product's SKU so that the product rule links "
        "them. Then retry the record.",
    ),
    ErrorCategory.MISSING_CUSTOMER: CategoryInfo(
        "An invoice should have an associated customer",
        "An invoice should have an associated customer. Make sure the associated customer "
        "exists in both HubSpot and QuickBooks Online to sync this invoice.",
        "Associate a contact that has an email address with the invoice, and make sure the "
        "customer syncs to the side the invoice goes to (the contact rule's direction and "
        "filters), then retry.",
    ),
    ErrorCategory.HUBSPOT_INVOICE_EDITED_IN_QBO: CategoryInfo(
        "HubSpot invoice edited in QuickBooks",
        "Changes to line items or invoice amounts on HubSpot invoices can't be made from an "
        "external application; make them in HubSpot.",
        "Revert the change in QuickBooks (restore the lines and amounts), and make the change "
        "on the invoice in HubSpot instead. The record syncs again once the two agree.",
    ),
    ErrorCategory.REVENUE_RECOGNITION_SERVICE_DATE: CategoryInfo(
        "Business validation error: enter a service date for the revenue recognition line",
        "Revenue recognition is on in this QuickBooks company, so every invoice line needs a "
        "service date. HubSpot line items have none.",
        "Turn on the invoice rule's service-date mapping (for example 'use the invoice date'), "
        "or turn revenue recognition off in QuickBooks, then retry.",
    ),
    ErrorCategory.TAX_REQUIRED: CategoryInfo(
        "Tax is required by this QuickBooks company",
        "Most QuickBooks companies outside the US require tax on every invoice, and HubSpot "
        "invoices carry no tax, so QuickBooks refuses them.",
        "Sync invoices from QuickBooks to HubSpot only, or add taxes as ordinary line items "
        "with items synced from QuickBooks.",
    ),
    ErrorCategory.AMBIGUOUS_MATCH: CategoryInfo(
        "More than one record matches",
        "Two or more records on the other side have the same matching key (email address "
        "for contacts, SKU for products), so the sync cannot tell which one is the same "
        "record, and it never guesses.",
        "Make the key unique (merge or change the duplicate records), then retry.",
    ),
    ErrorCategory.MISSING_PRODUCT: CategoryInfo(
        "A line item matches no QuickBooks product",
        "A line item could not be matched to a QuickBooks item and creating missing products "
        "is turned off.",
        "Sync the product first (give it a SKU), or turn on 'create the product in QuickBooks "
        "if it doesn't exist', then retry.",
    ),
    ErrorCategory.CONTACT_FILTERED: CategoryInfo(
        "The contact does not meet the contact sync rule",
        "The workflow action needs a contact that the contact sync rule's filters allow, and "
        "this contact is excluded, so nothing was created in QuickBooks.",
        "Change the contact so that it meets the contact rule's filters, or change the "
        "filters, then re-enroll the record.",
    ),
    ErrorCategory.DUPLICATE_DOCUMENT_NUMBER: CategoryInfo(
        "Duplicate document number",
        "QuickBooks already has a transaction with this number. This happens when 'custom "
        "transaction numbers' is on in QuickBooks and numbers from HubSpot collide.",
        "Turn off custom transaction numbers in QuickBooks (Account and settings > Sales), or "
        "change the document number, then retry.",
    ),
    ErrorCategory.DOUBLE_POST: CategoryInfo(
        "The payment would be posted twice",
        "This payment belongs to an invoice that invoice sync already posts to QuickBooks; "
        "posting it from a workflow as well would record one payment against two invoices.",
        "Exclude payments whose source is an invoice from the workflow's enrollment trigger.",
    ),
    ErrorCategory.UNSUPPORTED_COMPANY: CategoryInfo(
        "Not supported for this QuickBooks company",
        "This feature is only available for QuickBooks companies in the United States.",
        "Use a US QuickBooks company for this feature, or turn it off for this connection.",
    ),
    ErrorCategory.STALE_OBJECT: CategoryInfo(
        "The record changed while it was being synced",
        "Someone edited the record at the same time as the sync wrote it.",
        "Nothing to do: the sync re-reads the record and tries again. If it keeps failing, "
        "retry the record.",
    ),
    ErrorCategory.NOT_FOUND: CategoryInfo(
        "A referenced record does not exist",
        "The record, or a record it refers to (customer, item, account), was deleted or made "
        "inactive on the other side.",
        "Restore or reactivate the referenced record, or change the reference, then retry.",
    ),
    ErrorCategory.AUTHENTICATION: CategoryInfo(
        "The connection needs to be authorized again",
        "The access granted to ledgerbridge expired or was revoked, so the account cannot be "
        "reached. Nothing is lost: changes wait until the connection works again.",
        "Reconnect the account (`ledgerbridge connect hubspot` or `ledgerbridge connect qbo`).",
    ),
    ErrorCategory.PERMISSION: CategoryInfo(
        "Permission denied",
        "The connected user or app lacks a permission or scope that this operation needs.",
        "Reconnect with a user that has admin rights and grant every requested scope.",
    ),
    ErrorCategory.RATE_LIMITED: CategoryInfo(
        "Rate limited",
        "The service asked us to slow down (HTTP 429). The sync waits and retries automatically.",
        "Nothing to do unless it persists; then lower the sync frequency or check other apps "
        "that use the same account's API limits.",
    ),
    ErrorCategory.VALIDATION: CategoryInfo(
        "The other side rejected the record",
        "The record is missing a required value or has a value the other side does not "
        "accept. The detail says which field.",
        "Correct the field named in the detail, then retry the record.",
    ),
    ErrorCategory.SERVICE_UNAVAILABLE: CategoryInfo(
        "The service is unavailable",
        "The service returned server errors or did not answer in time. The sync retries "
        "automatically.",
        "Nothing to do unless it persists; then check the service's status page.",
    ),
    ErrorCategory.UNKNOWN: CategoryInfo(
        "Unknown error",
        "Something unexpected went wrong; the detail has the technical message.",
        "Retry the record. If it fails again, report the detail to your administrator.",
    ),
}


class SyncError(LedgerbridgeError):
    """Base of every error the engine handles. Carries the user-facing category.

    Part of the `LedgerbridgeError` tree (see `ledgerbridge.errors`): `what` is the
    detail and `fix` is the category's fix, so the command line renders it like any
    other error; `transient` and `category` are what the engine decides on.
    """

    transient: bool = False

    def __init__(
        self,
        category: ErrorCategory,
        detail: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail or category.headline, fix=category.fix)
        self.category = category
        self.detail = detail or category.headline
        self.status = status
        self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.category.value!r}, {self.detail!r})"


class TransientError(SyncError):
    """Retry later with backoff (429, 5xx, time-outs, lost connections, stale objects)."""

    transient = True

    def __init__(
        self,
        category: ErrorCategory,
        detail: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(category, detail, status=status, code=code)
        self.retry_after = retry_after


class TerminalError(SyncError):
    """Retrying will not help: the record fails until a person fixes the cause."""


class AuthenticationError(TerminalError):
    """The grant expired or was revoked: the whole connection waits for a reconnect."""

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(ErrorCategory.AUTHENTICATION, detail, status=status)


class Outcome(StrEnum):
    """What the machine does about a failed call."""

    RETRY = "retry"  # TransientError: back off and try again
    FAIL = "fail"  # TerminalError: the record fails until a person fixes the cause
    RECONNECT = "reconnect"  # AuthenticationError: the whole connection waits


@dataclass(frozen=True, slots=True)
class Resolution:
    """The decision of one row of a connector's error table (`qbo.faults`,
    `hubspot.errors`): what the machine does and which `ErrorCategory` the user sees.
    Both connectors' tables map their own keys (HTTP status, QBO Fault code or type,
    HubSpot category) to this one type, and `error` turns it into the exception."""

    outcome: Outcome
    category: ErrorCategory

    @property
    def transient(self) -> bool:
        return self.outcome is Outcome.RETRY

    def error(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> SyncError:
        if self.outcome is Outcome.RECONNECT:
            return AuthenticationError(detail, status=status)
        if self.outcome is Outcome.RETRY:
            return TransientError(
                self.category, detail, status=status, code=code, retry_after=retry_after
            )
        return TerminalError(self.category, detail, status=status, code=code)


def retry(category: ErrorCategory) -> Resolution:
    """A table entry: retry with backoff, showing `category` meanwhile."""
    return Resolution(Outcome.RETRY, category)


def fail(category: ErrorCategory) -> Resolution:
    """A table entry: the record fails with `category`."""
    return Resolution(Outcome.FAIL, category)


RECONNECT = Resolution(Outcome.RECONNECT, ErrorCategory.AUTHENTICATION)
"""A table entry: the grant expired or was revoked; the connection needs a reconnect."""
