"""Per-realm throttles as QBO applies them: requests per minute, concurrency, batch per minute."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledgerbridge.sandbox.qbo.config import RateLimitSettings

WINDOW = timedelta(minutes=1)


@dataclass
class _RealmCounters:
    requests: deque[datetime] = field(default_factory=deque)
    batches: deque[datetime] = field(default_factory=deque)
    in_flight: int = 0


class RateLimiter:
    """Decides whether a request may run. Limits set to 0 are off."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self.settings = settings
        self._realms: dict[str, _RealmCounters] = {}

    def _counters(self, realm_id: str) -> _RealmCounters:
        return self._realms.setdefault(realm_id, _RealmCounters())

    @staticmethod
    def _trim(times: deque[datetime], now: datetime) -> None:
        while times and times[0] <= now - WINDOW:
            times.popleft()

    def admit(self, realm_id: str, now: datetime, *, batch: bool) -> bool:
        """Count the request; False means answer 429. On True, call `release` when done."""
        counters = self._counters(realm_id)
        limits = self.settings
        self._trim(counters.requests, now)
        self._trim(counters.batches, now)
        if limits.requests_per_minute and len(counters.requests) >= limits.requests_per_minute:
            return False
        if limits.concurrent and counters.in_flight >= limits.concurrent:
            return False
        if batch and limits.batch_per_minute and len(counters.batches) >= limits.batch_per_minute:
            return False
        counters.requests.append(now)
        if batch:
            counters.batches.append(now)
        counters.in_flight += 1
        return True

    def release(self, realm_id: str) -> None:
        counters = self._counters(realm_id)
        counters.in_flight = max(0, counters.in_flight - 1)

    def reset(self, realm_id: str | None = None) -> None:
        if realm_id is None:
            self._realms.clear()
        else:
            self._realms.pop(realm_id, None)
