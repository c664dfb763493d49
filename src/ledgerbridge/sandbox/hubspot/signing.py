"""HubSpot request signatures (v1, v2 and v3) for calls the sandbox makes to apps."""

from __future__ import annotations

import base64
import hashlib
import hmac


def signature_v1(secret: str, body: str) -> str:
    return hashlib.sha256(f"{secret}{body}".encode()).hexdigest()


def signature_v2(secret: str, method: str, uri: str, body: str) -> str:
    return hashlib.sha256(f"{secret}{method}{uri}{body}".encode()).hexdigest()


def signature_v3(secret: str, method: str, uri: str, body: str, timestamp_ms: int) -> str:
    message = f"{method}{uri}{body}{timestamp_ms}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed_headers(
    secret: str, method: str, uri: str, body: str, timestamp_ms: int, legacy: str = "v1"
) -> dict[str, str]:
    """Headers HubSpot adds: a legacy signature (v1 for webhooks, v2 for workflow actions)
    and the v3 signature with its millisecond timestamp."""
    legacy_value = (
        signature_v1(secret, body) if legacy == "v1" else signature_v2(secret, method, uri, body)
    )
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature": legacy_value,
        "X-HubSpot-Signature-Version": legacy,
        "X-HubSpot-Signature-v3": signature_v3(secret, method, uri, body, timestamp_ms),
        "X-HubSpot-Request-Timestamp": str(timestamp_ms),
    }
