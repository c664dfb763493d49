"""Stable QBO `requestid`s derived from an operation's identity."""

from __future__ import annotations

import hashlib

MAX_REQUEST_ID = 50
MAX_BATCH_REQUEST_ID = 36


def request_id_for(*parts: str, length: int = MAX_BATCH_REQUEST_ID) -> str:
    """A stable requestid for an operation's identity: hex SHA-256 of the parts, truncated.

    Same parts → same id, so a retried write (even from a new process after a crash)
    is answered by QBO with the original response instead of being executed twice.
    36 hex characters (144 bits) fit both limits (50 for a request, 36 for a batch).
    """
    if not parts:
        raise ValueError("a request id needs at least one identifying part")
    if not 8 <= length <= MAX_REQUEST_ID:
        raise ValueError("request id length must be between 8 and 50")
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


def check_request_id(request_id: str, limit: int = MAX_REQUEST_ID) -> str:
    if not request_id or len(request_id) > limit:
        raise ValueError(f"a requestid must have 1 to {limit} characters")
    return request_id
