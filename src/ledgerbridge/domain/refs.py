"""References to records on one side of a connection."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class System(StrEnum):
    """Where a record lives."""

    HUBSPOT = "hubspot"
    QUICKBOOKS = "quickbooks"

    @property
    def other(self) -> System:
        return System.QUICKBOOKS if self is System.HUBSPOT else System.HUBSPOT


@dataclass(frozen=True, slots=True)
class RecordRef:
    """The id of one record in one system (HubSpot object id or QBO entity Id)."""

    system: System
    id: str

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a record reference needs an id")

    def __str__(self) -> str:
        return f"{self.system.value}:{self.id}"
