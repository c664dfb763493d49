"""Which HubSpot portal an access token belongs to (`ledgerbridge connect hubspot`)."""

from __future__ import annotations

import httpx

from ledgerbridge.hubspot.session import Session
from ledgerbridge.sync.errors import ErrorCategory, TerminalError
from ledgerbridge.transport.http import send
from ledgerbridge.transport.oauth import StaticToken


async def portal_id(http: httpx.AsyncClient, base_url: str, access_token: str) -> str:
    """The portal (hub) id of `access_token`: `GET /oauth/v1/access-tokens/{token}`, sent
    through the transport (retries, error classification) like every HubSpot call."""
    response = await send(
        http,
        "GET",
        f"{base_url.rstrip('/')}/oauth/v1/access-tokens/{access_token}",
        tokens=StaticToken(access_token),
        classify=Session.classify_response,
    )
    try:
        hub_id = response.json().get("hub_id")
    except (ValueError, AttributeError):
        hub_id = None
    if hub_id is None:
        raise TerminalError(
            ErrorCategory.UNKNOWN,
            f"HubSpot did not say which portal the token is for ({response.status_code})",
        )
    return str(hub_id)
