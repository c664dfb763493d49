"""OAuth token sets: a plain value type shared by the transport (which refreshes them)
and the store (which keeps them encrypted). No HTTP here, so the store need not import
the transport."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TokenSet:
    """One OAuth 2.0 grant's tokens. Datetimes are timezone-aware UTC."""

    access_token: str
    refresh_token: str | None
    expires_at: dt.datetime
    refresh_expires_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        for value in (self.expires_at, self.refresh_expires_at):
            if value is not None and value.tzinfo is None:
                raise ValueError("token expiry times must be timezone-aware")

    def expires_within(self, margin: dt.timedelta, now: dt.datetime) -> bool:
        return self.expires_at - margin <= now

    def to_json(self) -> dict[str, str | None]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat(),
            "refresh_expires_at": (
                self.refresh_expires_at.isoformat() if self.refresh_expires_at else None
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> TokenSet:
        access, expires = data.get("access_token"), data.get("expires_at")
        if not access or not expires:
            raise ValueError("a token set needs access_token and expires_at")
        refresh_expires = data.get("refresh_expires_at")
        return cls(
            access_token=access,
            refresh_token=data.get("refresh_token"),
            expires_at=dt.datetime.fromisoformat(expires),
            refresh_expires_at=dt.datetime.fromisoformat(refresh_expires)
            if refresh_expires
            else None,
        )

    def __repr__(self) -> str:  # never print secrets
        return f"TokenSet(expires_at={self.expires_at.isoformat()}, refresh_token=***)"
