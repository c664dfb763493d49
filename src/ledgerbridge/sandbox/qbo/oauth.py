"""OAuth 2.0 as Intuit runs it: authorization code and refresh grants, rotating refresh tokens."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledgerbridge.sandbox.qbo.config import QboSandboxConfig

SCOPE = "com.intuit.quickbooks.accounting"


@dataclass
class _Grant:
    realm_id: str
    expires: datetime


@dataclass
class OAuthServer:
    """Issues and checks tokens. The static token (if set) is valid for every realm."""

    config: QboSandboxConfig
    codes: dict[str, tuple[_Grant, str]] = field(default_factory=dict)  # code -> grant, redirect
    access: dict[str, _Grant] = field(default_factory=dict)
    refresh: dict[str, _Grant] = field(default_factory=dict)

    def authorize(self, realm_id: str, redirect_uri: str, now: datetime) -> str:
        code = "AB" + secrets.token_urlsafe(24)
        self.codes[code] = (_Grant(realm_id, now + timedelta(minutes=10)), redirect_uri)
        return code

    def check_client(self, authorization: str | None, form: dict[str, str]) -> bool:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                raw = base64.b64decode(authorization[6:].strip()).decode()
            except (ValueError, UnicodeDecodeError):
                return False
            client_id, _, client_secret = raw.partition(":")
        return (
            client_id == self.config.oauth_client_id
            and client_secret == self.config.oauth_client_secret
        )

    def _issue(self, realm_id: str, now: datetime) -> dict[str, Any]:
        access_token = "eyJsandbox." + secrets.token_urlsafe(32)
        refresh_token = "RT1-" + secrets.token_urlsafe(24)
        self.access[access_token] = _Grant(
            realm_id, now + timedelta(seconds=self.config.access_token_ttl_seconds)
        )
        self.refresh[refresh_token] = _Grant(
            realm_id, now + timedelta(seconds=self.config.refresh_token_ttl_seconds)
        )
        return {
            "token_type": "bearer",
            "access_token": access_token,
            "expires_in": self.config.access_token_ttl_seconds,
            "refresh_token": refresh_token,
            "x_refresh_token_expires_in": self.config.refresh_token_ttl_seconds,
            "realmId": realm_id,
        }

    def exchange(self, form: dict[str, str], now: datetime) -> dict[str, Any] | None:
        """Token endpoint body for a valid grant; None means `invalid_grant`."""
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            entry = self.codes.pop(form.get("code", ""), None)  # single use
            if entry is None:
                return None
            grant, redirect_uri = entry
            if grant.expires <= now or form.get("redirect_uri", redirect_uri) != redirect_uri:
                return None
            return self._issue(grant.realm_id, now)
        if grant_type == "refresh_token":
            # Rotation: a refresh token is good once; the answer carries the next one.
            old = self.refresh.pop(form.get("refresh_token", ""), None)
            if old is None or old.expires <= now:
                return None
            return self._issue(old.realm_id, now)
        return None

    def revoke(self, token: str) -> None:
        self.access.pop(token, None)
        self.refresh.pop(token, None)

    def check_bearer(self, token: str, realm_id: str, now: datetime) -> str | None:
        """None when the token may act on the realm, else the reason (for the 401 detail)."""
        if self.config.static_token and secrets.compare_digest(token, self.config.static_token):
            return None
        grant = self.access.get(token)
        if grant is None:
            return "Token invalid"
        if grant.expires <= now:
            return "Token expired"
        if grant.realm_id != realm_id:
            return "Token not valid for this company"
        return None
