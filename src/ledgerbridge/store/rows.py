"""Plain records read from the store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RecordStatus(StrEnum):
    SYNCED = "synced"
    FAILED = "failed"
    EXCLUDED = "excluded"
    PENDING = "pending"


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    id: int
    name: str
    hubspot_portal_id: str | None
    qbo_realm_id: str | None
    hubspot_base_url: str
    qbo_base_url: str
    status: ConnectionStatus
    status_detail: str | None
    options: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: int
    connection_id: int
    object_pair: str
    enabled: bool
    config: dict[str, Any]
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class LinkRow:
    """One linked pair (HubSpot id, QBO id), with per-side version, hash and the base
    snapshot (mapped fields as of the last successful sync)."""

    connection_id: int
    object_type: str
    hubspot_id: str
    qbo_id: str
    hubspot_version: str | None
    qbo_version: str | None
    hubspot_hash: str | None
    qbo_hash: str | None
    base: dict[str, Any]
    origin: str | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class SyncRecordRow:
    connection_id: int
    object_type: str
    side: str
    record_id: str
    label: str | None
    status: RecordStatus
    error_category: str | None
    detail: str | None
    excluded_by: str | None
    attempts: int
    first_seen_at: dt.datetime
    last_attempt_at: dt.datetime
    last_synced_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ActivityRow:
    id: int
    connection_id: int
    at: dt.datetime
    object_type: str
    side: str
    record_id: str
    direction: str
    operation: str
    outcome: str
    details: dict[str, Any]
