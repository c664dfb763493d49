"""Connector plumbing shared by the HubSpot and QBO clients (tokens, OAuth, budgets)."""

from ledgerbridge.transport.budget import RateBudget, Window
from ledgerbridge.transport.http import parse_retry_after, send
from ledgerbridge.transport.oauth import (
    OAuthTokenManager,
    StaticToken,
    TokenProvider,
    exchange_code,
    parse_token_response,
)
from ledgerbridge.transport.retry import RetryPolicy, call_with_retries
from ledgerbridge.transport.tokens import MemoryTokenStore, TokenSet, TokenStore

__all__ = [
    "MemoryTokenStore",
    "OAuthTokenManager",
    "RateBudget",
    "RetryPolicy",
    "StaticToken",
    "TokenProvider",
    "TokenSet",
    "TokenStore",
    "Window",
    "call_with_retries",
    "exchange_code",
    "parse_retry_after",
    "parse_token_response",
    "send",
]
