"""The QuickBooks Online connector: client, batch, change reader, faults, codecs, webhooks.

Nothing outside this package sees httpx or a QBO Fault: errors leave as the
`ledgerbridge.sync.errors` types (`faults.py` holds the one mapping table).
"""

from ledgerbridge.qbo.batch import BatchOp, BatchResult
from ledgerbridge.qbo.changes import ChangeSet, QboRecord, read_changes
from ledgerbridge.qbo.client import PRODUCTION_URL, SANDBOX_URL, QboClient, default_budgets
from ledgerbridge.qbo.ids import request_id_for
from ledgerbridge.qbo.webhooks import (
    EntityChange,
    WebhookPayloadError,
    parse_notifications,
    verify_intuit_signature,
)

__all__ = [
    "PRODUCTION_URL",
    "SANDBOX_URL",
    "BatchOp",
    "BatchResult",
    "ChangeSet",
    "EntityChange",
    "QboClient",
    "QboRecord",
    "WebhookPayloadError",
    "default_budgets",
    "parse_notifications",
    "read_changes",
    "request_id_for",
    "verify_intuit_signature",
]
