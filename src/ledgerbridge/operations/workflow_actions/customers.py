"""The contact check (R-WF-3) and the QBO customer of an execution.

* Legacy mode (R-CUS-2): the customer is matched by first name + last name + email; when
  none matches, a customer is created (after every other check passed). The contact is
  the one named by the `customer_contact_id` input, else the first associated contact.
* Contact-rule mode: the contact must meet the contact sync rule's filters (HubSpot → QBO
  flow, evaluated by `sync.filters`); otherwise the action fails and nothing is written.
  The customer is the one the sync linked to the contact, else the one with the same
  email (R-CUS-1), else a new one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ledgerbridge.domain.refs import RecordRef, System
from ledgerbridge.hubspot.actions import ExecutionRequest
from ledgerbridge.hubspot.client import HubSpotClient
from ledgerbridge.hubspot.codec import decode_contact
from ledgerbridge.hubspot.objects import HubSpotRecord
from ledgerbridge.operations.workflow_actions.gather import read_contact
from ledgerbridge.operations.workflow_actions.model import ActionFailed, Enrolled, Lookups, Pending
from ledgerbridge.qbo.changes import ql_string
from ledgerbridge.qbo.client import QboClient
from ledgerbridge.qbo.workflow_docs import find_customers_by_name
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.sync.filters import first_failing
from ledgerbridge.sync.model import SideRecord

__all__ = ["CustomerPlan", "plan_customer"]

LEGACY = "legacy"


@dataclass(frozen=True, slots=True)
class CustomerPlan:
    """The customer: an existing QBO id, or a create to do once every check passed."""

    contact_id: str
    customer_id: str | None = None
    create: Pending | None = None


def _name(contact: HubSpotRecord) -> str:
    parts = [contact.get("firstname"), contact.get("lastname")]
    name = " ".join(p for p in parts if p)
    return name or contact.get("email") or f"contact {contact.id}"


async def _display_name(qbo: QboClient, contact: HubSpotRecord) -> str:
    """ "First Last"; when a customer, vendor or employee already has it (QBO display names
    are unique across the three, R-CUS-3), "First Last (email)" or "First Last (contact N)"."""
    name = _name(contact).replace(":", " ")
    for entity in ("Customer", "Vendor", "Employee"):
        taken = await qbo.query_all(
            f"SELECT * FROM {entity} WHERE DisplayName = {ql_string(name)}", page_size=10
        )
        if taken:
            suffix = contact.get("email") or f"contact {contact.id}"
            return f"{name} ({suffix})".replace(":", " ")[:100]
    return name[:100]


async def _new_customer(qbo: QboClient, contact: HubSpotRecord) -> Pending:
    first, last, email = contact.get("firstname"), contact.get("lastname"), contact.get("email")
    body: dict[str, object] = {"DisplayName": await _display_name(qbo, contact)}
    if first:
        body["GivenName"] = first
    if last:
        body["FamilyName"] = last
    if email:
        body["PrimaryEmailAddr"] = {"Address": email}
    if contact.get("company"):
        body["CompanyName"] = contact.get("company")
    return Pending("customer", "Customer", body)


async def _legacy(qbo: QboClient, contact: HubSpotRecord) -> CustomerPlan:
    first, last, email = contact.get("firstname"), contact.get("lastname"), contact.get("email")
    if not (first and last and email):
        raise ActionFailed(
            ErrorCategory.MISSING_CUSTOMER,
            f"Legacy matching needs the contact's first name, last name and email; contact "
            f"{contact.id} ({_name(contact)}) lacks some. Fill them in HubSpot and re-enroll.",
        )
    matches = [
        row
        for row in await find_customers_by_name(qbo, first, last)
        if str((row.get("PrimaryEmailAddr") or {}).get("Address", "")).casefold()
        == email.casefold()
    ]
    if len(matches) > 1:
        ids = ", ".join(str(m["Id"]) for m in matches)
        raise ActionFailed(
            ErrorCategory.AMBIGUOUS_MATCH,
            f"Several QuickBooks customers ({ids}) are named {first} {last} with email {email}.",
        )
    if matches:
        return CustomerPlan(contact.id, customer_id=str(matches[0]["Id"]))
    return CustomerPlan(contact.id, create=await _new_customer(qbo, contact))


async def _by_rule(
    qbo: QboClient, lookups: Lookups, contact: HubSpotRecord, now: dt.datetime
) -> CustomerPlan:
    rule = (await lookups.rules()).contacts
    if rule is None or not rule.enabled or System.HUBSPOT not in rule.direction.sources:
        raise ActionFailed(
            ErrorCategory.CONTACT_FILTERED,
            "The contact sync rule is missing, off, or does not sync HubSpot contacts to "
            "QuickBooks; set it up, or choose legacy contact matching in the action.",
        )
    record = SideRecord(
        ref=RecordRef(System.HUBSPOT, contact.id),
        version=None,
        updated_at=contact.updated_at or now,
        domain=decode_contact(contact),
        raw=dict(contact.properties),
    )
    failing = first_failing(rule.filters_for(System.HUBSPOT), record, None, rule.sync_started_at)
    if failing is not None:
        raise ActionFailed(
            ErrorCategory.CONTACT_FILTERED,
            f"Contact {contact.id} ({_name(contact)}) does not meet the contact sync rule's "
            f"filter '{failing.describe()}'; nothing was created in QuickBooks.",
        )
    linked = await lookups.customer_for_contact(contact.id)
    if linked is not None:
        return CustomerPlan(contact.id, customer_id=linked)
    email = contact.get("email")
    if email:
        rows = await qbo.query_all(
            f"SELECT * FROM Customer WHERE PrimaryEmailAddr = {ql_string(email)} AND Active = true",
            page_size=10,
        )
        if len(rows) > 1:
            raise ActionFailed(
                ErrorCategory.AMBIGUOUS_MATCH,
                f"Several QuickBooks customers have the email {email}.",
            )
        if rows:
            return CustomerPlan(contact.id, customer_id=str(rows[0]["Id"]))
    return CustomerPlan(contact.id, create=await _new_customer(qbo, contact))


async def plan_customer(
    hubspot: HubSpotClient,
    qbo: QboClient,
    lookups: Lookups,
    request: ExecutionRequest,
    enrolled: Enrolled,
    now: dt.datetime,
) -> CustomerPlan:
    """Check the contact and decide the customer (nothing is written here)."""
    contact_id = request.input("customer_contact_id") or (
        enrolled.contact_ids[0] if enrolled.contact_ids else ""
    )
    if not contact_id:
        raise ActionFailed(
            ErrorCategory.MISSING_CUSTOMER,
            f"No contact is associated with {enrolled.noun} {enrolled.object_id}; associate "
            "one (or set the action's Customer input) and re-enroll.",
        )
    contact = await read_contact(hubspot, contact_id)
    if request.input("contact_matching", "sync_rule") == LEGACY:
        return await _legacy(qbo, contact)
    return await _by_rule(qbo, lookups, contact, now)
