"""Every knob of the HubSpot sandbox in one object (`HubSpotSandboxConfig`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Knobs that the admin API (`PATCH /_sandbox/config`) may change at run time.
RUNTIME_KNOBS: dict[str, type] = {
    "latency_ms": float,
    "fault_429_rate": float,
    "fault_500_rate": float,
    "timeout_after_commit_rate": float,
    "hang_seconds": float,
    "rate_limit_burst": int,
    "rate_limit_window_seconds": float,
    "rate_limit_daily": int,
    "search_rate_per_second": int,
    "webhook_target_url": str,
    "webhook_delivery_delay": float,
    "webhook_batch_size": int,
}


@dataclass
class HubSpotSandboxConfig:
    """Configuration of one emulated HubSpot portal and its (single) public app.

    Rates are probabilities in [0, 1]; limits of 0 switch the limit off.
    `clock` returns Unix seconds; tests inject a fake one to move time.
    """

    portal_id: int = 62515
    app_id: int = 100001
    static_token: str = "sandbox"
    oauth_client_id: str = "sandbox-client-id"
    oauth_client_secret: str = "sandbox-client-secret"
    # HubSpot signs webhooks and workflow-action calls with the app's client secret.
    app_client_secret: str = "sandbox-client-secret"
    access_token_ttl_seconds: int = 1800
    # Webhooks
    webhook_target_url: str | None = None
    webhook_delivery_delay: float = 0.0
    webhook_batch_size: int = 100
    webhook_retry_schedule: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
    webhook_timeout_seconds: float = 5.0
    # Rate limits (0 = off)
    rate_limit_burst: int = 190
    rate_limit_window_seconds: float = 10.0
    rate_limit_daily: int = 650_000
    search_rate_per_second: int = 4
    # Fault injection
    latency_ms: float = 0.0
    fault_429_rate: float = 0.0
    fault_500_rate: float = 0.0
    timeout_after_commit_rate: float = 0.0
    hang_seconds: float = 30.0
    random_seed: int | None = None
    # Data
    seed: int | None = None
    state_file: Path | None = None
    clock: Callable[[], float] = field(default=time.time)
    base_url: str = "http://127.0.0.1:8701"

    def runtime_knobs(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in RUNTIME_KNOBS}

    def apply_knobs(self, changes: dict[str, object]) -> list[str]:
        """Apply admin changes; return the names that are not runtime knobs (rejected)."""
        unknown = [name for name in changes if name not in RUNTIME_KNOBS]
        if unknown:
            return unknown
        for name, value in changes.items():
            kind = RUNTIME_KNOBS[name]
            if value is None:
                if name != "webhook_target_url":
                    return [name]
                setattr(self, name, None)
                continue
            if not isinstance(value, int | float | str) or isinstance(value, bool):
                return [name]
            setattr(self, name, kind(value))
        return []
