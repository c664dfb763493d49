"""Configuration of the QBO sandbox: realms and their company settings, and every knob."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_REALM = "1000000001"
DEFAULT_TOKEN = "sandbox"
# Intuit's documented webhook retry schedule: 10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h.
DEFAULT_RETRY_SCHEDULE = [10.0, 20.0, 30.0, 300.0, 1200.0, 7200.0, 14400.0, 21600.0]


@runtime_checkable
class Clock(Protocol):
    """Where the sandbox reads the time. Must return timezone-aware datetimes."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to (tests, demos of the 30-day CDC window...)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self._now = when

    def advance(self, seconds: float) -> None:
        self._now = self._now + timedelta(seconds=seconds)


class CompanySettings(BaseModel):
    """The QBO company settings that change API behaviour."""

    company_name: str = "Sandbox Company"
    country: str = "US"
    custom_txn_numbers: bool = False
    revenue_recognition: bool = False
    multi_currency: bool = False
    home_currency: str = "USD"
    # Names of the sales-form custom fields (String, at most 3: API-NOTES C8), in
    # Preferences.SalesFormsPrefs.CustomField as SalesCustomName1..3.
    custom_fields: list[str] = Field(default_factory=list, max_length=3)
    # Chart of accounts: (Name, AccountType, AccountSubType). None means the default chart.
    accounts: list[tuple[str, str, str]] | None = None


class WebhookSettings(BaseModel):
    url: str | None = None
    verifier_token: str = "sandbox-verifier"
    format: Literal["legacy", "cloudevents"] = "legacy"
    delay_seconds: float = 0.0
    batch_window_seconds: float = 0.0
    retry_schedule: list[float] = Field(default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE))
    timeout_seconds: float = 3.0


class RateLimitSettings(BaseModel):
    """Per-realm limits. 0 turns a limit off."""

    requests_per_minute: int = 500
    concurrent: int = 10
    batch_per_minute: int = 40
    json_429: bool = False  # the real API often answers 429 in XML even when JSON was asked


class FaultSettings(BaseModel):
    latency_seconds: float = 0.0
    rate_429: float = 0.0
    rate_500: float = 0.0
    timeout_after_commit_rate: float = 0.0
    hang_seconds: float = 30.0
    seed: int | None = 0


class QboSandboxConfig(BaseModel):
    """Everything the QBO sandbox can be told. `create_app(config)` serves it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    realms: dict[str, CompanySettings] = Field(
        default_factory=lambda: {DEFAULT_REALM: CompanySettings()}
    )
    static_token: str | None = DEFAULT_TOKEN
    oauth_client_id: str = "sandbox-client-id"
    oauth_client_secret: str = "sandbox-client-secret"
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_seconds: int = 8_726_400
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    state_file: Path | None = None
    seed: int | None = None  # fill each realm with a realistic company, seeded
    clock: Clock = Field(default_factory=SystemClock, exclude=True)

    def knobs(self) -> dict[str, object]:
        """The runtime knobs as JSON (what `GET /_sandbox/config` shows)."""
        return self.model_dump(mode="json", exclude={"clock", "oauth_client_secret"})
