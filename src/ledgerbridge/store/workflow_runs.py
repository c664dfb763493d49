"""Workflow action executions (R-WF): one `workflow_runs` row per HubSpot callbackId.

`claim_run` is the idempotency guard of the execution endpoint: the first delivery of a
callbackId inserts a `running` row and runs the action; a re-delivery (HubSpot re-sends
after a time-out) finds the row and gets the recorded outcome instead of a second run.
`finish_run` records the outcome, and mirrors it as a sync record (object type
`workflow_action`) with an activity entry, so executions show wherever sync health is
shown and failures carry their error category.

Functions take a `Tx` (its SQLAlchemy connection is `tx.connection`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import RowMapping, select, update

from ledgerbridge.domain.refs import System
from ledgerbridge.store import schema
from ledgerbridge.store.repository import Tx
from ledgerbridge.store.rows import RecordStatus

__all__ = [
    "OBJECT_TYPE",
    "RunOutcome",
    "RunStatus",
    "WorkflowRun",
    "claim_run",
    "finish_run",
    "get_run",
    "linked_hubspot_ids",
    "linked_qbo_id",
    "list_runs",
    "mark_associated",
    "record_id_of",
    "runs_to_associate",
]

OBJECT_TYPE = "workflow_action"
"""The object type of workflow executions in `sync_records` and `activity`."""


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WorkflowRun:
    connection_id: int
    callback_id: str
    action: str
    object_type: str
    object_id: str
    status: RunStatus
    qbo_entity: str | None
    qbo_id: str | None
    doc_number: str | None
    qbo_url: str | None
    error_category: str | None
    detail: str | None
    deliveries: int
    hubspot_document_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How an execution ended: a QBO document, or a failure with its category."""

    status: RunStatus
    qbo_entity: str | None = None
    qbo_id: str | None = None
    doc_number: str | None = None
    qbo_url: str | None = None
    error_category: str | None = None
    detail: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def record_id_of(callback_id: str) -> str:
    """The sync record id of an execution: the callbackId (hashed when over 64 characters)."""
    if len(callback_id) <= 64:
        return callback_id
    return "cb-" + hashlib.sha256(callback_id.encode()).hexdigest()[:61]


