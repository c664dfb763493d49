"""Parties: HubSpot contacts and companies, QBO customers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ledgerbridge.domain.refs import RecordRef


def normalize_email(email: str | None) -> str | None:
    """The matching form of an email address: trimmed, lower-case; None when blank."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


class PartyKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"


@dataclass(frozen=True, slots=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    @property
    def is_empty(self) -> bool:
        return not any(
            (self.line1, self.line2, self.city, self.region, self.postal_code, self.country)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """A person or company that is billed. `emails[0]` is the primary email."""

    kind: PartyKind = PartyKind.PERSON
    given_name: str | None = None
    family_name: str | None = None
    company_name: str | None = None
    display_name: str | None = None
    emails: tuple[str, ...] = ()
    phone: str | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    notes: str | None = None
    active: bool = True
    ref: RecordRef | None = None

    @property
    def primary_email(self) -> str | None:
        """The normalised primary email, the key that matches contacts with customers."""
        return normalize_email(self.emails[0]) if self.emails else None

    @property
    def full_name(self) -> str | None:
        parts = [p.strip() for p in (self.given_name, self.family_name) if p and p.strip()]
        return " ".join(parts) or None

    def best_display_name(self) -> str | None:
        """The name QBO should show: explicit display name, company, person, email."""
        for candidate in (self.display_name, self.company_name, self.full_name, self.primary_email):
            if candidate and candidate.strip():
                return candidate.strip()
        return None
