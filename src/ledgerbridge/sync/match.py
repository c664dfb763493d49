"""Matching records that exist on both sides before they were linked, and DisplayNames.

- R-CUS-1: contacts ↔ customers by primary email (trimmed, case-insensitive).
- R-PRD-1: products ↔ items by SKU (trimmed; SKUs keep their case).
- R-CUS-2: legacy matching by first name + last name + email (legacy workflow mode).
- Ambiguity (two candidates with one key) is reported, never guessed.
- R-CUS-3: QBO DisplayNames are unique across customers, vendors and employees;
  `resolve_display_name` applies the rule's policy.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ledgerbridge.domain import Party, RecordRef, normalize_email, normalize_sku
from ledgerbridge.sync.defaults import MATCH_FIELD
from ledgerbridge.sync.mapping import snapshot
from ledgerbridge.sync.model import CanonicalValue, RefIndex, SideRecord
from ledgerbridge.sync.rules import DisplayNamePolicy, ObjectPair, SyncRule


class MatchKind(StrEnum):
    NONE = "none"
    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class MatchResult:
    kind: MatchKind
    refs: tuple[RecordRef, ...] = ()

    @property
    def ref(self) -> RecordRef | None:
        return self.refs[0] if self.kind is MatchKind.MATCHED else None


def match_key(pair: ObjectPair, snap: Mapping[str, CanonicalValue]) -> str | None:
    """The key that matches a record across sides (None: it cannot be matched)."""
    name = MATCH_FIELD.get(pair)
    value = snap.get(name) if name else None
    if not isinstance(value, str):
        return None
    if pair is ObjectPair.CONTACTS_CUSTOMERS:
        return normalize_email(value)
    return normalize_sku(value)


def index_by_key(
    pair: ObjectPair, records: Iterable[tuple[SideRecord, Mapping[str, CanonicalValue]]]
) -> dict[str, list[SideRecord]]:
    """Records (with their snapshots) grouped by match key; one entry per record id."""
    result: dict[str, list[SideRecord]] = {}
    seen: set[RecordRef] = set()
    for record, snap in records:
        key = match_key(pair, snap)
        if key is None or record.ref in seen:
            continue
        seen.add(record.ref)
        result.setdefault(key, []).append(record)
    return result


def find_match(key: str | None, index: Mapping[str, Sequence[SideRecord]]) -> MatchResult:
    if key is None:
        return MatchResult(MatchKind.NONE)
    found = tuple(sorted((r.ref for r in index.get(key, ())), key=lambda r: r.id))
    if not found:
        return MatchResult(MatchKind.NONE)
    return MatchResult(MatchKind.MATCHED if len(found) == 1 else MatchKind.AMBIGUOUS, found)


def lookup_keys(rule: SyncRule, records: Iterable[SideRecord], refs: RefIndex) -> set[str]:
    """Keys the engine should look up on the other side before planning."""
    keys = {match_key(rule.object_pair, snapshot(rule, r, refs)) for r in records}
    return {k for k in keys if k is not None}


# ---- legacy matching (R-CUS-2) ----


def legacy_key(party: Party) -> tuple[str, str, str] | None:
    """First name + last name + email, normalised; None when any part is missing."""
    first = (party.given_name or "").strip().casefold()
    last = (party.family_name or "").strip().casefold()
    email = party.primary_email
    if not (first and last and email):
        return None
    return first, last, email


def legacy_match(contact: Party, customers: Sequence[SideRecord]) -> MatchResult:
    """R-CUS-2: the customer with the contact's first name, last name and email.

    No match means the workflow action creates a new customer; two matches are
    ambiguous and fail. (When several contacts are associated with the deal or
    quote, the caller passes the first associated one.)
    """
    key = legacy_key(contact)
    if key is None:
        return MatchResult(MatchKind.NONE)
    index: dict[str, list[SideRecord]] = {}
    for record in customers:
        if isinstance(record.domain, Party) and legacy_key(record.domain) == key:
            index.setdefault("|".join(key), []).append(record)
    return find_match("|".join(key), index)


# ---- DisplayName policy (R-CUS-3) ----


def _clean(name: str) -> str:
    # QBO refuses ':' in names (it separates sub-customers).
    return " ".join(name.replace(":", "-").split())


def display_name_candidates(party: Party) -> list[str]:
    """The names tried in order under the `disambiguate` policy (before numbering)."""
    base = party.best_display_name() or "Customer"
    names = [base]
    full, email, company = party.full_name, party.primary_email, party.company_name
    if company and full and base != full:
        names.append(f"{base} ({full})")
    if email and base != email:
        names.append(f"{names[-1]} ({email})" if len(names) > 1 else f"{base} ({email})")
    return [_clean(n) for n in names]


def resolve_display_name(
    party: Party, taken: Collection[str], policy: DisplayNamePolicy
) -> str | None:
    """The DisplayName for a new QBO customer; None when `strict` and it is taken.

    `taken` are the names in use (compared case-insensitively, as QBO does). The
    result is deterministic: the same party and names always give the same result.
    """
    used = {t.strip().casefold() for t in taken}
    candidates = display_name_candidates(party)
    if policy is DisplayNamePolicy.STRICT:
        return candidates[0] if candidates[0].casefold() not in used else None
    for name in candidates:
        if name.casefold() not in used:
            return name
    last = candidates[-1]
    n = 2
    while f"{last} ({n})".casefold() in used:
        n += 1
    return f"{last} ({n})"