def _run(row: RowMapping) -> WorkflowRun:
    return WorkflowRun(
        connection_id=row["connection_id"],
        callback_id=row["callback_id"],
        action=row["action"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        status=RunStatus(row["status"]),
        qbo_entity=row["qbo_entity"],
        qbo_id=row["qbo_id"],
        doc_number=row["doc_number"],
        qbo_url=row["qbo_url"],
        error_category=row["error_category"],
        detail=row["detail"],
        deliveries=row["deliveries"],
        hubspot_document_id=row["hubspot_document_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def get_run(tx: Tx, connection_id: int, callback_id: str) -> WorkflowRun | None:
    table = schema.workflow_runs
    row = (
        tx.connection.execute(
            select(table).where(
                table.c.connection_id == connection_id, table.c.callback_id == callback_id
            )
        )
        .mappings()
        .first()
    )
    return _run(row) if row is not None else None


def claim_run(
    tx: Tx,
    connection_id: int,
    *,
    callback_id: str,
    action: str,
    object_type: str,
    object_id: str,
    now: dt.datetime | None = None,
) -> tuple[WorkflowRun, bool]:
    """(the run, True) for the first delivery of `callback_id`; (the existing run, False)
    for a re-delivery, whose `deliveries` count goes up by one."""
    table = schema.workflow_runs
    at = now or _now()
    existing = get_run(tx, connection_id, callback_id)
    if existing is None:
        tx.connection.execute(
            table.insert().values(
                connection_id=connection_id,
                callback_id=callback_id,
                action=action,
                object_type=object_type,
                object_id=object_id,
                status=RunStatus.RUNNING.value,
                deliveries=1,
                created_at=at,
                updated_at=at,
            )
        )
        run = get_run(tx, connection_id, callback_id)
        assert run is not None
        return run, True
    tx.connection.execute(
        update(table)
        .where(table.c.connection_id == connection_id, table.c.callback_id == callback_id)
        .values(deliveries=table.c.deliveries + 1, updated_at=at)
    )
    run = get_run(tx, connection_id, callback_id)
    assert run is not None
    return run, False


def finish_run(
    tx: Tx,
    connection_id: int,
    callback_id: str,
    outcome: RunOutcome,
    *,
    label: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record how the execution ended, as a sync record with an activity entry."""
    table = schema.workflow_runs
    run = get_run(tx, connection_id, callback_id)
    if run is None:
        raise LookupError(f"no workflow run with callbackId {callback_id}")
    tx.connection.execute(
        update(table)
        .where(table.c.connection_id == connection_id, table.c.callback_id == callback_id)
        .values(
            status=outcome.status.value,
            qbo_entity=outcome.qbo_entity,
            qbo_id=outcome.qbo_id,
            doc_number=outcome.doc_number,
            qbo_url=outcome.qbo_url,
            error_category=outcome.error_category,
            detail=outcome.detail,
            updated_at=now or _now(),
        )
    )
    succeeded = outcome.status is RunStatus.SUCCEEDED
    record_id = record_id_of(callback_id)
    tx.set_record_status(
        connection_id,
        OBJECT_TYPE,
        System.HUBSPOT,
        record_id,
        RecordStatus.SYNCED if succeeded else RecordStatus.FAILED,
        label=label,
        error_category=None if succeeded else outcome.error_category,
        detail=None if succeeded else outcome.detail,
    )
    details: dict[str, Any] = {
        "action": run.action,
        "callback_id": callback_id,
        "enrolled": f"{run.object_type}/{run.object_id}",
    }
    if succeeded:
        details.update(
            qbo_entity=outcome.qbo_entity, qbo_id=outcome.qbo_id, doc_number=outcome.doc_number
        )
    else:
        details.update(error_category=outcome.error_category, detail=outcome.detail)
    tx.append_activity(
        connection_id,
        object_type=OBJECT_TYPE,
        side=System.HUBSPOT,
        record_id=record_id,
        direction="hubspot_to_qbo",
        operation="create",
        outcome="succeeded" if succeeded else "failed",
        details=details,
    )


def list_runs(tx: Tx, connection_id: int, *, limit: int = 100) -> list[WorkflowRun]:
    table = schema.workflow_runs
    rows = tx.connection.execute(
        select(table)
        .where(table.c.connection_id == connection_id)
        .order_by(table.c.id.desc())
        .limit(limit)
    ).mappings()
    return [_run(row) for row in rows]


def linked_qbo_id(tx: Tx, connection_id: int, object_type: str, hubspot_id: str) -> str | None:
    """The QBO id linked to a HubSpot record by the sync (links of `object_type`)."""
    table = schema.links
    row = tx.connection.execute(
        select(table.c.qbo_id).where(
            table.c.connection_id == connection_id,
            table.c.object_type == object_type,
            table.c.hubspot_id == hubspot_id,
        )
    ).first()
    return str(row[0]) if row is not None else None


def linked_hubspot_ids(
    tx: Tx, connection_id: int, object_type: str, hubspot_ids: list[str]
) -> set[str]:
    """Which of `hubspot_ids` the sync has linked (object type `object_type`)."""
    if not hubspot_ids:
        return set()
    table = schema.links
    rows = tx.connection.execute(
        select(table.c.hubspot_id).where(
            table.c.connection_id == connection_id,
            table.c.object_type == object_type,
            table.c.hubspot_id.in_(hubspot_ids),
        )
    )
    return {str(row[0]) for row in rows}


ASSOCIABLE = ("deal", "quote")
"""Enrolled object types whose QBO invoice is associated back (R-WF-4)."""


def runs_to_associate(tx: Tx, connection_id: int) -> list[tuple[WorkflowRun, str]]:
    """(run, HubSpot invoice id) of succeeded invoice runs from deals and quotes whose QBO
    invoice the invoice sync has linked to a HubSpot invoice, not yet associated."""
    table, links = schema.workflow_runs, schema.links
    rows = tx.connection.execute(
        select(table, links.c.hubspot_id.label("linked_hubspot_id"))
        .join(
            links,
            (links.c.connection_id == table.c.connection_id)
            & (links.c.object_type == "invoices_invoices")
            & (links.c.qbo_id == table.c.qbo_id),
        )
        .where(
            table.c.connection_id == connection_id,
            table.c.status == RunStatus.SUCCEEDED.value,
            table.c.qbo_entity == "Invoice",
            table.c.object_type.in_(ASSOCIABLE),
            table.c.hubspot_document_id.is_(None),
        )
        .order_by(table.c.id)
    ).mappings()
    return [(_run(row), str(row["linked_hubspot_id"])) for row in rows]


def mark_associated(tx: Tx, connection_id: int, callback_id: str, hubspot_id: str) -> None:
    """Record that the run's document (HubSpot invoice `hubspot_id`) is associated."""
    table = schema.workflow_runs
    run = get_run(tx, connection_id, callback_id)
    if run is None:
        raise LookupError(f"no workflow run with callbackId {callback_id}")
    tx.connection.execute(
        update(table)
        .where(table.c.connection_id == connection_id, table.c.callback_id == callback_id)
        .values(hubspot_document_id=hubspot_id)
    )
    tx.append_activity(
        connection_id,
        object_type=OBJECT_TYPE,
        side=System.HUBSPOT,
        record_id=record_id_of(callback_id),
        direction="hubspot_to_qbo",
        operation="associate",
        outcome="succeeded",
        details={"invoice": hubspot_id, "enrolled": f"{run.object_type}/{run.object_id}"},
    )
