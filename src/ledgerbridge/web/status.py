"""The sync-health summary shared by the status page and `/api/status` (R-HLT-3, R-HLT-5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerbridge.store import RecordStatus, Store, retries
from ledgerbridge.sync.errors import ErrorCategory
from ledgerbridge.web.pass_health import PassHealth, health_dict

COUNTED = (RecordStatus.SYNCED, RecordStatus.FAILED, RecordStatus.EXCLUDED)


def _category(value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    try:
        category = ErrorCategory(value)
    except ValueError:
        category = ErrorCategory.UNKNOWN
    return {
        "id": category.value,
        "title": category.headline,
        "explanation": category.explanation,
        "fix": category.fix,
    }


def _retry(entry: retries.ScheduledRecord | None) -> dict[str, Any]:
    """A failure's retry schedule: its scheduled tries that failed (the first failure and
    each retry when due or asked for; not the passes that only read it again), the next
    attempt (None: it waits for a change, a linked dependency or a retry on request),
    whether it needs attention."""
    if entry is None:
        return {"retries": 0, "next_attempt_at": None, "needs_attention": False}
    at = entry.next_attempt_at
    return {
        "retries": entry.retries,
        "next_attempt_at": at.isoformat() if at is not None else None,
        "needs_attention": entry.needs_attention,
    }


def status_summary(
    store: Store, failures: int = 10, passes: Mapping[int, PassHealth] | None = None
) -> dict[str, Any]:
    """Per connection: status, whether its passes fail right now (`sync`, from the
    runtime's `passes`), counts per object type, the latest failures explained and the
    latest excluded records with the filter that excluded each."""
    result: list[dict[str, Any]] = []
    with store.begin() as tx:
        for connection in tx.list_connections():
            counts = tx.count_records(connection.id)
            objects = {
                object_type: {status.value: by_status.get(status, 0) for status in COUNTED}
                for object_type, by_status in sorted(counts.items())
            }
            latest = tx.list_records(connection.id, status=RecordStatus.FAILED, limit=failures)
            excluded = tx.list_records(connection.id, status=RecordStatus.EXCLUDED, limit=failures)
            keys = [(r.object_type, r.side, r.record_id) for r in latest]
            schedule = retries.schedules_for(tx, connection.id, keys)
            result.append(
                {
                    "id": connection.id,
                    "name": connection.name,
                    "status": connection.status.value,
                    "status_detail": connection.status_detail,
                    "sync": health_dict((passes or {}).get(connection.id), connection),
                    "hubspot_portal_id": connection.hubspot_portal_id,
                    "qbo_realm_id": connection.qbo_realm_id,
                    "warnings": list(connection.options.get("setup_warnings", [])),
                    "objects": objects,
                    "totals": {
                        status.value: sum(o[status.value] for o in objects.values())
                        for status in COUNTED
                    },
                    "needs_attention": retries.needs_attention(tx, connection.id),
                    "failures": [
                        {
                            "object_type": r.object_type,
                            "side": r.side,
                            "record_id": r.record_id,
                            "label": r.label,
                            "detail": r.detail,
                            "attempts": r.attempts,
                            "last_attempt_at": r.last_attempt_at.isoformat(),
                            "category": _category(r.error_category),
                            **_retry(schedule.get((r.object_type, r.side, r.record_id))),
                        }
                        for r in latest
                    ],
                    # Which filter holds each record back (R-CON-7).
                    "excluded": [
                        {
                            "object_type": r.object_type,
                            "side": r.side,
                            "record_id": r.record_id,
                            "label": r.label,
                            "excluded_by": r.excluded_by,
                            "last_attempt_at": r.last_attempt_at.isoformat(),
                        }
                        for r in excluded
                    ],
                }
            )
    return {"connections": result}
